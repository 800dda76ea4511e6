/**
 * The every-three-minutes ingestion at its target rate (issue 18): 1,000 messages a second
 * through 3-minute runs of events_every_3_min for 15 simulated minutes (5 runs × 180,000
 * messages), one `weir worker`, the Pub/Sub stand-in delivering 1 % duplicates, the
 * warehouse in the embedded PostgreSQL. The clock of the source is simulated: each
 * interval's messages are stamped over its 3 minutes and published at once, and its run
 * starts when the interval ends. Lag from publish to readable =
 * (interval end − publish time, simulated) + (the message's commit − the run's start, real).
 * `node --import tsx bench/events.ts` runs it alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEmbeddedPostgres } from '../runtime/database/embedded.ts';
import { openDatabaseUrl } from '../runtime/database/connect.ts';
import { startBoss } from '../runtime/queue.ts';
import { loadDagsFolder } from '../runtime/loader/loader.ts';
import { createRun } from '../runtime/engine/runs.ts';
import { validateParams } from '../runtime/engine/params.ts';
import { startPubSubServer } from '../runtime/dev/pubsub-server.ts';
import { freshDatabase, startWorker, stopWorker } from './support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const PER_SECOND = 1000;
const INTERVAL_MS = 3 * 60_000;
const RUNS = 5;

export async function benchEvents(adminUrl: string, log: (m: string) => void): Promise<Record<string, number>> {
  const url = await freshDatabase(adminUrl, 'weir_bench_events');
  const db = await openDatabaseUrl(url, { migrate: true });
  const boss = await startBoss(url, { supervise: false });
  const pubsub = await startPubSubServer({ ackDeadlineMs: 120_000, duplicateRate: 0.01 });
  fs.mkdirSync(path.join(here, 'tmp'), { recursive: true });
  const home = fs.mkdtempSync(path.join(here, 'tmp', 'events-home-'));
  const worker = await startWorker(url, 4, { dagsFolder: path.join(root, 'dags'), env: { WEIR_HOME: home, WEIR_CONN_WAREHOUSE: url, EVENTS_PUBSUB_URL: pubsub.url } });
  const results: Record<string, number> = {};
  try {
    const graph = (await loadDagsFolder(path.join(root, 'dags'))).dags.get('events_every_3_min')!;
    const engine = { pool: db.pool, boss, alertRetryDelayS: 5 };
    const perInterval = (PER_SECOND * INTERVAL_MS) / 1000;
    const t0 = Date.parse('2026-06-01T12:00:00Z');
    const durations: number[] = [];
    for (let k = 0; k < RUNS; k++) {
      const start = t0 + k * INTERVAL_MS;
      pubsub.publish(perInterval, (i) => new Date(start + (i * INTERVAL_MS) / perInterval));
      const end = new Date(start + INTERVAL_MS);
      const created = await createRun(engine, graph, { runType: 'manual', conf: validateParams(graph.dag, {}), logicalDate: new Date(start), dataIntervalStart: new Date(start), dataIntervalEnd: end });
      const runId = created!.runId;
      const began = new Date();
      let state = 'queued';
      while (!['success', 'failed'].includes(state)) {
        await new Promise((r) => setTimeout(r, 100));
        state = (await db.pool.query<{ state: string }>('SELECT state FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0]!.state;
      }
      if (state !== 'success') throw new Error(`events run ${runId} ended ${state}`);
      const ms = Date.now() - began.getTime();
      durations.push(ms);
      // Each message's lag: its wait in the simulated interval, plus the real time to its commit.
      await db.pool.query('CREATE TABLE IF NOT EXISTS public.bench_lag (lag_ms float8)');
      await db.pool.query('INSERT INTO public.bench_lag SELECT extract(epoch FROM ($2::timestamptz - publish_time)) * 1000 + extract(epoch FROM (loaded_at - $3::timestamptz)) * 1000 FROM events.messages WHERE run_id = $1', [runId, end, began]);
      const { rows } = await db.pool.query<{ loaded: number }>("SELECT (output->>'loaded')::int AS loaded FROM weir.task_instance WHERE run_id = $1 AND task_id = 'ingest'", [runId]);
      log(`events run ${k + 1}/${RUNS}: ${rows[0]!.loaded} messages in ${(ms / 1000).toFixed(2)} s (${Math.round(rows[0]!.loaded / (ms / 1000))} msg/s)`);
    }
    const { rows } = await db.pool.query<{ p50: number; p95: number; n: string }>('SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY lag_ms) AS p95, count(*)::text AS n FROM public.bench_lag');
    const { rows: stored } = await db.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM events.messages');
    results.events_lag_p50_s = Math.round(rows[0]!.p50 / 10) / 100;
    results.events_lag_p95_s = Math.round(rows[0]!.p95 / 10) / 100;
    results.events_run_max_s = Math.round(Math.max(...durations) / 10) / 100;
    results.events_run_median_s = Math.round([...durations].sort((a, b) => a - b)[durations.length >> 1]! / 10) / 100;
    results.events_stored = Number(stored[0]!.n);
    results.events_published = pubsub.stats().published;
  } finally {
    await stopWorker(worker);
    await pubsub.close();
    await boss.stop({ graceful: false, close: true });
    await db.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
  return results;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  const { url } = await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'));
  process.stdout.write(`${JSON.stringify(await benchEvents(url, log))}\n`);
}
