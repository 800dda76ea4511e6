/**
 * Every trigger rule end to end: skipped and upstream_failed propagate, and the
 * run ends the way Airflow's would.
 */
import { dag, NonRetryableError, SkipTask } from '../runtime/index.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';

const d = dag({ id: 'rules' });
const ok = d.task({ id: 'ok' }, () => 'fine');
const bad = d.task({ id: 'bad' }, () => { throw new NonRetryableError('broken'); });
const skip = d.task({ id: 'skip' }, () => { throw new SkipTask('nothing to do'); });
const allSuccess = d.task({ id: 'all_success', upstream: [ok, bad] }, () => 'x');
d.task({ id: 'after_upstream_failed', upstream: [allSuccess] }, () => 'x');
d.task({ id: 'all_failed', upstream: [bad], triggerRule: 'all_failed' }, () => 'x');
d.task({ id: 'all_failed_mixed', upstream: [ok, bad], triggerRule: 'all_failed' }, () => 'x');
d.task({ id: 'all_done', upstream: [ok, bad, skip], triggerRule: 'all_done' }, () => 'x');
d.task({ id: 'one_success', upstream: [ok, bad], triggerRule: 'one_success' }, () => 'x');
d.task({ id: 'one_success_none', upstream: [bad, skip], triggerRule: 'one_success' }, () => 'x');
d.task({ id: 'one_failed', upstream: [ok, bad], triggerRule: 'one_failed' }, () => 'x');
d.task({ id: 'one_failed_none', upstream: [ok, skip], triggerRule: 'one_failed' }, () => 'x');
d.task({ id: 'none_failed', upstream: [ok, skip], triggerRule: 'none_failed' }, () => 'x');
d.task({ id: 'none_failed_bad', upstream: [ok, bad], triggerRule: 'none_failed' }, () => 'x');
d.task({ id: 'nfmos_all_skipped', upstream: [skip], triggerRule: 'none_failed_min_one_success' }, () => 'x');
d.task({ id: 'nfmos', upstream: [ok, skip], triggerRule: 'none_failed_min_one_success' }, () => 'x');
d.task({ id: 'none_skipped', upstream: [ok, skip], triggerRule: 'none_skipped' }, () => 'x');
d.task({ id: 'none_skipped_failed', upstream: [ok, bad], triggerRule: 'none_skipped' }, () => 'x');
const skippedChain = d.task({ id: 'skipped_chain', upstream: [skip] }, () => 'x');
d.task({ id: 'after_skipped_chain', upstream: [skippedChain] }, () => 'x');

const happy = dag({ id: 'happy_with_skip' });
const check = happy.task({ id: 'check' }, () => ({ breached: false }));
const alert = happy.task({ id: 'alert', upstream: [check] }, () => { throw new SkipTask('within bounds'); });
happy.task({ id: 'cleanup', upstream: [alert], triggerRule: 'none_failed' }, () => 'cleaned');

let te: TestEngine;
beforeAll(async () => {
  te = await startTestEngine([d, happy]);
});
afterAll(async () => te?.close());

test('each trigger rule decides as Airflow does, transitively', async () => {
  const runId = await te.trigger('rules');
  expect(await te.waitForRun(runId)).toBe('failed');
  expect(await te.taskStates(runId)).toEqual({
    ok: 'success',
    bad: 'failed',
    skip: 'skipped',
    all_success: 'upstream_failed',
    after_upstream_failed: 'upstream_failed',
    all_failed: 'success',
    all_failed_mixed: 'skipped',
    all_done: 'success',
    one_success: 'success',
    one_success_none: 'upstream_failed',
    one_failed: 'success',
    one_failed_none: 'skipped',
    none_failed: 'success',
    none_failed_bad: 'upstream_failed',
    nfmos_all_skipped: 'skipped',
    nfmos: 'success',
    none_skipped: 'skipped',
    none_skipped_failed: 'success',
    skipped_chain: 'skipped',
    after_skipped_chain: 'skipped',
  });
  const { rows } = await te.db.pool.query('SELECT unfinished FROM weir.dag_run WHERE run_id = $1', [runId]);
  expect(rows[0].unfinished).toBe(0);
});

test('a skipped alert leaves the run successful; none_failed cleanup still runs', async () => {
  const runId = await te.trigger('happy_with_skip');
  expect(await te.waitForRun(runId)).toBe('success');
  expect(await te.taskStates(runId)).toEqual({ alert: 'skipped', check: 'success', cleanup: 'success' });
});
