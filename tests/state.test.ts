/**
 * State between runs (ctx.state, `weir state`): a watermark written with a try's success
 * and never by a failed try; a try reads its own writes; bad keys and values fail the try
 * for good. Catch-up for a frequent schedule: after 30 minutes of scheduler downtime,
 * `catchup: false` makes one run whose watermark covers the gap, and `catchup: true` makes
 * the ten missed runs in order. The CLI lists, reads, sets and deletes keys, and refuses
 * bad JSON, unknown keys and unknown DAGs with exit 2.
 */
import path from 'node:path';
import { DateTime } from 'luxon';
import { dag, z } from '../runtime/index.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { listDagState } from '../runtime/engine/state.ts';
import { getRunDetail } from '../runtime/read/runs.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { ROOT, runWeir } from './support/cli.ts';

/** Pulls everything since its watermark (default: the interval's start) up to the interval's end, then moves the watermark. */
function watermarkDag(id: string, options: { catchup: boolean }) {
  const d = dag({ id, schedule: '*/3 * * * *', startDate: '2026-06-01T11:57:00', catchup: options.catchup, params: z.object({ fail: z.boolean().default(false) }) });
  d.task({ id: 'pull' }, async (ctx) => {
    const from = (await ctx.state.get<string>('watermark')) ?? ctx.dataIntervalStart.toUTC().toISO()!;
    const to = ctx.dataIntervalEnd.toUTC().toISO()!;
    ctx.state.set('watermark', to);
    // A try reads its own writes.
    const seen = await ctx.state.get<string>('watermark');
    if (ctx.params.fail) throw new Error('the load did not commit');
    return { from, to, seen };
  });
  return d;
}

const latest = watermarkDag('every3_latest', { catchup: false });
const catching = watermarkDag('every3_catchup', { catchup: true });
const startsPaused = dag({ id: 'starts_paused', schedule: '*/3 * * * *', startDate: '2026-06-01', catchup: false, pausedOnCreation: true });
startsPaused.task({ id: 't' }, () => 1);
const strict = dag({ id: 'state_errors', params: z.object({ what: z.enum(['key', 'nul', 'big', 'cycle', 'fn']) }) });
strict.task({ id: 't', retries: 2 }, (ctx) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const what = ctx.params.what;
  ctx.state.set(what === 'key' ? '' : 'k', what === 'nul' ? 'a\u0000b' : what === 'big' ? 'x'.repeat(70_000) : what === 'cycle' ? cyclic : what === 'fn' ? () => 1 : 1);
  return 'set';
});

let te: TestEngine;
let clock = DateTime.fromISO('2026-06-01T12:00:01Z', { zone: 'UTC' });
const now = () => clock;
const saved = { ...process.env };

beforeAll(async () => {
  te = await startTestEngine([latest, catching, strict, startsPaused], { worker: false });
  process.env.WEIR_DATABASE_URL = te.testDb.url;
  await te.startWorker();
});
afterAll(async () => {
  await te?.close();
  process.env = saved;
});

async function runsOf(dagId: string) {
  const { rows } = await te.db.pool.query<{ run_id: string; logical_date: Date; data_interval_end: Date; state: string }>(
    'SELECT run_id, logical_date, data_interval_end, state FROM weir.dag_run WHERE dag_id = $1 ORDER BY logical_date', [dagId]);
  return rows;
}
const output = async (runId: string) => (await te.db.pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0]!.output;
const waitAll = async (dagId: string) => Promise.all((await runsOf(dagId)).map((r) => te.waitForRun(r.run_id, 30_000)));
const iso = (s: string) => DateTime.fromISO(s, { zone: 'UTC' }).toISO();

test('after 30 minutes of scheduler downtime, catchup false makes one run whose watermark covers the gap; catchup true makes the ten missed runs in order', async () => {
  const first = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  await first.start();
  await Promise.all([first.tick('every3_latest'), first.tick('every3_catchup')]);
  await first.stop();
  expect((await waitAll('every3_latest'))).toEqual(['success']);
  expect((await waitAll('every3_catchup'))).toEqual(['success']);
  const [before] = await runsOf('every3_latest');
  expect(await output(before!.run_id)).toEqual({ from: iso('2026-06-01T11:57:00Z'), to: iso('2026-06-01T12:00:00Z'), seen: iso('2026-06-01T12:00:00Z') });

  // The scheduler is down from 12:00:01 to 12:30:01: ten intervals end meanwhile.
  clock = clock.plus({ minutes: 30 });
  const second = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  await second.start();
  await Promise.all([second.tick('every3_latest'), second.tick('every3_catchup')]);
  await second.stop();

  const latestRuns = await runsOf('every3_latest');
  expect(latestRuns).toHaveLength(2);
  await te.waitForRun(latestRuns[1]!.run_id, 30_000);
  expect(latestRuns[1]!.logical_date.toISOString()).toBe('2026-06-01T12:27:00.000Z');
  // One run, but it pulls the whole gap: from the last watermark, not from its interval's start.
  expect(await output(latestRuns[1]!.run_id)).toMatchObject({ from: iso('2026-06-01T12:00:00Z'), to: iso('2026-06-01T12:30:00Z') });

  const caught = await runsOf('every3_catchup');
  expect(caught.slice(1).map((r) => r.logical_date.toISOString().slice(11, 16))).toEqual(['12:00', '12:03', '12:06', '12:09', '12:12', '12:15', '12:18', '12:21', '12:24', '12:27']);
  expect(await waitAll('every3_catchup')).toEqual(Array(11).fill('success'));
  // Each caught-up run pulled its own interval (the previous run's watermark is its start).
  const outs = await Promise.all(caught.slice(1).map((r) => output(r.run_id)));
  expect(outs.map((o) => o.to)).toEqual(caught.slice(1).map((r) => DateTime.fromJSDate(r.data_interval_end, { zone: 'UTC' }).toISO()));
}, 90_000);

