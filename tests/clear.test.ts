/**
 * `weir clear` as one guarded statement (sql/queries/clear_run.sql): what is reset, the
 * upstream outcomes kept for the cleared tasks' trigger rules, renewed retries, and the
 * refusal while a run is still active.
 */
import { dag } from '../runtime/index.ts';
import { clearRun } from '../runtime/engine/runs.ts';
import { InputError } from '../runtime/errors.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';

const ran: string[] = [];
let failLoad = true;
const pipeline = dag({ id: 'clear_pipeline' });
const extract = pipeline.task({ id: 'extract' }, async () => { ran.push('extract'); return 1; });
const side = pipeline.task({ id: 'side' }, async () => { ran.push('side'); return 2; });
const load = pipeline.task({ id: 'load', upstream: [extract] }, async () => {
  ran.push('load');
  if (failLoad) throw new Error('warehouse refused');
  return 3;
});
// Waits for load and side: after a clear of load, side's kept success must still count.
pipeline.task({ id: 'report', upstream: [load, side] }, async () => { ran.push('report'); return 4; });
pipeline.task({ id: 'cleanup', upstream: [load], triggerRule: 'all_done' }, async () => { ran.push('cleanup'); return 5; });

let release: () => void = () => {};
const blocking = dag({ id: 'clear_blocking' });
blocking.task({ id: 'hold' }, () => new Promise<string>((resolve) => { release = () => resolve('done'); }));

let te: TestEngine;
beforeAll(async () => {
  te = await startTestEngine([pipeline, blocking]);
});
afterAll(async () => te?.close());

const tries = async (runId: string) => Object.fromEntries((await te.db.pool.query<{ task_id: string; try_number: number; max_tries: number }>(
  'SELECT task_id, try_number, max_tries FROM weir.task_instance WHERE run_id = $1', [runId],
)).rows.map((r) => [r.task_id, [r.try_number, r.max_tries]]));

test('clear --failed re-runs the failed task and what depends on it; outcomes kept upstream still count', async () => {
  const runId = await te.trigger('clear_pipeline');
  expect(await te.waitForRun(runId)).toBe('failed');
  expect(await te.taskStates(runId)).toEqual({ cleanup: 'success', extract: 'success', load: 'failed', report: 'upstream_failed', side: 'success' });
  ran.length = 0;
  failLoad = false;
  const cleared = await clearRun(te.engine, te.dags.dags.get('clear_pipeline')!, runId, true);
  expect(cleared).toEqual(['cleanup', 'load', 'report']);
  expect(await te.waitForRun(runId)).toBe('success');
  // extract and side kept their success: not run again, and report ran on side's kept outcome.
  expect(ran.sort()).toEqual(['cleanup', 'load', 'report']);
  expect(await te.taskStates(runId)).toEqual({ cleanup: 'success', extract: 'success', load: 'success', report: 'success', side: 'success' });
  // The cleared try counts on from where it was, with its retries renewed (0 here).
  expect((await tries(runId)).load).toEqual([2, 1]);
  const { rows } = await te.db.pool.query('SELECT try_number, state FROM weir.task_try WHERE run_id = $1 AND task_id = $2 ORDER BY try_number', [runId, 'load']);
  expect(rows).toEqual([{ try_number: 1, state: 'failed' }, { try_number: 2, state: 'success' }]);
});

test('clear without --failed re-runs every task; clear --failed of a successful run clears nothing', async () => {
  failLoad = false;
  const runId = await te.trigger('clear_pipeline');
  expect(await te.waitForRun(runId)).toBe('success');
  const graph = te.dags.dags.get('clear_pipeline')!;
  expect(await clearRun(te.engine, graph, runId, true)).toEqual([]);
  ran.length = 0;
  expect(await clearRun(te.engine, graph, runId, false)).toEqual(['cleanup', 'extract', 'load', 'report', 'side']);
  expect(await te.waitForRun(runId)).toBe('success');
  expect(ran.sort()).toEqual(['cleanup', 'extract', 'load', 'report', 'side']);
});

test('a run still running is refused and left as it was', async () => {
  const runId = await te.trigger('clear_blocking');
  const graph = te.dags.dags.get('clear_blocking')!;
  await eventually(async () => (await te.db.pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [runId])).rowCount === 1, 20_000, 'hold to run');
  const error = await clearRun(te.engine, graph, runId, false).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toBe(`run ${runId} still has tasks queued or running; wait for it to finish or cancel it first (weir runs cancel ${runId})`);
  expect(await te.taskStates(runId)).toEqual({ hold: 'running' });
  expect(await tries(runId)).toEqual({ hold: [1, 0] });
  release();
  expect(await te.waitForRun(runId)).toBe('success');
});
