/**
 * History for the list benchmark (issue 12): 200,000 finished runs of 20 DAGs with five
 * task instances and one try each (1,000,000 task instances), written straight in SQL,
 * then each list's statement timed at random places and EXPLAINed.
 */
import type pg from 'pg';
import { sql, sqlText } from '../runtime/database/sql.ts';

const RUNS = 200_000;
const DAGS = 20;

export async function writeHistory(pool: pg.Pool): Promise<void> {
  await pool.query(`
    INSERT INTO weir.dag_run (run_id, dag_id, run_type, state, admitted, logical_date, data_interval_start, data_interval_end,
      unfinished, leaves, created_at, start_date, end_date)
    SELECT 'history__' || g, 'bench_history_' || (g % ${DAGS}), 'manual',
      (CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'success' END)::weir.run_state, true, ts, ts, ts, 0, ARRAY['t5'], ts, ts, ts + interval '1 second'
    FROM generate_series(1, ${RUNS}) g, LATERAL (SELECT now() - interval '30 days' + g * interval '10 seconds' AS ts) t`);
  await pool.query(`
    INSERT INTO weir.task_instance (run_id, task_id, state, try_number, max_tries, trigger_rule, up_total, downstream, start_date, end_date, duration_ms)
    SELECT 'history__' || g, 't' || k, 'success', 1, 0, 'all_success', (k > 1)::int,
      CASE WHEN k < 5 THEN ARRAY['t' || (k + 1)] ELSE '{}'::text[] END, ts, ts, 1
    FROM generate_series(1, ${RUNS}) g, generate_series(1, 5) k, LATERAL (SELECT now() - interval '30 days' + g * interval '10 seconds' AS ts) t`);
  await pool.query(`
    INSERT INTO weir.task_try (run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, logs)
    SELECT 'history__' || g, 't' || k, 1, 'success', ts, ts, 1, 'bench', '[{"ts":"2026-01-01T00:00:00Z","level":"info","msg":"done"}]'::jsonb
    FROM generate_series(1, ${RUNS}) g, generate_series(1, 5) k, LATERAL (SELECT now() - interval '30 days' + g * interval '10 seconds' AS ts) t`);
  await pool.query('ANALYZE weir.dag_run, weir.task_instance, weir.task_try');
}

interface ListCase {
  name: string;
  /** As the read model runs it: planned each call (sqlText) or prepared (sql). */
  query: string | { name: string; text: string };
  params: () => unknown[];
}

function cases(): ListCase[] {
  const rnd = (n: number) => Math.floor(Math.random() * n);
  const run = () => `history__${1 + rnd(RUNS)}`;
  const dag = () => `bench_history_${rnd(DAGS)}`;
  // A deep page: the keyset of a random point in history (as the cursor of an earlier page).
  const deep = () => [`${new Date(Date.now() - rnd(29 * 86_400_000)).toISOString()}`, 'history__~'];
  const list = sqlText('list_runs');
  return [
    { name: 'runs', query: list, params: () => [null, null, 26, null, null] },
    { name: 'runs_deep_page', query: list, params: () => [null, null, 26, ...deep()] },
    { name: 'runs_dag', query: list, params: () => [dag(), null, 26, null, null] },
    { name: 'runs_dag_deep_page', query: list, params: () => [dag(), null, 26, ...deep()] },
    { name: 'runs_state', query: list, params: () => [null, 'failed', 26, null, null] },
    { name: 'runs_dag_state', query: list, params: () => [dag(), 'failed', 26, ...deep()] },
    { name: 'task_instances', query: sql('run_task_instances'), params: () => [run()] },
    { name: 'tries', query: sql('task_tries'), params: () => [run(), `t${1 + rnd(5)}`] },
  ];
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

/** p95 of each list's statement (200 calls at random places), and the plans' sequential scans. */
export async function benchLists(pool: pg.Pool, log: (msg: string) => void): Promise<{ p95: Record<string, number>; seqScans: number }> {
  const p95: Record<string, number> = {};
  let seqScans = 0;
  for (const c of cases()) {
    const times: number[] = [];
    for (let i = 0; i < 220; i++) {
      const t0 = performance.now();
      await pool.query(c.query as string, c.params());
      if (i >= 20) times.push(performance.now() - t0);
    }
    p95[c.name] = Math.round(percentile(times, 95) * 100) / 100;
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${typeof c.query === 'string' ? c.query : c.query.text}`, c.params());
    const plan = rows.map((r) => r['QUERY PLAN']);
    const scans = plan.filter((l) => /Seq Scan/.test(l)).length;
    seqScans += scans;
    log(`list ${c.name}: p95 ${p95[c.name]} ms; plan: ${plan.filter((l) => /Scan|Limit|Sort/.test(l)).map((l) => l.trim().replace(/\s+\(cost.*$/, '')).slice(0, 4).join(' | ')}`);
  }
  return { p95, seqScans };
}
