/**
 * `npm run bench`: engine latency and throughput against the embedded PostgreSQL
 * with one worker process (`weir worker`), as issue 2 specifies. Prints progress
 * on stderr and one JSON object on the last line of stdout.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureEmbeddedPostgres } from '../runtime/database/embedded.ts';
import { openDatabaseUrl } from '../runtime/database/connect.ts';
import { startBoss } from '../runtime/queue.ts';
import { loadDagsFolder } from '../runtime/loader/loader.ts';
import { createRun, createRuns, type Engine } from '../runtime/engine/runs.ts';
import { sqlText } from '../runtime/database/sql.ts';
import { RUN_UNFINISHED, stateList } from '../runtime/states.ts';
import { benchLists, writeHistory } from './history.ts';
import { freshDatabase, percentile, startWorker, stopWorker } from './support.ts';
import type { DagGraph } from '../runtime/loader/graph.ts';
import { RunEnds } from '../runtime/engine/wait.ts';
import { DateTime } from 'luxon';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { Session } from '../runtime/cli/session.ts';
import { loadConfig } from '../runtime/config.ts';
import { runBackfill } from '../runtime/cli/backfill.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const now = () => performance.timeOrigin + performance.now();

const median = (v: number[]) => percentile(v, 50);
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * Transactions that wrote, counted exactly: the next transaction id to be assigned (it
 * does not take one itself). pg_stat_database's xact_commit lags by seconds.
 */
