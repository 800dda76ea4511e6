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


/**
 * One of the repository's pipelines (dags/) on a fresh database with one `weir worker`
 * (4 slots, the warehouse in the same database): what bench/sales.ts and bench/events.ts
 * share. `run` creates a manual run and waits for its end, failing on anything but success.
 */
export async function pipelineBench(adminUrl: string, name: string, env: Record<string, string> = {}) {
  const [{ openDatabaseUrl }, { startBoss }, { loadDagsFolder }, { createRun }, { validateParams }, fs] = await Promise.all([
    import('../runtime/database/connect.ts'), import('../runtime/queue.ts'), import('../runtime/loader/loader.ts'),
    import('../runtime/engine/runs.ts'), import('../runtime/engine/params.ts'), import('node:fs'),
  ]);
  const url = await freshDatabase(adminUrl, name);
  const db = await openDatabaseUrl(url, { migrate: true });
  const boss = await startBoss(url, { supervise: false });
  fs.mkdirSync(path.join(here, 'tmp'), { recursive: true });
  const home = fs.mkdtempSync(path.join(here, 'tmp', `${name}-home-`));
  const worker = await startWorker(url, 4, { dagsFolder: path.join(root, 'dags'), env: { WEIR_HOME: home, WEIR_CONN_WAREHOUSE: url, ...env } });
  const dags = await loadDagsFolder(path.join(root, 'dags'));
  const engine = { pool: db.pool, boss, alertRetryDelayS: 5 };
  return {
    pool: db.pool,
    /** The worker's WEIR_HOME (its secrets key lives there). */
    home,
    /** The worker's peak resident memory so far (VmHWM), in MB: what a task's code held at most. */
    workerPeakRssMb(): number {
      const status = fs.readFileSync(`/proc/${worker.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
    },
    async run(dagId: string, conf: Record<string, unknown>, interval?: { start: Date; end: Date }): Promise<{ runId: string; startedAt: Date; ms: number }> {
      const graph = dags.dags.get(dagId)!;
      const at = new Date();
      const { start, end } = interval ?? { start: at, end: at };
      const created = await createRun(engine, graph, { runType: 'manual', conf: validateParams(graph.dag, conf), logicalDate: start, dataIntervalStart: start, dataIntervalEnd: end });
      const runId = created!.runId;
      let state = 'queued';
      while (state !== 'success' && state !== 'failed') {
        await new Promise((r) => setTimeout(r, 100));
        state = (await db.pool.query<{ state: string }>('SELECT state FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0]!.state;
      }
      if (state !== 'success') throw new Error(`${dagId} run ${runId} ended ${state}`);
      return { runId, startedAt: at, ms: Date.now() - at.getTime() };
    },
    async close(): Promise<void> {
      await stopWorker(worker);
      await boss.stop({ graceful: false, close: true });
      await db.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** `node --import tsx bench/<part>.ts`: one part alone, on the embedded PostgreSQL, its JSON on stdout. */
export async function runPartAlone(moduleUrl: string, part: (adminUrl: string, log: (m: string) => void) => Promise<Record<string, number>>): Promise<void> {
  if (!process.argv[1] || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  const { ensureEmbeddedPostgres } = await import('../runtime/database/embedded.ts');
  const { url } = await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'));
  process.stdout.write(`${JSON.stringify(await part(url, (m) => process.stderr.write(`[bench] ${m}\n`)))}\n`);
}
