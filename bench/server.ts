/// <reference lib="dom" />
/**
 * The server at scale (issue 14): 10,000 finished runs × 20 tasks of one DAG (200,000
 * task instances and tries, with log lines), written straight in SQL; then the DAG list,
 * the grid (latest 25 runs), a run page, a task page and the REST lists, each requested
 * in-process 200 times (server time: routing, SQL and rendering), with every statement
 * they run EXPLAINed for sequential scans of task_instance. Then live events: a task's
 * end → its event at an SSE client over HTTP, for 30 runs of the 5-step chain.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { dag } from '../runtime/index.ts';
import { resolveGraph } from '../runtime/loader/graph.ts';
import { loadDagsFolder, type LoadedDags } from '../runtime/loader/loader.ts';
import { openDatabaseUrl } from '../runtime/database/connect.ts';
import { sql, sqlText } from '../runtime/database/sql.ts';
import { startBoss } from '../runtime/queue.ts';
import { createRun, type Engine } from '../runtime/engine/runs.ts';
import { buildApp } from '../runtime/server/app.ts';
import { EventHub } from '../runtime/server/events.ts';
import { allowedHosts } from '../runtime/server/security.ts';
import { createToken } from '../runtime/server/tokens.ts';
import { freshDatabase, percentile, startWorker, stopWorker } from './support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNS = 10_000;
const TASKS = 20;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function uiDag() {
  const d = dag({ id: 'bench_ui', description: 'history for the UI benchmark', schedule: '@hourly', startDate: '2025-01-01' });
  let prev: ReturnType<typeof d.task> | undefined;
  for (let i = 1; i <= TASKS; i++) prev = d.task({ id: `t${String(i).padStart(2, '0')}`, upstream: prev ? [prev] : [] }, async () => null);
  return resolveGraph(d, 'bench_ui.ts');
}

async function writeUiHistory(pool: pg.Pool): Promise<void> {
  await pool.query(`
    INSERT INTO weir.dag_run (run_id, dag_id, run_type, state, admitted, logical_date, data_interval_start, data_interval_end,
      unfinished, leaves, created_at, start_date, end_date, conf)
    SELECT 'ui__' || g, 'bench_ui', 'scheduled', (CASE WHEN g % 13 = 0 THEN 'failed' ELSE 'success' END)::weir.run_state, true,
      ts, ts, ts + interval '1 hour', 0, ARRAY['t20'], ts, ts, ts + interval '40 seconds', '{"window": 1}'
    FROM generate_series(1, ${RUNS}) g, LATERAL (SELECT timestamptz '2025-01-01' + g * interval '1 hour' AS ts) t`);
  await pool.query(`
    INSERT INTO weir.task_instance (run_id, task_id, state, try_number, max_tries, trigger_rule, up_total, downstream, start_date, end_date, duration_ms, queued_at)
    SELECT 'ui__' || g, 't' || lpad(k::text, 2, '0'), 'success', 1, 0, 'all_success', (k > 1)::int,
      CASE WHEN k < ${TASKS} THEN ARRAY['t' || lpad((k + 1)::text, 2, '0')] ELSE '{}'::text[] END, ts + k * interval '2 seconds', ts + k * interval '2 seconds' + interval '1 second', 1000, ts
    FROM generate_series(1, ${RUNS}) g, generate_series(1, ${TASKS}) k, LATERAL (SELECT timestamptz '2025-01-01' + g * interval '1 hour' AS ts) t`);
  await pool.query(`
    INSERT INTO weir.task_try (run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, logs)
    SELECT 'ui__' || g, 't' || lpad(k::text, 2, '0'), 1, 'success', ts, ts, 1000, 'bench',
      (SELECT jsonb_agg(jsonb_build_object('ts', '2025-01-01T00:00:00Z', 'level', 'info', 'msg', 'line ' || i)) FROM generate_series(1, 20) i)
    FROM generate_series(1, ${RUNS}) g, generate_series(1, ${TASKS}) k, LATERAL (SELECT timestamptz '2025-01-01' + g * interval '1 hour' AS ts) t`);
  await pool.query('ANALYZE weir.dag_run, weir.task_instance, weir.task_try');
}

/** Whether a statement's plan scans task_instance sequentially. */
async function seqScansTaskInstance(pool: pg.Pool, text: string, params: unknown[]): Promise<boolean> {
  const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) ${text}`, params);
  const found: string[] = [];
  const walk = (n: Record<string, unknown>) => {
    if (n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'task_instance') found.push('seq');
    for (const child of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk((rows[0]['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
  return found.length > 0;
}

const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The same pages in headless Chromium (when installed): navigation start → the load event
 * (HTML, CSS and script, over HTTP on loopback), 20 loads each after 3 to warm up.
 */
async function browserLoads(app: ReturnType<typeof buildApp>, pool: pg.Pool, log: (m: string) => void): Promise<Record<string, number>> {
  const fs = await import('node:fs');
  if (!fs.existsSync(CHROMIUM)) {
    log(`server: no Chromium at ${CHROMIUM}; browser load times skipped`);
    return {};
  }
  const { chromium } = await import('playwright-core');
  const http = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => http.once('listening', r));
  const port = (http.address() as AddressInfo).port;
  const session = (await createToken(pool, { role: 'viewer', kind: 'session' })).token;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking'] });
  const out: Record<string, number> = {};
  try {
    const context = await browser.newContext();
    await context.addCookies([{ name: 'weir_session', value: session, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Strict' }]);
    const page = await context.newPage();
    const pages: Record<string, string> = { dag_list: '/', grid: '/dags/bench_ui', run_page: `/dags/bench_ui/runs/ui__${RUNS / 2}` };
    for (const [name, p] of Object.entries(pages)) {
      const times: number[] = [];
      for (let i = 0; i < 23; i++) {
        await page.goto(`http://127.0.0.1:${port}${p}`, { waitUntil: 'load' });
        const ms = await page.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
          return nav.loadEventStart - nav.startTime;
        });
        if (i >= 3) times.push(ms);
      }
      out[`browser_${name}_load_p50_ms`] = round(percentile(times, 50));
      out[`browser_${name}_load_p95_ms`] = round(percentile(times, 95));
      log(`browser ${name}: load p50 ${out[`browser_${name}_load_p50_ms`]} ms, p95 ${out[`browser_${name}_load_p95_ms`]} ms`);
    }
  } finally {
    await browser.close();
    await new Promise((r) => http.close(r));
  }
  return out;
}

