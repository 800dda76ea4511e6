/**
 * Runtime loading of DAG files: import each `.ts` file of the DAGs folder,
 * check its default export is a DAG and validate it. A broken file never hides
 * the others; its problems are reported together.
 */
import crypto from 'node:crypto';
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
  /** The folder these were loaded from (undefined for DAGs built in code). */
  folder?: string;
  /** file → content hash of what was loaded (valid or broken), so a re-scan loads only what changed. */
  hashes?: Map<string, string>;
}

/** Content hash of a DAG file: what runs record (`dag_hash`) and what a re-scan compares. */
export function hashDagSource(source: string | Buffer): string {
  return crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
}

/**
 * The URL a DAG file is imported from: the file's URL with its content hash as the
 * query, so an edited file is a new module (ES modules are cached by URL and cannot
 * be unloaded: each version loaded stays in memory until the process restarts).
 */
export function dagModuleUrl(file: string, hash: string): string {
  return `${pathToFileURL(path.resolve(file)).href}?v=${hash}`;
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
    // Hidden and node_modules folders inside the DAGs folder are skipped; the folder itself may be anywhere.
    const inside = path.relative(folder, dir);
    if (inside && inside.split(path.sep).some((part) => part === 'node_modules' || part.startsWith('.'))) continue;
    out.push(path.join(dir, name));
  }
  return out.sort();
}

/**
 * One line for an import error: its first line, or for a transform error of tsx/esbuild
 * ("Transform failed with 1 error:") the error it names on the next line, with its place.
 */
function importErrorLine(e: Error): string {
  const lines = e.message.split('\n').map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return e.name;
  return /^Transform failed with \d+ errors?:?$/.test(lines[0]!) && lines[1] ? lines[1] : lines[0]!;
}

/** Import one DAG file and validate it. Throws InputError listing every problem. */
export async function loadDagFile(file: string, source: { hash?: string; folder?: string } = {}): Promise<DagGraph> {
  const hash = source.hash ?? hashDagSource(fs.readFileSync(file));
  const relativeFile = source.folder ? path.relative(source.folder, file) : path.basename(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(dagModuleUrl(file, hash))) as Record<string, unknown>;
  } catch (err) {
    const e = toError(err);
    throw new InputError('dag_import', `${file}: cannot import: ${importErrorLine(e)}`, { cause: e });
  }
  const candidate = mod.default;
  if (!isDag(candidate)) throw new InputError('dag_export', `${file}: the default export is not a DAG; end the file with \`export default d\` where d = dag({...})`);
  const problems = validateDag(candidate, file);
  if (problems.length) throw new InputError('dag_invalid', problems.join('\n'));
  return resolveGraph(candidate, file, { hash, relativeFile });
}

/** Load every DAG of a folder. Duplicate DAG ids across files mark both files broken. */
export async function loadDagsFolder(folder: string): Promise<LoadedDags> {
  return (await rescanDagsFolder({ dags: new Map(), broken: new Map(), folder, hashes: new Map() })).loaded;
}

/**
 * Bring `previous` up to date with its folder, in place: files whose content hash
 * changed (or that are new) are imported again, removed files drop their DAGs,
 * unchanged files keep their graphs. Returns whether anything changed.
 */
export async function rescanDagsFolder(previous: LoadedDags): Promise<{ loaded: LoadedDags; changed: string[] }> {
  const folder = previous.folder!;
  const hashes = (previous.hashes ??= new Map());
  const changed: string[] = [];
  const current = new Map<string, string>();
  for (const file of listDagFiles(folder)) {
    try {
      current.set(file, hashDagSource(fs.readFileSync(file)));
    } catch {
      // Removed between listing and reading: gone.
    }
  }
  for (const file of hashes.keys()) if (!current.has(file)) changed.push(file);
  for (const [file, hash] of current) if (hashes.get(file) !== hash) changed.push(file);
  if (!changed.length) return { loaded: previous, changed };
  // A file rejected only for a duplicate id may be valid now that another file changed.
  const load = new Set(changed);
  for (const [file, problems] of previous.broken) if (current.has(file) && problems.some((p) => p.includes('is already defined in'))) load.add(file);
  // Graphs of unchanged files are kept; changed ones are loaded again; then duplicate ids are settled in file order.
  const byFile = new Map<string, DagGraph>();
  for (const g of previous.dags.values()) if (current.get(g.file) === hashes.get(g.file)) byFile.set(g.file, g);
  const broken = new Map<string, string[]>();
  for (const [file, problems] of previous.broken) if (current.has(file) && current.get(file) === hashes.get(file) && !problems.some((p) => p.includes('is already defined in'))) broken.set(file, problems);
  for (const file of load) {
    if (!current.has(file)) continue;
    try {
      byFile.set(file, await loadDagFile(file, { hash: current.get(file), folder }));
    } catch (err) {
      broken.set(file, toError(err).message.split('\n'));
    }
  }
  const dags = new Map<string, DagGraph>();
  const seen = new Map<string, string>();
  for (const file of [...current.keys()].sort()) {
    const graph = byFile.get(file);
    if (!graph) continue;
    const other = seen.get(graph.dag.id);
    if (other) {
      broken.set(file, [`${file}: DAG id "${graph.dag.id}" is already defined in ${other}`]);
      continue;
    }
    seen.set(graph.dag.id, file);
    dags.set(graph.dag.id, graph);
  }
  // In place: every holder of this object (worker, reaper, scheduler) sees the new DAGs.
  previous.dags.clear();
  for (const [id, g] of dags) previous.dags.set(id, g);
  previous.broken.clear();
  for (const [f, p] of broken) previous.broken.set(f, p);
  hashes.clear();
  for (const [f, h] of current) hashes.set(f, h);
  return { loaded: previous, changed };
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
