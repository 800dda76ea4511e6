/**
 * Static DAG discovery (issue 5): list every DAG of a folder, with its graph,
 * schedule and params, and every problem with file:line:column — without
 * executing user code. Files the static reading cannot be sure of are loaded
 * one by one in a child process with a timeout (isolated-load.ts).
 *
 * Cost model, measured on 500 small files: importing ts-morph ~0.4 s, parsing
 * ~0.3 s, type-checking ~1.5 s. So results are cached by content under
 * `${WEIR_HOME}/cache/discovery/`, and ts-morph is imported only on a miss.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listDagFiles } from '../loader/loader.ts';
import { contentKey, DiscoveryCache } from './cache.ts';
import { ISOLATED_LOAD_TIMEOUT_MS, loadDagIsolated, type IsolatedDag, type IsolatedFailure } from './isolated-load.ts';
import type { FileReading } from './static-reader.ts';
import type { DagRecord, DiscoveryDiagnostic, DiscoveryResult, FileReport } from './types.ts';

export interface DiscoverOptions {
  /** Where the cache index lives. Default `${WEIR_HOME:-./.weir}/cache/discovery`. */
  cacheDir?: string;
  /** Use and update the cache. Default true. */
  cache?: boolean;
  /** Also report TypeScript type errors (slow: seconds per 500 files, so cached per file too). Default false. */
  typeCheck?: boolean;
  /** Load files the static reading is unsure of in a child process. Default true. */
  runtimeFallback?: boolean;
  /** Time one fallback child gets to import its file. Default 10 000 ms. */
  isolatedLoadTimeoutMs?: number;
}

/** Result of `validateDags`: `ok` is false when any DAG file is broken. */
export interface ValidationResult {
  ok: boolean;
  errors: DiscoveryDiagnostic[];
  result: DiscoveryResult;
}

/** The default cache folder for a WEIR_HOME (the CLI passes `config.home`). */
export function defaultCacheDir(home = process.env.WEIR_HOME || '.weir'): string {
  return path.resolve(home, 'cache', 'discovery');
}

/** How many fallback children may run at once; each is a Node process with tsx. */
const FALLBACK_CONCURRENCY = 4;

/**
 * Discover every DAG file of `folder` (the files `listDagFiles` selects).
 * Never throws for a broken DAG file: problems come back in the result.
 */
export async function discoverDags(folder: string, options: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const root = path.resolve(folder);
  const useCache = options.cache ?? true;
  const typeCheck = options.typeCheck ?? false;
  const cache = useCache ? DiscoveryCache.open(options.cacheDir ?? defaultCacheDir()) : undefined;

  const sources = listDagFiles(root).map((file) => {
    const text = fs.readFileSync(file, 'utf8');
    return { file, text, key: contentKey(file, text) };
  });
  const reports = new Map<string, FileReport>();
  const misses = sources.filter((s) => {
    const hit = cache?.get(s.key);
    if (hit) reports.set(s.file, hit);
    return !hit;
  });
  // Type errors are cached apart from the static reading, keyed also by the local files each
  // DAG file imports (weir's own API is covered by the weir version in the cache).
  const typeErrors = new Map<string, DiscoveryDiagnostic[]>();
  if (!typeCheck) for (const s of sources) cache?.keep(typeKey(s.key));
  const typeMisses = !typeCheck ? [] : sources.filter((s) => {
    const hit = cache?.get(typeKey(s.key));
    if (hit) typeErrors.set(s.file, hit.errors);
    return !hit;
  });

  const toRead = [...new Set([...misses, ...typeMisses])];
  if (toRead.length) {
    const { readPrograms, resolveRelativeImports } = await import('./program-reader.ts');
    const read = await readPrograms(toRead, { typeCheck: typeMisses.length > 0 });
    const missed = new Set(misses);
    const readings = read.readings.filter((_, i) => missed.has(toRead[i]!));
    const fallbacks = await runFallbacks(readings, options);
    read.readings.forEach((reading, i) => {
      const source = toRead[i]!;
      const typed = read.typeErrors.get(reading.file);
      if (typed) {
        typeErrors.set(reading.file, typed);
        cache?.set(typeKey(source.key), { file: reading.file, dag: null, errors: typed }, read.localImports.get(reading.file) ?? []);
      }
      if (!missed.has(source)) return;
      const report = toReport(reading, fallbacks.get(reading.file));
      reports.set(reading.file, report);
      const deps = fallbacks.has(reading.file) ? resolveRelativeImports(reading.file, reading.relativeImports) : [];
      cache?.set(source.key, report, deps);
    });
  }
  cache?.save();

  // Cached reports are shared with the cache object: copy before adding run-specific errors.
  const files = sources.map((s) => structuredClone(reports.get(s.file)!));
  for (const f of files) {
    const extra = typeErrors.get(f.file) ?? [];
    if (f.dag) f.dag.errors.push(...extra);
    else f.errors.push(...extra);
  }
  markDuplicateDagIds(files);

  const dags = files.flatMap((f) => (f.dag ? [f.dag] : []));
  const broken = files.filter((f) => !f.dag && f.errors.length).map((f) => ({ file: f.file, errors: f.errors }));
  const errors = files.flatMap((f) => [...f.errors, ...(f.dag?.errors ?? [])]).sort(byPosition);
  return { folder: root, dags, broken, errors, cache: { hits: sources.length - misses.length, misses: misses.length } };
}

