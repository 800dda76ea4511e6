import { evaluateTriggerRule, type UpstreamCounts } from '../runtime/authoring/trigger-rules.ts';

const counts = (over: Partial<UpstreamCounts>): UpstreamCounts => ({ total: 3, success: 0, failed: 0, skipped: 0, upstreamFailed: 0, ...over });

describe('evaluateTriggerRule', () => {
  test('all_success waits, runs on all success, gives up early on a failure, skips on a skip', () => {
    expect(evaluateTriggerRule('all_success', counts({ success: 2 }))).toBe('wait');
    expect(evaluateTriggerRule('all_success', counts({ success: 3 }))).toBe('run');
    expect(evaluateTriggerRule('all_success', counts({ failed: 1 }))).toBe('upstream_failed');
    expect(evaluateTriggerRule('all_success', counts({ upstreamFailed: 1, success: 2 }))).toBe('upstream_failed');
    expect(evaluateTriggerRule('all_success', counts({ skipped: 1, success: 2 }))).toBe('skip');
  });
  test('all_failed runs only when every upstream failed', () => {
    expect(evaluateTriggerRule('all_failed', counts({ failed: 2, upstreamFailed: 1 }))).toBe('run');
    expect(evaluateTriggerRule('all_failed', counts({ failed: 2 }))).toBe('wait');
    expect(evaluateTriggerRule('all_failed', counts({ failed: 1, success: 1 }))).toBe('skip');
    expect(evaluateTriggerRule('all_failed', counts({ skipped: 1 }))).toBe('skip');
  });
  test('all_done runs once everything finished in any state', () => {
    expect(evaluateTriggerRule('all_done', counts({ failed: 1, skipped: 1 }))).toBe('wait');
    expect(evaluateTriggerRule('all_done', counts({ failed: 1, skipped: 1, success: 1 }))).toBe('run');
  });
  test('one_success runs on the first success, else upstream_failed or skipped', () => {
    expect(evaluateTriggerRule('one_success', counts({ success: 1 }))).toBe('run');
    expect(evaluateTriggerRule('one_success', counts({ failed: 2 }))).toBe('wait');
    expect(evaluateTriggerRule('one_success', counts({ failed: 2, skipped: 1 }))).toBe('upstream_failed');
    expect(evaluateTriggerRule('one_success', counts({ skipped: 3 }))).toBe('skip');
  });
  test('one_failed runs on the first failure, skips when all done without one', () => {
    expect(evaluateTriggerRule('one_failed', counts({ failed: 1 }))).toBe('run');
    expect(evaluateTriggerRule('one_failed', counts({ success: 2 }))).toBe('wait');
    expect(evaluateTriggerRule('one_failed', counts({ success: 2, skipped: 1 }))).toBe('skip');
  });
  test('none_failed accepts skips, not failures', () => {
    expect(evaluateTriggerRule('none_failed', counts({ success: 2, skipped: 1 }))).toBe('run');
    expect(evaluateTriggerRule('none_failed', counts({ skipped: 3 }))).toBe('run');
    expect(evaluateTriggerRule('none_failed', counts({ failed: 1 }))).toBe('upstream_failed');
    expect(evaluateTriggerRule('none_failed', counts({ success: 2 }))).toBe('wait');
  });
  test('none_failed_min_one_success needs a success and no failure', () => {
    expect(evaluateTriggerRule('none_failed_min_one_success', counts({ success: 1, skipped: 2 }))).toBe('run');
    expect(evaluateTriggerRule('none_failed_min_one_success', counts({ skipped: 3 }))).toBe('skip');
    expect(evaluateTriggerRule('none_failed_min_one_success', counts({ upstreamFailed: 1 }))).toBe('upstream_failed');
  });
  test('none_skipped runs when done with no skip, in any other state', () => {
    expect(evaluateTriggerRule('none_skipped', counts({ success: 1, failed: 2 }))).toBe('run');
    expect(evaluateTriggerRule('none_skipped', counts({ skipped: 1 }))).toBe('skip');
  });
  test('always runs at once; a task with no upstream runs whatever its rule', () => {
    expect(evaluateTriggerRule('always', counts({}))).toBe('run');
    expect(evaluateTriggerRule('one_success', { total: 0, success: 0, failed: 0, skipped: 0, upstreamFailed: 0 })).toBe('run');
  });
});
