/**
 * The trips pipeline at scale (issue 16): files of 1,000,000 and 10,000,000 trips (the
 * sample jittered: runtime/dev/trips-data.ts) each run through trips_ingest by one
 * `weir worker` on the embedded PostgreSQL, the warehouse in weir's database, each size on
 * a fresh database and a fresh worker (so the worker's peak RSS is that file's). Reports
 * file → bronze rows/s, silver and gold times, the worker's peak RSS per size, and the
 * incremental path: a 100,000-row file after the 10 M, whose silver and gold take time in
 * proportion to it. 1 M runs `runs` times (fresh each time), 10 M once.
 * `node --import tsx bench/trips.ts` runs it alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTrips } from '../runtime/dev/trips-data.ts';
import { pipelineBench, runPartAlone } from './support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const TMP = path.join(here, 'tmp');
const BIG = Number(process.env.WEIR_BENCH_TRIPS_ROWS ?? 10_000_000);

/** A trips file in bench/tmp, generated once per size and seed (deterministic, so kept). */
async function tripsFile(rows: number, seed: number, log: (m: string) => void): Promise<string> {
  const file = path.join(TMP, `trips-${rows}-${seed}.csv`);
  if (!fs.existsSync(file)) {
    const t = performance.now();
    await writeTrips(file, rows, seed);
    log(`generated ${rows} trips (${(fs.statSync(file).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return file;
}

type Bench = Awaited<ReturnType<typeof pipelineBench>>;

/** Run trips_ingest on a hard link of `file` (archive moves the link, the bench file stays); task durations in s. */
async function ingest(bench: Bench, file: string, landing: string): Promise<Record<string, number>> {
  const link = path.join(landing, path.basename(file));
  fs.rmSync(link, { force: true });
  fs.linkSync(file, link);
  const { runId } = await bench.run('trips_ingest', { file: link });
  const { rows } = await bench.pool.query<{ task_id: string; duration_ms: number }>('SELECT task_id, duration_ms FROM weir.task_instance WHERE run_id = $1', [runId]);
  const { rows: run } = await bench.pool.query<{ ms: number; to_bronze_ms: number }>(
    `SELECT extract(epoch FROM r.end_date - r.start_date) * 1000 AS ms, extract(epoch FROM b.end_date - r.start_date) * 1000 AS to_bronze_ms
     FROM weir.dag_run r JOIN weir.task_instance b ON b.run_id = r.run_id AND b.task_id = 'bronze' WHERE r.run_id = $1`, [runId]);
  const by = Object.fromEntries(rows.map((r) => [r.task_id, r.duration_ms / 1000]));
  return { ...by, run: Number(run[0]!.ms) / 1000, to_bronze: Number(run[0]!.to_bronze_ms) / 1000 };
}

const r2 = (n: number) => Math.round(n * 100) / 100;

export async function benchTrips(adminUrl: string, log: (m: string) => void, runs = 3): Promise<Record<string, number>> {
  fs.mkdirSync(TMP, { recursive: true });
  const million = await tripsFile(1_000_000, 1, log);
  const big = await tripsFile(BIG, 1, log);
  const increment = await tripsFile(100_000, 7, log);
  const results: Record<string, number> = {};
  const landing = fs.mkdtempSync(path.join(TMP, 'trips-landing-'));
  const env = { TRIPS_LANDING_DIR: landing, TRIPS_ARCHIVE_DIR: path.join(landing, 'archive') };
  try {
    for (let i = 0; i < runs; i++) {
      const bench = await pipelineBench(adminUrl, 'weir_bench_trips_1m', env);
      try {
        const t = await ingest(bench, million, landing);
        const label = `trips_1m_${i + 1}`;
        results[`${label}_bronze_rows_per_s`] = Math.round(1_000_000 / t.to_bronze!);
        for (const k of ['bronze', 'silver', 'gold', 'run'] as const) results[`${label}_${k}_s`] = r2(t[k]!);
        results[`${label}_worker_peak_rss_mb`] = Math.round(bench.workerPeakRssMb());
        log(`trips 1M, run ${i + 1}: file → bronze ${t.to_bronze!.toFixed(2)} s (${Math.round(1_000_000 / t.to_bronze!)} rows/s), silver ${t.silver!.toFixed(2)} s, gold ${t.gold!.toFixed(2)} s, run ${t.run!.toFixed(2)} s; worker peak RSS ${Math.round(bench.workerPeakRssMb())} MB`);
      } finally {
        await bench.close();
      }
    }
    const bench = await pipelineBench(adminUrl, 'weir_bench_trips_big', env);
    try {
      const t = await ingest(bench, big, landing);
      const label = `trips_${BIG / 1e6}m`;
      results[`${label}_bronze_rows_per_s`] = Math.round(BIG / t.to_bronze!);
      for (const k of ['bronze', 'silver', 'gold', 'run'] as const) results[`${label}_${k}_s`] = r2(t[k]!);
      results[`${label}_bronze_to_gold_s`] = r2(t.silver! + t.gold!);
      results[`${label}_worker_peak_rss_mb`] = Math.round(bench.workerPeakRssMb());
      log(`trips ${BIG / 1e6}M: file → bronze ${t.to_bronze!.toFixed(2)} s (${Math.round(BIG / t.to_bronze!)} rows/s), silver ${t.silver!.toFixed(2)} s, gold ${t.gold!.toFixed(2)} s, run ${t.run!.toFixed(2)} s; worker peak RSS ${Math.round(bench.workerPeakRssMb())} MB`);
      const inc = await ingest(bench, increment, landing);
      results.trips_increment_100k_bronze_s = r2(inc.bronze!);
      results.trips_increment_100k_silver_s = r2(inc.silver!);
      results.trips_increment_100k_gold_s = r2(inc.gold!);
      // What recomputing gold over the whole table would cost instead (its two aggregates, read only, nothing written).
      const t0 = performance.now();
      await bench.pool.query(`SELECT count(*) FROM (SELECT region, extract(isoyear FROM datetime), extract(week FROM datetime), count(*) FROM trips.silver GROUP BY 1, 2, 3) w
        UNION ALL SELECT count(*) FROM (SELECT region, floor(origin_lon * 100), floor(origin_lat * 100), floor(destination_lon * 100), floor(destination_lat * 100), extract(hour FROM datetime), count(*) FROM trips.silver GROUP BY 1, 2, 3, 4, 5, 6) g`);
      results.trips_full_gold_aggregates_s = r2((performance.now() - t0) / 1000);
      log(`a 100,000-row file after ${BIG / 1e6}M: bronze ${inc.bronze!.toFixed(2)} s, silver ${inc.silver!.toFixed(2)} s, gold ${inc.gold!.toFixed(2)} s (gold's aggregates recomputed over all of silver, read only: ${results.trips_full_gold_aggregates_s} s)`);
      const { rows } = await bench.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM trips.silver');
      results.trips_silver_rows = Number(rows[0]!.n);
    } finally {
      await bench.close();
    }
  } finally {
    fs.rmSync(landing, { recursive: true, force: true });
  }
  return results;
}

await runPartAlone(import.meta.url, benchTrips);
