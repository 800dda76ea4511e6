/**
 * The sales_daily DAG at scale (issue 17): the large dataset scaled to 1,000,000 sales
 * rows (50,000 customers, 5,000 products, the same planted fault shares), run end to end
 * by one `weir worker` on the embedded PostgreSQL, the warehouse in weir's database.
 * Reports each stage's duration (its successful try) and the run's, over `runs` runs:
 * the first into an empty warehouse, the next ones over the same files (every row
 * unchanged). `node --import tsx bench/sales.ts` runs it alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSales, type SalesManifest } from '../runtime/dev/sales-data.ts';
import { pipelineBench, runPartAlone } from './support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ORDERS = Number(process.env.WEIR_BENCH_SALES_ORDERS ?? 1_000_000);
const STAGES = ['ingest', 'clean', 'transform', 'load', 'quality', 'summary', 'notify'] as const;

/** The dataset in bench/tmp, generated once per size (deterministic, so kept between benches). */
function dataset(log: (m: string) => void): string {
  const folder = path.join(here, 'tmp', `sales-${ORDERS}`);
  const manifest = path.join(folder, 'manifest.json');
  if (!fs.existsSync(manifest) || (JSON.parse(fs.readFileSync(manifest, 'utf8')) as SalesManifest).files.sales < ORDERS) {
    const t = performance.now();
    generateSales(folder, { size: 'bench', orders: ORDERS });
    log(`generated ${ORDERS} sales rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return folder;
}

export async function benchSales(adminUrl: string, log: (m: string) => void, runs = 3): Promise<Record<string, number>> {
  const folder = dataset(log);
  const bytes = fs.statSync(path.join(folder, 'sales.csv')).size;
  const bench = await pipelineBench(adminUrl, 'weir_bench_sales');
  const results: Record<string, number> = {};
  try {
    for (let i = 0; i < runs; i++) {
      const { runId } = await bench.run('sales_daily', { dataset: folder, date: '2024-06-30' });
      const { rows } = await bench.pool.query<{ task_id: string; duration_ms: number }>('SELECT task_id, duration_ms FROM weir.task_instance WHERE run_id = $1', [runId]);
      const { rows: run } = await bench.pool.query<{ ms: number }>('SELECT extract(epoch FROM end_date - start_date) * 1000 AS ms FROM weir.dag_run WHERE run_id = $1', [runId]);
      const by = Object.fromEntries(rows.map((r) => [r.task_id, r.duration_ms]));
      const label = i === 0 ? 'first' : `again${i}`;
      for (const s of STAGES) results[`sales_1m_${label}_${s}_s`] = Math.round(by[s]! / 10) / 100;
      results[`sales_1m_${label}_run_s`] = Math.round(Number(run[0]!.ms) / 10) / 100;
      log(`sales_daily over ${ORDERS} rows (${(bytes / 1e6).toFixed(0)} MB), run ${i + 1}: ${STAGES.map((s) => `${s} ${(by[s]! / 1000).toFixed(2)} s`).join(', ')}; run ${(Number(run[0]!.ms) / 1000).toFixed(2)} s`);
    }
    const { rows } = await bench.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM sales.orders');
    results.sales_1m_orders_loaded = Number(rows[0]!.n);
  } finally {
    await bench.close();
  }
  return results;
}

await runPartAlone(import.meta.url, benchSales);
