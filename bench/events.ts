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
import { startPubSubServer } from '../runtime/dev/pubsub-server.ts';
import { pipelineBench, runPartAlone } from './support.ts';

const PER_SECOND = 1000;
const INTERVAL_MS = 3 * 60_000;
const RUNS = 5;

export async function benchEvents(adminUrl: string, log: (m: string) => void): Promise<Record<string, number>> {
  const pubsub = await startPubSubServer({ ackDeadlineMs: 120_000, duplicateRate: 0.01 });
  const bench = await pipelineBench(adminUrl, 'weir_bench_events', { EVENTS_PUBSUB_URL: pubsub.url });
  const results: Record<string, number> = {};
  try {
    const perInterval = (PER_SECOND * INTERVAL_MS) / 1000;
    const t0 = Date.parse('2026-06-01T12:00:00Z');
    const durations: number[] = [];
    await bench.pool.query('CREATE TABLE public.bench_lag (lag_ms float8)');
    for (let k = 0; k < RUNS; k++) {
      const start = new Date(t0 + k * INTERVAL_MS);
      const end = new Date(start.getTime() + INTERVAL_MS);
      pubsub.publish(perInterval, (i) => new Date(start.getTime() + (i * INTERVAL_MS) / perInterval));
      const { runId, startedAt, ms } = await bench.run('events_every_3_min', {}, { start, end });
      durations.push(ms);
      // Each message's lag: its wait in the simulated interval, plus the real time to its commit.
      await bench.pool.query('INSERT INTO public.bench_lag SELECT extract(epoch FROM ($2::timestamptz - publish_time)) * 1000 + extract(epoch FROM (loaded_at - $3::timestamptz)) * 1000 FROM events.messages WHERE run_id = $1', [runId, end, startedAt]);
      const { rows } = await bench.pool.query<{ loaded: number }>("SELECT (output->>'loaded')::int AS loaded FROM weir.task_instance WHERE run_id = $1 AND task_id = 'ingest'", [runId]);
      log(`events run ${k + 1}/${RUNS}: ${rows[0]!.loaded} messages in ${(ms / 1000).toFixed(2)} s (${Math.round(rows[0]!.loaded / (ms / 1000))} msg/s)`);
    }
    const { rows } = await bench.pool.query<{ p50: number; p95: number }>('SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY lag_ms) AS p95 FROM public.bench_lag');
    const { rows: stored } = await bench.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM events.messages');
    const sorted = [...durations].sort((a, b) => a - b);
    Object.assign(results, {
      events_lag_p50_s: Math.round(rows[0]!.p50 / 10) / 100,
      events_lag_p95_s: Math.round(rows[0]!.p95 / 10) / 100,
      events_run_median_s: Math.round(sorted[sorted.length >> 1]! / 10) / 100,
      events_run_max_s: Math.round(sorted[sorted.length - 1]! / 10) / 100,
      events_stored: Number(stored[0]!.n),
      events_published: pubsub.stats().published,
    });
  } finally {
    await bench.close();
    await pubsub.close();
  }
  return results;
}

await runPartAlone(import.meta.url, benchEvents);