export async function benchServer(adminUrl: string, log: (m: string) => void): Promise<Record<string, number>> {
  const url = await freshDatabase(adminUrl, 'weir_bench_server');
  const db = await openDatabaseUrl(url, { migrate: true });
  const boss = await startBoss(url);
  const engine: Engine = { pool: db.pool, boss, alertRetryDelayS: 30 };
  const results: Record<string, number> = {};
  const folder = await loadDagsFolder(path.join(here, 'dags'));
  const ui = uiDag();
  const loaded: LoadedDags = { dags: new Map([...folder.dags, ['bench_ui', ui]]), broken: new Map() };
  const events = new EventHub(db.pool);
  const hosts = new Set<string>();
  const app = buildApp({ pool: db.pool, engine: async () => engine, dags: () => loaded, adminSecret: 'bench', allowedHosts: hosts, events });
  try {
    log(`server: writing ${RUNS.toLocaleString()} runs × ${TASKS} tasks of history`);
    await writeUiHistory(db.pool);
    for (const h of allowedHosts('127.0.0.1', 8080, [])) hosts.add(h);
    const token = (await createToken(db.pool, { role: 'viewer', name: 'bench' })).token;
    const get = async (p: string) => {
      const t0 = performance.now();
      const res = await app.request(`http://127.0.0.1:8080${p}`, { headers: { host: '127.0.0.1:8080', authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
      return performance.now() - t0;
    };
    const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
    const pages: Record<string, () => string> = {
      dag_list: () => '/',
      grid: () => '/dags/bench_ui',
      run_page: () => `/dags/bench_ui/runs/ui__${rnd(RUNS)}`,
      task_page: () => `/dags/bench_ui/runs/ui__${rnd(RUNS)}/tasks/t${String(rnd(TASKS)).padStart(2, '0')}`,
      api_runs: () => '/api/v2/dags/bench_ui/dagRuns?order_by=-id&limit=50',
      api_runs_deep_offset: () => `/api/v2/dags/bench_ui/dagRuns?order_by=-id&limit=50&offset=${rnd(RUNS - 100)}`,
      api_task_instances: () => `/api/v2/dags/bench_ui/dagRuns/ui__${rnd(RUNS)}/taskInstances`,
    };
    for (const [name, path] of Object.entries(pages)) {
      for (let i = 0; i < 20; i++) await get(path());
      const times: number[] = [];
      for (let i = 0; i < 200; i++) times.push(await get(path()));
      results[`server_${name}_p50_ms`] = round(percentile(times, 50));
      results[`server_${name}_p95_ms`] = round(percentile(times, 95));
      log(`server ${name}: p50 ${results[`server_${name}_p50_ms`]} ms, p95 ${results[`server_${name}_p95_ms`]} ms`);
    }
    const runIds = Array.from({ length: 25 }, (_, i) => `ui__${RUNS - i}`);
    const plans: [string, string, unknown[]][] = [
      ['grid_task_instances', sqlText('grid_task_instances'), [runIds]],
      ['recent_runs', sqlText('recent_runs'), [['bench_ui'], 10]],
      ['api_task_instances', sqlText('api_task_instances'), ['ui__5000', null]],
      ['run_task_instances', sqlText('run_task_instances'), ['ui__5000']],
      ['try_log_page', sqlText('try_log_page'), ['ui__5000', 't07', 1, 0, 500]],
      ['task_tries', sql('task_tries').text, ['ui__5000', 't07']],
    ];
    let seq = 0;
    for (const [name, text, params] of plans) if (await seqScansTaskInstance(db.pool, text, params)) { seq++; log(`server: ${name} scans task_instance sequentially`); }
    results.server_task_instance_seq_scans = seq;

    log('server: live events, task end -> SSE event at the client, 30 runs of bench_linear');
    await events.start(url);
    const http = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => http.once('listening', r));
    const port = (http.address() as AddressInfo).port;
    for (const h of allowedHosts('127.0.0.1', port, [])) hosts.add(h);
    const worker = await startWorker(url, 10);
    const lags: number[] = [];
    const abort = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/weir/v1/events?dag_id=bench_linear`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      const ended = new Map<string, () => void>();
      void (async () => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
          if (done) return;
          const at = Date.now();
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (!block.includes('event: task_instance')) continue;
            const data = JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { run_id: string; task_id: string; state: string; end_date: string | null };
            if (data.state !== 'success' || !data.end_date) continue;
            lags.push(at - Date.parse(data.end_date));
            if (data.task_id === 't5') ended.get(data.run_id)?.();
          }
        }
      })();
      const linear = loaded.dags.get('bench_linear')!;
      for (let i = 0; i < 30; i++) {
        const t = new Date();
        const created = await createRun(engine, linear, { runType: 'manual', conf: {}, logicalDate: t, dataIntervalStart: t, dataIntervalEnd: t });
        await new Promise<void>((resolve) => ended.set(created!.runId, resolve));
      }
    } finally {
      abort.abort();
      await stopWorker(worker);
      await new Promise((r) => http.close(r));
    }
    results.event_lag_p50_ms = round(percentile(lags, 50));
    results.event_lag_p95_ms = round(percentile(lags, 95));
    log(`server: task end -> event p50 ${results.event_lag_p50_ms} ms, p95 ${results.event_lag_p95_ms} ms (${lags.length} events)`);
    Object.assign(results, await browserLoads(app, db.pool, log));
  } finally {
    await events.close();
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.close();
  }
  return results;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { ensureEmbeddedPostgres } = await import('../runtime/database/embedded.ts');
  const server = await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.resolve(here, '..', '.weir'));
  const results = await benchServer(server.url, (m) => process.stderr.write(`[bench] ${m}\n`));
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
