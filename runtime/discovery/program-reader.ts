/**
 * The ts-morph side of discovery, imported only when some file is not cached:
 * parses DAG files into one ts-morph Project, reads each with static-reader.ts
 * and, for `weir dags validate`, collects TypeScript's pre-emit diagnostics.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ts as TsNamespace } from 'ts-morph';
import { PUBLIC_SPECIFIERS, WEIR_ROOT } from '../package/manifest.mjs';
import { readDagFile, type FileReading } from './static-reader.ts';
import type { DiscoveryDiagnostic } from './types.ts';

/** weir's public specifiers as compiler paths: they mean weir's own files from any folder, as at runtime. */
const WEIR_PATHS = Object.fromEntries(PUBLIC_SPECIFIERS.map(([specifier, file]) => [specifier, [file]]));

/**
 * The folder holding @types/node as weir's install sees it: weir's own node_modules
 * in a checkout, the project's (hoisted) node_modules when weir is a dependency.
 */
function typesRoot(): string {
  const nodeTypes = createRequire(path.join(WEIR_ROOT, 'package.json')).resolve('@types/node/package.json');
  return path.dirname(path.dirname(nodeTypes));
}

export interface SourceText {
  file: string;
  text: string;
}

export interface ProgramReading {
  readings: FileReading[];
  /** file → type errors in that DAG file or a local file it imports (reported against the DAG file's own list). */
  typeErrors: Map<string, DiscoveryDiagnostic[]>;
  /** file → the user's own files it imports, transitively (their changes change its type errors). */
  localImports: Map<string, string[]>;
}

/**
 * Read `sources` statically. With `typeCheck`, also type-check them and the
 * local files they import, against weir's own API wherever the files live.
 */
export async function readPrograms(sources: readonly SourceText[], options: { typeCheck: boolean }): Promise<ProgramReading> {
  const tsm = await import('ts-morph');
  const ts = tsm.ts;
  const project = options.typeCheck
    ? new tsm.Project({
        skipAddingFilesFromTsConfig: true,
        compilerOptions: {
          target: ts.ScriptTarget.ES2023,
          lib: ['lib.es2023.d.ts'],
          // DAG files run as ES modules wherever they live (the resolve hook forces it), so
          // type-check them as such rather than by the nearest package.json's "type".
          module: ts.ModuleKind.Preserve,
          moduleResolution: ts.ModuleResolutionKind.Bundler,
          moduleDetection: ts.ModuleDetectionKind.Force,
          paths: WEIR_PATHS,
          // Node's types come from weir's install, so DAG folders need no node_modules.
          typeRoots: [typesRoot()],
          types: ['node'],
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          esModuleInterop: true,
          skipLibCheck: true,
          resolveJsonModule: true,
        },
      })
    : // Listing needs syntax only: no lib files, no import resolution, no checker.
      new tsm.Project({
        useInMemoryFileSystem: false,
        skipAddingFilesFromTsConfig: true,
        skipLoadingLibFiles: true,
        skipFileDependencyResolution: true,
        compilerOptions: { noLib: true, noResolve: true, types: [], target: ts.ScriptTarget.ES2023 },
      });

  const sourceFiles = sources.map((s) => project.createSourceFile(s.file, s.text, { overwrite: true }));
  if (options.typeCheck) project.resolveSourceFileDependencies();
  const program = project.getProgram().compilerObject;

  const readings = sourceFiles.map((sf, i) => {
    const syntax = program.getSyntacticDiagnostics(sf.compilerNode);
    return readDagFile(ts, sf.compilerNode, sources[i]!.file, syntax);
  });
  const typeErrors = new Map<string, DiscoveryDiagnostic[]>();
  const localImports = new Map<string, string[]>();
  if (options.typeCheck) {
    sources.forEach((s, i) => {
      const closure = localClosure(ts, program, sourceFiles[i]!.compilerNode);
      localImports.set(s.file, closure.slice(1).map((f) => path.normalize(f.fileName)));
      // A file with syntax errors already reports them; its type errors would only echo them.
      typeErrors.set(s.file, readings[i]!.errors.some((e) => e.code === 'syntax_error') ? [] : typeDiagnostics(ts, program, closure));
    });
  }
  return { readings, typeErrors, localImports };
}

function typeDiagnostics(ts: typeof TsNamespace, program: TsNamespace.Program, closure: readonly TsNamespace.SourceFile[]): DiscoveryDiagnostic[] {
  const out: DiscoveryDiagnostic[] = [];
  const root = closure[0]!;
  for (const sf of closure) {
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    for (const d of diags) {
      if (d.category !== ts.DiagnosticCategory.Error) continue;
      const lc = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
      const file = d.file ? path.normalize(d.file.fileName) : root.fileName;
      out.push({ file, line: lc.line + 1, column: lc.character + 1, code: 'type_error', message: `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` });
    }
  }
  return out;
}

/** The DAG file and the user's own files it imports, transitively (not node_modules, not weir itself). */
function localClosure(ts: typeof TsNamespace, program: TsNamespace.Program, root: TsNamespace.SourceFile): TsNamespace.SourceFile[] {
  const seen = new Set<string>([root.fileName]);
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    const sf = out[i]!;
    for (const stmt of sf.statements) {
      if (!(ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) || !stmt.moduleSpecifier || !ts.isStringLiteral(stmt.moduleSpecifier)) continue;
      if (!stmt.moduleSpecifier.text.startsWith('.')) continue;
      const resolved = ts.resolveModuleName(stmt.moduleSpecifier.text, sf.fileName, program.getCompilerOptions(), ts.sys).resolvedModule;
      const target = resolved && program.getSourceFile(resolved.resolvedFileName);
      if (!target || seen.has(target.fileName) || target.fileName.includes('/node_modules/') || target.fileName.startsWith(`${WEIR_ROOT}/runtime/`)) continue;
      seen.add(target.fileName);
      out.push(target);
    }
  }
  return out;
}

/** Resolve the relative import specifiers of a file to existing paths (for cache invalidation). */
export function resolveRelativeImports(file: string, specifiers: readonly string[]): string[] {
  const out: string[] = [];
  for (const spec of specifiers) {
    const base = path.resolve(path.dirname(file), spec);
    const candidates = [base, base.replace(/\.m?js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
    const hit = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
    if (hit) out.push(hit);
  }
  return out;
}
