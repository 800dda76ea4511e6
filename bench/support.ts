/**
 * What the benchmark's parts share: percentiles, a fresh database, and the worker
 * process they measure (the documented `node bin/weir.js worker`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
/** Slots of the benchmark's worker (WEIR_BENCH_CONCURRENCY). Default 64. */
export const BENCH_CONCURRENCY = Number(process.env.WEIR_BENCH_CONCURRENCY ?? 64);

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}
export async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A `weir worker` on `url`, loading the benchmark's DAGs (or `options.dagsFolder`), with `options.env` added. */
export function startWorker(url: string, concurrency = BENCH_CONCURRENCY, options: { dagsFolder?: string; env?: Record<string, string> } = {}): Promise<ChildProcess> {
  // The documented production command for a worker (`node bin/weir.js worker`), with node flags to try (WEIR_BENCH_NODE_FLAGS).
  const nodeFlags = (process.env.WEIR_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, path.join(root, 'bin/weir.js'), 'worker', '--concurrency', String(concurrency)], {
    env: { ...process.env, WEIR_DATABASE_URL: url, WEIR_DAGS_FOLDER: options.dagsFolder ?? path.join(here, 'dags'), WEIR_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (process.env.WEIR_BENCH_DEBUG) process.stderr.write(d);
      if (buf.includes('worker started')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`worker exited early (${code}): ${buf}`)));
  });
}

export async function stopWorker(worker: ChildProcess): Promise<void> {
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
}

