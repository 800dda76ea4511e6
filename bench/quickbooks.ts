/**
 * The qb_backfill DAG at volume (issue 15): 10,000 invoices over 31 days on the QBO
 * stand-in, page_size 100, one `weir worker` (4 slots) and the pool's 4 slots, the refresh
 * token in the secrets store. Reports the run's time, the time per chunk (extract
 * instance), and how much of the chunks' time was the stand-in answering (its own handling
 * time, summed) versus weir (the rest: HTTP client, upserts, scheduling). Three runs: the
 * first into empty tables, the next over the same data (every row unchanged).
 * `node --import tsx bench/quickbooks.ts` runs it alone.
 */
import { startQuickBooksServer } from '../runtime/dev/quickbooks-server.ts';
import { pipelineBench, runPartAlone } from './support.ts';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

export async function benchQuickBooks(adminUrl: string, log: (m: string) => void, runs = 3): Promise<Record<string, number>> {
  const qbo = await startQuickBooksServer({ generated: { count: 10_000, from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', seed: 1 } });
  const bench = await pipelineBench(adminUrl, 'weir_bench_qb', {
    QBO_BASE_URL: qbo.url, QBO_TOKEN_URL: qbo.tokenUrl, QBO_REALM_ID: qbo.realmId, QBO_CLIENT_ID: qbo.clientId, QBO_CLIENT_SECRET: qbo.clientSecret,
  });
  const { writeSecret, secretKey } = await import('../runtime/engine/secrets.ts');
  await writeSecret(bench.pool, secretKey(bench.home, {}, true)!, 'QBO_REFRESH_TOKEN', qbo.refreshToken, 'bench');
  const results: Record<string, number> = {};
  try {
    for (let i = 0; i < runs; i++) {
      const busy0 = qbo.stats.busyMs;
      const { runId, ms } = await bench.run('qb_backfill', { entity: 'invoices', start_date: '2026-01-01T00:00:00Z', end_date: '2026-02-01T00:00:00Z', page_size: 100 });
      const { rows } = await bench.pool.query<{ duration_ms: number }>("SELECT duration_ms FROM weir.task_instance WHERE run_id = $1 AND map_task = 'extract'", [runId]);
      const chunkMs = rows.map((r) => r.duration_ms);
      const standIn = qbo.stats.busyMs - busy0;
      const total = chunkMs.reduce((a, b) => a + b, 0);
      const label = i === 0 ? 'first' : `again${i}`;
      results[`qb_10k_${label}_run_s`] = round(ms / 1000, 2);
      results[`qb_10k_${label}_chunk_ms_p50`] = round(median(chunkMs));
      results[`qb_10k_${label}_chunk_ms_max`] = round(Math.max(...chunkMs));
      results[`qb_10k_${label}_weir_share_pct`] = round(100 * (1 - standIn / total));
      log(`qb_backfill 10,000 invoices / 31 chunks, run ${i + 1}: ${round(ms / 1000, 2)} s; chunk p50 ${round(median(chunkMs))} ms, max ${round(Math.max(...chunkMs))} ms; stand-in ${round(standIn)} ms of ${round(total)} ms chunk time (weir ${round(100 * (1 - standIn / total))} %)`);
    }
    const { rows } = await bench.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM raw.qb_invoices');
    results.qb_10k_invoices_loaded = rows[0]!.n;
  } finally {
    await bench.close();
    await qbo.close();
  }
  return results;
}

await runPartAlone(import.meta.url, benchQuickBooks);