test('a failed try never moves the watermark; its writes vanish with it', async () => {
  const before = Object.fromEntries((await listDagState(te.db.pool, 'every3_latest')).map((r) => [r.key, r.value]));
  const runId = await te.trigger('every3_latest', { fail: true }, { dataIntervalStart: new Date('2026-06-01T13:00:00Z'), dataIntervalEnd: new Date('2026-06-01T13:03:00Z') });
  expect(await te.waitForRun(runId, 30_000)).toBe('failed');
  const after = await listDagState(te.db.pool, 'every3_latest');
  expect(Object.fromEntries(after.map((r) => [r.key, r.value]))).toEqual(before);
  expect(after.find((r) => r.key === 'watermark')!.updated_by).toMatch(/^scheduled__every3_latest__2026-06-01T12:27:00\+00:00\/pull\/1$/);
});

test.each([
  ['key', 'a state key must be a string of 1 to 200 characters without NUL'],
  ['nul', 'state "k": the value holds a NUL character'],
  ['big', 'state "k" is 70002 bytes of JSON, over the 65536 a state value may hold; keep large data in a table'],
  ['cycle', 'state "k": the value holds nesting deeper than 100 levels at $.self.self'],
  ['fn', 'state "k": the value is not JSON'],
])('a state write of a bad %s fails the try for good, naming the problem', async (what, message) => {
  const runId = await te.trigger('state_errors', { what });
  expect(await te.waitForRun(runId, 30_000)).toBe('failed');
  const t = (await getRunDetail(te.db.pool, runId)).task_instances[0]!;
  expect(t.try_number).toBe(1);
  expect(t.last_error).toContain(message);
});

test('weir state list, get, set and delete; bad JSON, unknown keys and unknown DAGs are exit 2', async () => {
  const env = { WEIR_DATABASE_URL: te.testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-cli'), WEIR_HOME: path.join(ROOT, '.weir') };
  expect((await runWeir(['state', 'list', 'greet'], env)).stdout.trim()).toBe('DAG greet has no state');
  const set = await runWeir(['state', 'set', 'greet', 'cursor', '{"page": 7, "since": "2026-06-01T00:00:00Z"}'], env);
  expect([set.code, set.stdout.trim()]).toEqual([0, 'set greet cursor']);
  const got = await runWeir(['state', 'get', 'greet', 'cursor'], env);
  expect(JSON.parse(got.stdout)).toEqual({ page: 7, since: '2026-06-01T00:00:00Z' });
  const listed = JSON.parse((await runWeir(['state', 'list', 'greet', '--json'], env)).stdout);
  expect(listed.state.map((r: { key: string; updated_by: string }) => [r.key, r.updated_by])).toEqual([['cursor', 'cli']]);

  const bad = await runWeir(['state', 'set', 'greet', 'cursor', '{page: 7'], env);
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim()).toMatch(/^weir: the value for "cursor" is not valid JSON: /);
  const nul = await runWeir(['state', 'set', 'greet', 'cursor', '"a\\u0000b"'], env);
  expect([nul.code, nul.stderr.trim()]).toEqual([2, 'weir: state "cursor": the value holds a NUL character (\\u0000) at $']);
  const unknownKey = await runWeir(['state', 'get', 'greet', 'nope'], env);
  expect([unknownKey.code, unknownKey.stderr.trim()]).toEqual([2, 'weir: DAG "greet" has no state key "nope" (see `weir state list greet`)']);
  const unknownDag = await runWeir(['state', 'list', 'nosuch'], env);
  expect(unknownDag.code).toBe(2);
  expect(unknownDag.stderr).toContain('unknown DAG "nosuch"');

  const deleted = await runWeir(['state', 'delete', 'greet', 'cursor'], env);
  expect([deleted.code, deleted.stdout.trim()]).toEqual([0, 'deleted greet cursor']);
  expect((await runWeir(['state', 'list', 'greet'], env)).stdout.trim()).toBe('DAG greet has no state');
}, 60_000);

test('pausedOnCreation: a new DAG registers paused and gets no runs until unpaused', async () => {
  const s = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
  await s.start();
  try {
    await s.tick('starts_paused');
    const paused = async () => (await te.db.pool.query("SELECT is_paused FROM weir.dag WHERE dag_id = 'starts_paused'")).rows[0]?.is_paused;
    expect(await paused()).toBe(true);
    expect(await runsOf('starts_paused')).toHaveLength(0);
    await te.db.pool.query("UPDATE weir.dag SET is_paused = false WHERE dag_id = 'starts_paused'");
    await s.tick('starts_paused');
    expect(await runsOf('starts_paused')).toHaveLength(1);
    // Registering again (a restart) keeps the state it has.
    const again = new Scheduler(te.engine, te.dags, { now, safetyTickMs: 3_600_000 });
    await again.start();
    await again.stop();
    expect(await paused()).toBe(false);
  } finally {
    await s.stop();
  }
});
