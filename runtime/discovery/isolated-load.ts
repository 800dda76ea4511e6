/**
 * The runtime fallback of discovery: when static reading cannot be sure of a
 * DAG (tasks built in a loop, computed options), load that one file in a child
 * process with a timeout, as the engine would, and take its graph from there.
 * A hanging or crashing DAG file costs one child, never the caller.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DagRecord } from './types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'isolated-load-child.ts');
const MARKER = 'WEIR_ISOLATED_LOAD ';

/** A DAG as the runtime built it (the subset discovery reports). */
export type IsolatedDag = { ok: true; tasks: Array<{ id: string; upstream: string[]; triggerRule: string; retries: number }> } & Pick<
  DagRecord,
  'dagId' | 'description' | 'schedule' | 'timezone' | 'tags' | 'owner' | 'catchup' | 'maxActiveRuns' | 'startDate' | 'trigger'
>;
/** Why loading failed: the loader's problem lines, a crash, or the timeout. */
export interface IsolatedFailure {
  ok: false;
  problems: string[];
}

/** Default time a DAG file gets to import in the fallback child. */
export const ISOLATED_LOAD_TIMEOUT_MS = 10_000;

/**
 * Import `file` in a fresh `node --import tsx` process and return its graph.
 * Never throws: failures come back as `{ ok: false, problems }`.
 */
export function loadDagIsolated(file: string, timeoutMs = ISOLATED_LOAD_TIMEOUT_MS): Promise<IsolatedDag | IsolatedFailure> {
  // Resolved from weir's own node_modules: the DAG folder need not install tsx.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsx, CHILD, path.resolve(file)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, problems: [`${file}: loading the file took longer than ${timeoutMs} ms (its top-level code must only declare the DAG)`] });
      const line = out.split('\n').reverse().find((l) => l.startsWith(MARKER));
      if (line) return resolve(JSON.parse(line.slice(MARKER.length)) as IsolatedDag | IsolatedFailure);
      const last = err.split('\n').filter((l) => l.trim()).slice(-1)[0] ?? '';
      resolve({ ok: false, problems: [`${file}: loading the file failed (${signal ?? `exit code ${code}`})${last ? `: ${last}` : ''}`] });
    });
  });
}