/**
 * `weir dags validate`: discovery plus TypeScript's pre-emit diagnostics for the
 * DAG files and the local files they import. `ok` false means exit code 1.
 */
export async function validateDags(folder: string, options: DiscoverOptions = {}): Promise<ValidationResult> {
  const result = await discoverDags(folder, { ...options, typeCheck: true });
  return { ok: result.errors.length === 0, errors: result.errors, result };
}

async function runFallbacks(readings: readonly FileReading[], options: DiscoverOptions): Promise<Map<string, IsolatedDag | IsolatedFailure>> {
  const out = new Map<string, IsolatedDag | IsolatedFailure>();
  if (options.runtimeFallback === false) return out;
  const queue = readings.filter((r) => r.uncertain.length && !r.errors.length);
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) out.set(r.file, await loadDagIsolated(r.file, options.isolatedLoadTimeoutMs ?? ISOLATED_LOAD_TIMEOUT_MS));
  };
  await Promise.all(Array.from({ length: Math.min(FALLBACK_CONCURRENCY, queue.length) }, worker));
  return out;
}

/** Static reading plus, for uncertain files, what the runtime said. */
function toReport(reading: FileReading, loaded: IsolatedDag | IsolatedFailure | undefined): FileReport {
  const report: FileReport = { file: reading.file, dag: reading.dag, errors: reading.errors };
  const at = reading.dag ?? reading.uncertainSites[0] ?? { line: 1, column: 1 };
  if (!loaded) {
    if (!reading.dag && reading.uncertain.length) {
      report.errors.push({ file: reading.file, ...pos(at), code: 'runtime_load', message: `cannot read the DAG statically (${reading.uncertain.join('; ')}) and the runtime fallback is off` });
    }
    return report;
  }
  if (!loaded.ok) {
    const problems = loaded.problems.map((p): DiscoveryDiagnostic => {
      // "x is not defined" for a name written in an upstream list: placed where it is written.
      const unknown = /\b([A-Za-z_$][\w$]*) is not defined$/.exec(p)?.[1];
      const where = unknown !== undefined && Object.hasOwn(reading.unknownNames, unknown) ? reading.unknownNames[unknown]! : at;
      return {
        file: reading.file, ...pos(where), code: 'runtime_load', message: p.startsWith(`${reading.file}: `) ? p.slice(reading.file.length + 2) : p,
        ...(reading.dag ? { dagId: reading.dag.dagId } : {}),
      };
    });
    if (reading.dag) reading.dag.errors.push(...problems);
    else report.errors.push(...problems);
    return report;
  }
  const staticTasks = new Map((reading.dag?.tasks ?? []).map((t) => [t.id, t]));
  const site = reading.uncertainSites[0] ?? pos(at);
  const tasks = loaded.tasks.map((t) => ({ ...t, ...pos(staticTasks.get(t.id) ?? site) }));
  const dag: DagRecord = {
    dagId: loaded.dagId,
    file: reading.file,
    ...pos(at),
    description: loaded.description,
    schedule: loaded.schedule,
    timezone: loaded.timezone,
    tags: loaded.tags,
    owner: loaded.owner,
    catchup: loaded.catchup,
    maxActiveRuns: loaded.maxActiveRuns,
    startDate: loaded.startDate,
    trigger: loaded.trigger ?? null,
    // zod schemas are not introspected at runtime here; the static reading of params still holds.
    params: reading.dag?.params ?? null,
    tasks,
    edges: tasks.flatMap((t) => t.upstream.map((u): [string, string] => [u, t.id])),
    uncertain: reading.uncertain,
    source: 'runtime',
    // The runtime validated the DAG; only the rules it cannot see (literal ids) remain.
    errors: (reading.dag?.errors ?? []).filter((e) => e.code === 'non_literal_id'),
  };
  return { file: reading.file, dag, errors: [] };
}

/** Cache key of a file's type errors, next to its static reading's key. */
const typeKey = (key: string) => `types:${key}`;

function pos(p: { line: number; column: number }) {
  return { line: p.line, column: p.column };
}

/** Two files declaring one DAG id: both are reported, since which one would run depends on file order. */
function markDuplicateDagIds(files: FileReport[]): void {
  const byId = new Map<string, FileReport[]>();
  for (const f of files) if (f.dag) byId.set(f.dag.dagId, [...(byId.get(f.dag.dagId) ?? []), f]);
  for (const [id, group] of byId) {
    if (group.length < 2) continue;
    for (const f of group) {
      const others = group.filter((g) => g !== f).map((g) => `${g.file}:${g.dag!.line}:${g.dag!.column}`);
      f.dag!.errors.push({ file: f.file, ...pos(f.dag!), code: 'duplicate_dag_id', dagId: id, message: `DAG id "${id}" is also declared in ${others.join(', ')}; DAG ids must be unique across the DAGs folder` });
    }
  }
}

function byPosition(a: DiscoveryDiagnostic, b: DiscoveryDiagnostic): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
}
