/**
 * Scheduling against a real database: exactly once with two schedulers, catch-up
 * after a restart, pause/unpause without a burst, backfill (interrupted and
 * resumed), bree ticks, run timeouts. The clock is injected; the database is real.
 */
import { eventually } from './support/cli.ts';
import path from 'node:path';
import { DateTime } from 'luxon';
import { dag } from '../runtime/index.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { runBackfill } from '../runtime/cli/backfill.ts';
import { Session } from '../runtime/cli/session.ts';
import { loadConfig } from '../runtime/config.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { ROOT } from './support/cli.ts';

const hourly = dag({ id: 'hourly_catchup', schedule: '@hourly', startDate: '2024-01-01T00:00:00', catchup: true, maxActiveRuns: 1000 });
hourly.task({ id: 't' }, () => 1);
const daily = dag({ id: 'daily_latest', schedule: '@daily', timezone: 'Europe/Berlin', startDate: '2024-01-01', catchup: false });
daily.task({ id: 't' }, (ctx) => ({ start: ctx.dataIntervalStart.toISO(), end: ctx.dataIntervalEnd.toISO(), logical: ctx.logicalDate.toISO() }));
const ticking = dag({ id: 'ticking', schedule: '* * * * *', startDate: '2024-01-01', catchup: false });
ticking.task({ id: 't' }, () => performance.timeOrigin + performance.now());
const longRun = dag({ id: 'long_run', schedule: '@daily', startDate: '2024-01-01', dagrunTimeoutMs: 200 });
longRun.task({ id: 'sleep' }, (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'))));
const manual = dag({ id: 'manual_only' });
manual.task({ id: 't' }, () => 1);

let te: TestEngine;
let clock = DateTime.fromISO('2024-01-01T05:30:00', { zone: 'UTC' });
const now = () => clock;
const runs = async (dagId: string) =>
  (await te.db.pool.query<{ run_id: string; logical_date: Date; run_type: string }>('SELECT run_id, logical_date, run_type FROM weir.dag_run WHERE dag_id = $1 ORDER BY logical_date', [dagId])).rows;

beforeAll(async () => {
  te = await startTestEngine([hourly, daily, ticking, longRun, manual], { worker: false });
});
afterAll(async () => te?.close());

test('two schedulers create each run exactly once, through catch-up and concurrent ticks', async () => {
  const a = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  const b = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  await Promise.all([a.start(), b.start()]);
  try {
    expect(a.dagIds.sort()).toEqual(['daily_latest', 'hourly_catchup', 'long_run', 'ticking']);
    let created = await runs('hourly_catchup');
    expect(created.map((r) => r.logical_date.toISOString())).toEqual(['00', '01', '02', '03', '04'].map((h) => `2024-01-01T${h}:00:00.000Z`));
    expect(created[0]!.run_id).toBe('scheduled__hourly_catchup__2024-01-01T00:00:00+00:00');
    clock = clock.plus({ hours: 3 });
    await Promise.all([a.tick('hourly_catchup'), b.tick('hourly_catchup'), a.tick('hourly_catchup'), b.tick('hourly_catchup')]);
    created = await runs('hourly_catchup');
    expect(created.length).toBe(8);
    expect(new Set(created.map((r) => r.run_id)).size).toBe(8);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('after a restart, catchup creates every missed interval; catchup off creates only the latest', async () => {
  const before = (await runs('hourly_catchup')).length;
  const dailyBefore = await runs('daily_latest');
  clock = clock.plus({ days: 3 });
  const s = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  await s.start();
  await s.stop();
  expect((await runs('hourly_catchup')).length).toBe(before + 72);
  const dailyAfter = await runs('daily_latest');
  expect(dailyAfter.length).toBe(dailyBefore.length + 1);
  const latest = dailyAfter[dailyAfter.length - 1]!;
  // Now is Jan 4 09:30 in Berlin: the latest complete day is [Jan 3 00:00, Jan 4 00:00) +01:00, and its tasks see it.
  expect(latest.logical_date.toISOString()).toBe('2024-01-02T23:00:00.000Z');
  const w = await te.startWorker({ concurrency: 4, shutdownGraceMs: 500 });
  expect(await te.waitForRun(latest.run_id)).toBe('success');
  await w.stop();
  te.workers.splice(te.workers.indexOf(w), 1);
  const { rows } = await te.db.pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1', [latest.run_id]);
  expect(rows[0].output).toEqual({ start: '2024-01-03T00:00:00.000+01:00', end: '2024-01-04T00:00:00.000+01:00', logical: '2024-01-03T00:00:00.000+01:00' });
});

test('a paused DAG gets no runs; unpausing with catchup off creates only the latest (no burst)', async () => {
  await te.db.pool.query("SELECT * FROM weir.dag WHERE dag_id = 'daily_latest'");
  await te.db.pool.query('INSERT INTO weir.dag (dag_id, is_paused) VALUES ($1, true) ON CONFLICT (dag_id) DO UPDATE SET is_paused = true', ['daily_latest']);
  const before = (await runs('daily_latest')).length;
  const s = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  await s.start();
  try {
    clock = clock.plus({ days: 5 });
    await s.tick('daily_latest');
    expect((await runs('daily_latest')).length).toBe(before);
    // Unpause: the NOTIFY from set_paused wakes the scheduler; one run, for the latest day.
    await te.db.pool.query("SELECT * FROM weir.dag WHERE dag_id = 'daily_latest'");
    const { sql } = await import('../runtime/database/sql.ts');
    await te.db.pool.query(sql('set_paused'), ['daily_latest', false]);
    await s.tick('daily_latest');
    const after = await runs('daily_latest');
    expect(after.length).toBe(before + 1);
  } finally {
    await s.stop();
  }
});

// How fast (target < 50 ms) is `npm run bench`'s scheduler_tick_to_first_task_p50_ms; this
// checks what each tick does: it creates the due run, and its first task starts.
test('a bree tick creates the due run and its first task starts', async () => {
  // Only this DAG: on the real clock, the catch-up DAGs would have years of intervals due.
  const onlyTicking = { dags: new Map([['ticking', te.dags.dags.get('ticking')!]]), broken: new Map() };
  const s = new Scheduler(te.engine, onlyTicking, { now: () => DateTime.now().plus({ minutes: shift }), safetyTickMs: 3_600_000 });
  let shift = 0;
  await s.start();
  const w = await te.startWorker({ concurrency: 4, shutdownGraceMs: 500 });
  try {
    const startedRuns = new Set<string>();
    w.on('task:start', (e: { run_id: string }) => startedRuns.add(e.run_id));
    for (let i = 0; i < 5; i++) {
      const known = new Set((await runs('ticking')).map((r) => r.run_id));
      shift += 1; // the next minute's interval has ended
      await s.fireClock('ticking');
      const created = await eventually(async () => (await runs('ticking')).find((r) => !known.has(r.run_id)), 10_000, 'the tick to create its run');
      expect(created.run_type).toBe('scheduled');
      await eventually(async () => startedRuns.has(created.run_id), 10_000, 'its first task to start');
    }
  } finally {
    await s.stop();
    await w.stop();
    te.workers.splice(te.workers.indexOf(w), 1);
  }
});

test('dagrunTimeoutMs fails an overrunning run and aborts its tasks', async () => {
  const w = await te.startWorker({ concurrency: 4, shutdownGraceMs: 500 });
  const s = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  try {
    const started = new Promise<void>((resolve) => w.once('task:start', () => resolve()));
    const runId = await te.trigger('long_run');
    await started;
    const deadline = Date.now() + 10_000;
    // The scheduler's safety loop calls this; here the test calls it until the run is overdue.
    const state = async () => (await te.db.pool.query('SELECT state FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0].state;
    while ((await state()) !== 'failed' && Date.now() < deadline) {
      await s.enforceRunTimeouts();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await te.waitForRun(runId)).toBe('failed');
    const { rows } = await te.db.pool.query('SELECT note FROM weir.dag_run WHERE run_id = $1', [runId]);
    expect(rows[0].note).toMatch(/timed out after 200 ms \(dagrunTimeoutMs\)/);
  } finally {
    await s.stop();
    await w.stop();
    te.workers.splice(te.workers.indexOf(w), 1);
  }
});

test('backfill creates one run per interval, skips what exists, and resumes after an interruption', async () => {
  const session = new Session(loadConfig({ WEIR_DATABASE_URL: te.testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-cli'), WEIR_HOME: path.join(ROOT, '.weir') }));
  const graph = te.dags.dags.get('manual_only')!;
  try {
    const stop = new AbortController();
    stop.abort(); // interrupted before the first batch
    const dry = await runBackfill(session, graph, { from: '2023-01-01', to: '2023-01-10', conf: {}, rerunFailed: false, dryRun: true, json: true });
    expect(dry).toMatchObject({ intervals: 10, created: 0, dry_run: true });
    expect((await runs('manual_only')).length).toBe(0);
    const interrupted = await runBackfill(session, graph, { from: '2023-01-01', to: '2023-01-10', conf: {}, rerunFailed: false, dryRun: false, json: true, signal: stop.signal });
    expect(interrupted).toMatchObject({ created: 0, interrupted: true });
    const full = await runBackfill(session, graph, { from: '2023-01-01', to: '2023-01-10', conf: {}, rerunFailed: false, dryRun: false, json: true });
    expect(full).toMatchObject({ intervals: 10, created: 10, interrupted: false });
    const again = await runBackfill(session, graph, { from: '2023-01-01', to: '2023-01-12', conf: {}, rerunFailed: false, dryRun: false, json: true });
    expect(again).toMatchObject({ intervals: 12, created: 2, skipped_in_progress: 10 });
    const created = await runs('manual_only');
    expect(created.map((r) => r.run_type)).toEqual(Array(12).fill('backfill'));
    expect(created[0]!.run_id).toBe('backfill__manual_only__2023-01-01T00:00:00+00:00');
  } finally {
    await session.close();
  }
});
