/**
 * Dynamic task mapping at 1,000 items (issue 15) on one `weir worker`: from the end of the
 * list's task to the end of the last mapped instance, and per instance; the same for 1,000
 * plain tasks after one task (bench_wide), to compare the per-instance cost with a plain
 * task's. A warm-up run (cold isolate threads, reported apart), then three runs of each; `node --import tsx bench/mapping.ts` runs it alone.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_CONCURRENCY, freshDatabase, runPartAlone, startWorker, stopWorker } from './support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

export async function benchMapping(adminUrl: string, log: (m: string) => void, runs = 3): Promise<Record<string, number>> {
  const [{ openDatabaseUrl }, { startBoss }, { loadDagsFolder }, { createRun }] = await Promise.all([
    import('../runtime/database/connect.ts'), import('../runtime/queue.ts'), import('../runtime/loader/loader.ts'), import('../runtime/engine/runs.ts'),
  ]);
  const url = await freshDatabase(adminUrl, 'weir_bench_mapping');
  const db = await openDatabaseUrl(url, { migrate: true });
  const boss = await startBoss(url, { supervise: false });
  const worker = await startWorker(url, BENCH_CONCURRENCY);
  const dags = await loadDagsFolder(path.join(here, 'dags'));
  const engine = { pool: db.pool, boss, alertRetryDelayS: 5 };
  const results: Record<string, number> = {};
  try {
    for (const [dagId, label] of [['bench_mapped', 'mapped'], ['bench_wide', 'plain']] as const) {
      const spans: number[] = [];
      // Run -1 warms the worker's isolate threads up (64 of them start on a 2-core machine); it is reported apart.
      for (let i = -1; i < runs; i++) {
        const at = new Date();
        const created = await createRun(engine, dags.dags.get(dagId)!, { runType: 'manual', conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
        let state = 'queued';
        while (state !== 'success' && state !== 'failed') {
          await new Promise((r) => setTimeout(r, 50));
          state = (await db.pool.query<{ state: string }>('SELECT state FROM weir.dag_run WHERE run_id = $1', [created!.runId])).rows[0]!.state;
        }
        if (state !== 'success') throw new Error(`${dagId} ended ${state}`);
        const { rows } = await db.pool.query<{ ms: number; n: number }>(
          `SELECT extract(epoch FROM max(ti.end_date) - (SELECT end_date FROM weir.task_instance WHERE run_id = $1 AND task_id = 'list')) * 1000 AS ms, count(*)::int AS n
           FROM weir.task_instance ti WHERE run_id = $1 AND task_id NOT IN ('list', 'join')`, [created!.runId]);
        if (rows[0]!.n !== 1000) throw new Error(`${dagId} ran ${rows[0]!.n} middle tasks, not 1000`);
        if (i < 0) results[`${label}_1000_cold_span_ms`] = round(Number(rows[0]!.ms));
        else spans.push(Number(rows[0]!.ms));
      }
      results[`${label}_1000_span_ms_p50`] = round(median(spans));
      results[`${label}_1000_span_ms_min`] = round(Math.min(...spans));
      results[`${label}_1000_span_ms_max`] = round(Math.max(...spans));
      results[`${label}_per_instance_ms_p50`] = round(median(spans) / 1000, 3);
      log(`${dagId}: list end → last of 1,000 ${label} instances ${spans.map((s) => round(s)).join(', ')} ms (${round(median(spans) / 1000, 3)} ms each)`);
    }
  } finally {
    await stopWorker(worker);
    await boss.stop({ graceful: false, close: true });
    await db.close();
  }
  return results;
}

await runPartAlone(import.meta.url, benchMapping);