async function xids(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS n');
  return Number(rows[0]!.n);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Timing { start: number; end: number }

async function outputs(pool: pg.Pool, runId: string): Promise<Map<string, Timing>> {
  const { rows } = await pool.query<{ task_id: string; output: Timing }>('SELECT task_id, output FROM weir.task_instance WHERE run_id = $1', [runId]);
  return new Map(rows.map((r) => [r.task_id, r.output]));
}

async function trigger(engine: Engine, graph: DagGraph): Promise<string> {
  const t = new Date();
  const created = await createRun(engine, graph, { runType: 'manual', conf: {}, logicalDate: t, dataIntervalStart: t, dataIntervalEnd: t });
  return created!.runId;
}

export async function benchEngine(): Promise<Record<string, number>> {
  const home = process.env.WEIR_HOME ?? path.join(root, '.weir');
  log('starting the embedded PostgreSQL');
  const server = await ensureEmbeddedPostgres(home);
  log('fresh bench database');
  const dbName = 'weir_bench';
  const url = await freshDatabase(server.url, dbName);
  const db = await openDatabaseUrl(url, { migrate: true });
  const boss = await startBoss(url);
  const engine: Engine & { url: string } = { pool: db.pool, boss, alertRetryDelayS: 30, url };
  const loaded = await loadDagsFolder(path.join(here, 'dags'));
  const linear = loaded.dags.get('bench_linear')!;
  const fanout = loaded.dags.get('bench_fanout')!;
  log('starting one worker process');
  let worker = await startWorker(url);
  // One LISTEN connection for every wait: opening one per run would itself disturb the
  // latencies measured (a connection start costs the server a few ms of CPU).
  const runEnds = await RunEnds.open(url, db.pool);
  const waitForRun = (runId: string) => runEnds.wait(runId, 120_000);
  const results: Record<string, number> = {};

  /** 20 runs of the 5-step chain one after another: trigger -> first task, and gap = a function returning -> the next one entered. */
  const linearRuns = async (pauseMs: () => number) => {
    const gaps: number[] = [];
    const firsts: number[] = [];
    for (let i = 0; i < 20; i++) {
      await pause(pauseMs());
      const t0 = now();
      const runId = await trigger(engine, linear);
      await waitForRun(runId);
      const out = await outputs(db.pool, runId);
      firsts.push(out.get('t1')!.start - t0);
      for (let k = 2; k <= 5; k++) gaps.push(out.get(`t${k}`)!.start - out.get(`t${k - 1}`)!.end);
    }
    return { gaps, firsts };
  };

  /** W5 as peers measure it: each run after a random 100-500 ms pause. */
  const w5Latency = async (suffix: string): Promise<Record<string, number>> => {
    const { gaps, firsts } = await linearRuns(() => 100 + Math.random() * 400);
    const r = {
      [`w5_gap_p50${suffix}_ms`]: round(median(gaps)),
      [`w5_gap_p95${suffix}_ms`]: round(percentile(gaps, 95)),
      [`w5_trigger_to_first_p50${suffix}_ms`]: round(median(firsts)),
    };
    log(`W5${suffix}: ${JSON.stringify(r)}`);
    return r;
  };

  /** 500 W5 runs, each created by its own createRun call, all at once, until every run is committed finished: steps/s per round. */
  const concurrentTriggers = async (): Promise<number[]> => {
    const rates: number[] = [];
    // Round 0 warms the worker's isolates (one per slot; each starts in ~0.3 s of CPU) and is not counted.
    for (let r = 0; r < 4; r++) {
      const x0 = await xids(db.pool);
      const t0 = now();
      const ids = await Promise.all(Array.from({ length: 500 }, () => trigger(engine, linear)));
      const created = now() - t0;
      await Promise.all(ids.map(waitForRun));
      const elapsed = now() - t0;
      if (r > 0) rates.push(2500 / (elapsed / 1000));
      log(`round ${r}${r === 0 ? ' (warm-up)' : ''}: ${round(2500 / (elapsed / 1000), 0)} steps/s (500 triggers committed in ${round(created, 0)} ms), ${round((await xids(db.pool) - x0) / 2500)} write transactions/step`);
    }
    return rates;
  };

  /** 50,000 queued runs of bench_drain (maxActiveRuns 16) drained by one worker: runs/s, and admission's plan at the full backlog. */
  const drain50k = async (): Promise<Record<string, number>> => {
    const graph = loaded.dags.get('bench_drain')!;
    const at = new Date();
    await createRuns(engine, graph, Array.from({ length: 50_000 }, () => ({ runType: 'manual' as const, conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at })));
    const t0 = now();
    // Admission at 50,000 queued runs, in a transaction rolled back (the worker drains meanwhile).
    const client = await db.pool.connect();
    let admitMs = NaN;
    try {
      await client.query('BEGIN');
      // Under the DAG's admission lock, as admission runs (the worker's admissions wait meanwhile).
      await client.query(sqlText('admission_lock'), ['bench_drain']);
      // With 16 more slots than the DAG has, so the plan shows the waiting runs read in order too.
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sqlText('admit_runs')}`, ['bench_drain', 32, stateList(RUN_UNFINISHED)]);
      const plan = rows.map((r) => r['QUERY PLAN']);
      admitMs = Number(/Execution Time: ([\d.]+)/.exec(plan.join('\n'))?.[1]);
      log(`admit_runs at a 50,000-run backlog (rolled back):\n${plan.join('\n')}`);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
    for (;;) {
      const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM weir.dag_run WHERE dag_id = 'bench_drain' AND state = ANY($1::weir.run_state[])", [stateList(RUN_UNFINISHED)]);
      if (rows[0]!.n === 0) break;
      await pause(250);
    }
    const elapsed = now() - t0;
    const rate = round(50_000 / (elapsed / 1000), 0);
    log(`drained 50,000 runs in ${round(elapsed / 1000, 1)} s: ${rate} runs/s; admission ${admitMs} ms at the full backlog`);
    return { drain_50k_runs_per_s: rate, admit_50k_backlog_ms: round(admitMs, 3) };
  };

  try {
    // Warm-up: JIT, connections, prepared plans.
    for (let i = 0; i < 5; i++) await waitForRun(await trigger(engine, linear));

    log('linear 5-task DAG, 20 runs, idle system');
    const { gaps, firsts } = await linearRuns(() => 0);
    results.linear_gap_p50_ms = round(median(gaps));
    results.linear_gap_p95_ms = round(percentile(gaps, 95));
    results.trigger_to_first_p50_ms = round(median(firsts));
    log(`gap p50 ${results.linear_gap_p50_ms} ms, p95 ${results.linear_gap_p95_ms} ms, trigger->first p50 ${results.trigger_to_first_p50_ms} ms`);

    log('fan-out 1->50->1, 10 runs');
    const fanouts: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = now();
      const runId = await trigger(engine, fanout);
      await waitForRun(runId);
      const out = await outputs(db.pool, runId);
      fanouts.push(out.get('join')!.end - out.get('start')!.start);
      if (i === 0) results.fanout_trigger_to_end_first_ms = round(now() - t0);
    }
    results.fanout_run_ms = round(median(fanouts));
    log(`fan-out run (first task start -> join end) p50 ${results.fanout_run_ms} ms`);

    log('throughput: 500 runs x 5 no-op tasks triggered at once');
    const rounds: number[] = [];
    const commitRatios: number[] = [];
    for (let r = 0; r < 3; r++) {
      const c0 = await xids(db.pool);
      const t0 = now();
      // One bulk trigger (as `weir backfill` and API clients do): 500 runs in one transaction.
      const at = new Date();
      const { created: runIds } = await createRuns(engine, linear, Array.from({ length: 500 }, () => ({ runType: 'manual' as const, conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at })));
      const last = runIds[runIds.length - 1]!;
      // Runs finish roughly in order; wait for all of them.
      await waitForRun(last);
      const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM weir.dag_run WHERE run_id = ANY($1) AND state <> 'success'", [runIds]);
      for (let k = 0; rows[0]!.n > 0 && k < 600; k++) {
        const pending = await db.pool.query<{ run_id: string }>("SELECT run_id FROM weir.dag_run WHERE run_id = ANY($1) AND state <> 'success' LIMIT 1", [runIds]);
        if (!pending.rows[0]) break;
        await waitForRun(pending.rows[0].run_id);
      }
      const elapsed = now() - t0;
      const c1 = await xids(db.pool);
      rounds.push(2500 / (elapsed / 1000));
      commitRatios.push((c1 - c0) / 2500);
      log(`round ${r + 1}: ${round(2500 / (elapsed / 1000), 0)} tasks/s, ${round((c1 - c0) / 2500)} commits/task`);
    }
    results.throughput_tasks_per_s = round(median(rounds), 0);
    results.commits_per_task = round(median(commitRatios));
    log('scheduler: bree tick -> first task start, 10 ticks');
    let shift = 0;
    const tickDag = loaded.dags.get('bench_tick')!;
    const scheduler = new Scheduler(engine, { dags: new Map([['bench_tick', tickDag]]), broken: new Map() }, { now: () => DateTime.now().plus({ minutes: shift }), safetyTickMs: 3_600_000 });
    await scheduler.start();
    const ticks: number[] = [];
    for (let i = 0; i < 10; i++) {
      shift++; // the next minute's interval has ended
      const before = (await db.pool.query<{ run_id: string }>("SELECT run_id FROM weir.dag_run WHERE dag_id = 'bench_tick' ORDER BY logical_date DESC LIMIT 1")).rows[0]?.run_id;
      // The tick is the moment bree fires the job (as its cron would), in wall-clock ms.
      const t0 = performance.timeOrigin + (await scheduler.fireClock('bench_tick'));
      let runId: string | undefined;
      for (let k = 0; k < 400 && (!runId || runId === before); k++) {
        runId = (await db.pool.query<{ run_id: string }>("SELECT run_id FROM weir.dag_run WHERE dag_id = 'bench_tick' ORDER BY logical_date DESC LIMIT 1")).rows[0]?.run_id;
        if (!runId || runId === before) await new Promise((r) => setTimeout(r, 5));
      }
      await waitForRun(runId!);
      const out = await outputs(db.pool, runId!);
      ticks.push(out.get('start')!.start - t0);
    }
    await scheduler.stop();
    results.scheduler_tick_to_first_task_p50_ms = round(median(ticks));
    log(`tick -> first task p50 ${results.scheduler_tick_to_first_task_p50_ms} ms`);

    log('backfill: 10,000 hourly runs');
    const session = new Session(loadConfig({ WEIR_DATABASE_URL: url, WEIR_DAGS_FOLDER: path.join(here, 'dags'), WEIR_HOME: home }));
    const backfills: number[] = [];
    for (let r = 0; r < 3; r++) {
      // A fresh range each round (no deletes racing the worker): 10,000 hours from 2000 + 2r years.
      const from = DateTime.fromISO(`${2000 + 2 * r}-01-01T00:00`, { zone: 'UTC' });
      const to = from.plus({ hours: 9_999 });
      const t0 = now();
      const summary = await runBackfill(session, loaded.dags.get('bench_backfill')!, { from: from.toISO()!, to: to.toISO()!, conf: {}, rerunFailed: false, dryRun: false, json: true });
      backfills.push(now() - t0);
      if (summary.created !== 10_000) throw new Error(`backfill created ${summary.created} runs, expected 10000`);
    }
    await session.close();
    results.backfill_10k_runs_ms = round(median(backfills), 0);
    log(`backfill of 10,000 runs p50 ${results.backfill_10k_runs_ms} ms`);

    log('500 W5 runs, each started by its own trigger call, all at once (worker at the default slots)');
    results.concurrent_triggers_c64_steps_per_s = round(median(await concurrentTriggers()), 0);

    const status = readFileSync(`/proc/${worker.pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    results.worker_rss_mb = hwm ? round(Number(hwm[1]) / 1024, 1) : NaN;

    log('drain: 50,000 queued runs of a 1-task DAG under maxActiveRuns 16');
    Object.assign(results, await drain50k());

    log('worker restarted with 10 slots (the workloads as peers are compared on)');
    await stopWorker(worker);
    worker = await startWorker(url, 10);
    for (let i = 0; i < 3; i++) await waitForRun(await trigger(engine, fanout));
    Object.assign(results, await w5Latency(''));
    log('W-fan 1->50->1 at 10 slots, trigger -> join end, 10 runs');
    const wfans: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = now();
      const runId = await trigger(engine, fanout);
      await waitForRun(runId);
      wfans.push((await outputs(db.pool, runId)).get('join')!.end - t0);
    }
    results.wfan_c10_ms = round(median(wfans));
    log(`W-fan c10 p50 ${results.wfan_c10_ms} ms`);
    log('500 W5 runs, each started by its own trigger call, all at once (worker at 10 slots)');
    const storms = await concurrentTriggers();
    results.concurrent_triggers_steps_per_s = round(median(storms), 0);

    log('history: 200,000 runs, 1,000,000 task instances and tries');
    const h0 = now();
    await writeHistory(db.pool);
    log(`history written in ${round((now() - h0) / 1000, 1)} s`);
    const lists = await benchLists(db.pool, log);
    results.history_list_p95_ms = Math.max(...Object.values(lists.p95));
    for (const [name, v] of Object.entries(lists.p95)) results[`history_list_${name}_p95_ms`] = v;
    results.history_seq_scans = lists.seqScans;
    Object.assign(results, await w5Latency('_with_history'));
  } finally {
    await runEnds.close();
    await stopWorker(worker);
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.close();
  }
  return results;
}

/**
 * The cost of running a try in an isolate (issue 9): a no-op task of bench_linear
 * through the IsolatePool in this process, against the same function called inline.
 * Cold: a new thread's first try (it loads tsx, zod and the DAG module).
 */
export async function benchIsolateHop(): Promise<Record<string, number>> {
  const { IsolatePool } = await import('../runtime/worker/isolates.ts');
  const { dagModuleUrl } = await import('../runtime/loader/loader.ts');
  const loaded = await loadDagsFolder(path.join(here, 'dags'));
  const graph = loaded.dags.get('bench_linear')!;
  const at = new Date().toISOString();
  const req = {
    moduleUrl: dagModuleUrl(graph.file, graph.hash), file: graph.relativeFile, dagId: graph.dag.id, taskId: 't1', timeoutMs: undefined, memoryLimitMb: 2048, maxLogLines: 100,
    ctx: { runId: 'bench', params: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, tryNumber: 1, maxTries: 0, timezone: 'UTC', outputs: [] as [string, unknown][], mapIndex: -1, mapItem: undefined },
  };
  const pool = new IsolatePool({ abortGraceMs: 500, idleMs: 60_000 });
  const signal = new AbortController().signal;
  try {
    const t0 = now();
    await pool.run(req, signal, () => {});
    const cold = now() - t0;
    const hops: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const t = now();
      await pool.run(req, signal, () => {});
      if (i >= 1000) hops.push(now() - t);
    }
    return { isolate_cold_start_ms: round(cold, 1), isolate_hop_p50_ms: round(median(hops), 3), isolate_hop_p95_ms: round(percentile(hops, 95), 3) };
  } finally {
    await pool.close();
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const results: Record<string, number> = { ...(await benchEngine()) };
  log('isolates: a warm try round trip, and a cold one');
  Object.assign(results, await benchIsolateHop());
  // WEIR_BENCH_ONLY=engine: the engine's part alone (about 8 minutes), for repeated runs.
  if (process.env.WEIR_BENCH_ONLY === 'engine') {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    process.exit(0);
  }
  log('mapping: a task mapped over 1,000 items, and 1,000 plain tasks, on one worker');
  const { benchMapping } = await import('./mapping.ts');
  Object.assign(results, await benchMapping((await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'))).url, log));
  log('server: 10,000 runs x 20 tasks of history; pages and lists; live event lag');
  const { benchServer } = await import('./server.ts');
  Object.assign(results, await benchServer((await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'))).url, log));
  log('sales_daily: 1,000,000 sales rows end to end, three runs');
  const { benchSales } = await import('./sales.ts');
  Object.assign(results, await benchSales((await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'))).url, log));
  log('qb_backfill: 10,000 invoices over 31 daily chunks on the QuickBooks stand-in, three runs');
  const { benchQuickBooks } = await import('./quickbooks.ts');
  Object.assign(results, await benchQuickBooks((await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'))).url, log));
  log('events_every_3_min: 1,000 messages/s through 3-minute runs, 15 simulated minutes');
  const { benchEvents } = await import('./events.ts');
  Object.assign(results, await benchEvents((await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'))).url, log));
  log('trips_ingest: files of 1 M (three times) and 10 M trips, then a 100,000-row file after the 10 M');
  const { benchTrips } = await import('./trips.ts');
  Object.assign(results, await benchTrips((await ensureEmbeddedPostgres(process.env.WEIR_HOME ?? path.join(root, '.weir'))).url, log));
  log('discovery: 500 DAG files (dags list cold/warm, dags validate)');
  const { benchDiscovery } = await import('./discovery.ts');
  Object.assign(results, await benchDiscovery());
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
