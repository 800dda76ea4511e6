/**
 * Runtime loading of DAG files: import each `.ts` file of the DAGs folder,
 * check its default export is a DAG and validate it. A broken file never hides
 * the others; its problems are reported together.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDag } from '../authoring/dag.ts';
import { InputError, toError } from '../errors.ts';
import { resolveGraph, validateDag, type DagGraph } from './graph.ts';

export interface LoadedDags {
  dags: Map<string, DagGraph>;
  /** file → problems, for files that could not be loaded or validated. */
  broken: Map<string, string[]>;
}

/** DAG files of a folder: `*.ts` (not `.d.ts`, not `_`-prefixed helpers), sorted, recursively. */
export function listDagFiles(folder: string): string[] {
  if (!fs.existsSync(folder)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const name = entry.name;
    if (!name.endsWith('.ts') || name.endsWith('.d.ts') || name.startsWith('_') || name.endsWith('.test.ts')) continue;
    const dir = (entry as { parentPath?: string }).parentPath ?? folder;
    if (dir.split(path.sep).some((part) => part === 'node_modules' || part.startsWith('.'))) continue;
    out.push(path.join(dir, name));
  }
  return out.sort();
}

/** Import one DAG file and validate it. Throws InputError listing every problem. */
export async function loadDagFile(file: string): Promise<DagGraph> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path.resolve(file)).href)) as Record<string, unknown>;
  } catch (err) {
    const e = toError(err);
    const firstLine = e.message.split('\n').find((l) => l.trim()) ?? e.name;
    throw new InputError('dag_import', `${file}: cannot import: ${firstLine}`, { cause: e });
  }
  const candidate = mod.default;
  if (!isDag(candidate)) throw new InputError('dag_export', `${file}: the default export is not a DAG; end the file with \`export default d\` where d = dag({...})`);
  const problems = validateDag(candidate, file);
  if (problems.length) throw new InputError('dag_invalid', problems.join('\n'));
  return resolveGraph(candidate, file);
}

/** Load every DAG of a folder. Duplicate DAG ids across files mark both files broken. */
export async function loadDagsFolder(folder: string): Promise<LoadedDags> {
  const dags = new Map<string, DagGraph>();
  const broken = new Map<string, string[]>();
  const seen = new Map<string, string>();
  for (const file of listDagFiles(folder)) {
    try {
      const graph = await loadDagFile(file);
      const other = seen.get(graph.dag.id);
      if (other) {
        broken.set(file, [`${file}: DAG id "${graph.dag.id}" is already defined in ${other}`]);
        continue;
      }
      seen.set(graph.dag.id, file);
      dags.set(graph.dag.id, graph);
    } catch (err) {
      const e = toError(err);
      broken.set(file, e.message.split('\n'));
    }
  }
  return { dags, broken };
}

/** Find one DAG by id, with a message naming the known ids when it is missing (exit 2). */
export function requireDag(loaded: LoadedDags, dagId: string): DagGraph {
  const graph = loaded.dags.get(dagId);
  if (graph) return graph;
  const brokenHere = [...loaded.broken.values()].flat().find((p) => p.includes(`"${dagId}"`));
  if (brokenHere) throw new InputError('dag_broken', `DAG "${dagId}" is broken: ${brokenHere}`);
  throw unknownDag(dagId, [...loaded.dags.keys()], [...loaded.broken.keys()]);
}

/**
 * The one-line "unknown DAG" error (exit 2): the known ids, and the files that
 * failed to load, since the DAG asked for may be in one of them.
 */
export function unknownDag(dagId: string, known: readonly string[], brokenFiles: readonly string[] = []): InputError {
  const ids = known.length ? `; known DAGs: ${[...known].sort().join(', ')}` : '; no DAGs found in the DAGs folder';
  const files = brokenFiles.map((f) => path.basename(f)).sort();
  const broken = files.length ? `; ${files.length} DAG file(s) failed to load (${files.join(', ')}): see \`weir dags list\`` : '';
  return new InputError('unknown_dag', `unknown DAG "${dagId}"${ids}${broken}`);
}
