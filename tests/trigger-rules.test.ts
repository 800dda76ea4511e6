/**
 * Airflow's trigger-rule table as weir decides it: weir.trigger_decision (migration 0015),
 * on a real PostgreSQL, the one place the statements that end tries decide successors with.
 */
import pg from 'pg';
import { openDatabaseUrl, type Database } from '../runtime/database/connect.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import type { TriggerRule } from '../runtime/states.ts';
import type { TriggerDecision } from '../runtime/authoring/trigger-rules.ts';

interface UpstreamCounts { total: number; success: number; failed: number; skipped: number; upstreamFailed: number }
const counts = (over: Partial<UpstreamCounts>): UpstreamCounts => ({ total: 3, success: 0, failed: 0, skipped: 0, upstreamFailed: 0, ...over });

let testDb: TestDatabase;
let db: Database;
let pool: pg.Pool;
beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabaseUrl(testDb.url, { migrate: true });
  pool = db.pool;
});
afterAll(async () => {
  await db.close();
  await testDb.drop();
});

async function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): Promise<TriggerDecision> {
  const { rows } = await pool.query<{ d: TriggerDecision }>('SELECT weir.trigger_decision($1, $2, $3, $4, $5, $6) AS d', [rule, c.total, c.success, c.failed, c.skipped, c.upstreamFailed]);
  return rows[0]!.d;
}

describe('weir.trigger_decision', () => {
  test('all_success waits, runs on all success, gives up early on a failure, skips on a skip', async () => {
    expect(await evaluateTriggerRule('all_success', counts({ success: 2 }))).toBe('wait');
    expect(await evaluateTriggerRule('all_success', counts({ success: 3 }))).toBe('run');
    expect(await evaluateTriggerRule('all_success', counts({ failed: 1 }))).toBe('upstream_failed');
    expect(await evaluateTriggerRule('all_success', counts({ upstreamFailed: 1, success: 2 }))).toBe('upstream_failed');
    expect(await evaluateTriggerRule('all_success', counts({ skipped: 1, success: 2 }))).toBe('skip');
  });
  test('all_failed runs only when every upstream failed', async () => {
    expect(await evaluateTriggerRule('all_failed', counts({ failed: 2, upstreamFailed: 1 }))).toBe('run');
    expect(await evaluateTriggerRule('all_failed', counts({ failed: 2 }))).toBe('wait');
    expect(await evaluateTriggerRule('all_failed', counts({ failed: 1, success: 1 }))).toBe('skip');
    expect(await evaluateTriggerRule('all_failed', counts({ skipped: 1 }))).toBe('skip');
  });
  test('all_done runs once everything finished in any state', async () => {
    expect(await evaluateTriggerRule('all_done', counts({ failed: 1, skipped: 1 }))).toBe('wait');
    expect(await evaluateTriggerRule('all_done', counts({ failed: 1, skipped: 1, success: 1 }))).toBe('run');
  });
  test('one_success runs on the first success, else upstream_failed or skipped', async () => {
    expect(await evaluateTriggerRule('one_success', counts({ success: 1 }))).toBe('run');
    expect(await evaluateTriggerRule('one_success', counts({ failed: 2 }))).toBe('wait');
    expect(await evaluateTriggerRule('one_success', counts({ failed: 2, skipped: 1 }))).toBe('upstream_failed');
    expect(await evaluateTriggerRule('one_success', counts({ skipped: 3 }))).toBe('skip');
  });
  test('one_failed runs on the first failure, skips when all done without one', async () => {
    expect(await evaluateTriggerRule('one_failed', counts({ failed: 1 }))).toBe('run');
    expect(await evaluateTriggerRule('one_failed', counts({ success: 2 }))).toBe('wait');
    expect(await evaluateTriggerRule('one_failed', counts({ success: 2, skipped: 1 }))).toBe('skip');
  });
  test('none_failed accepts skips, not failures', async () => {
    expect(await evaluateTriggerRule('none_failed', counts({ success: 2, skipped: 1 }))).toBe('run');
    expect(await evaluateTriggerRule('none_failed', counts({ skipped: 3 }))).toBe('run');
    expect(await evaluateTriggerRule('none_failed', counts({ failed: 1 }))).toBe('upstream_failed');
    expect(await evaluateTriggerRule('none_failed', counts({ success: 2 }))).toBe('wait');
  });
  test('none_failed_min_one_success needs a success and no failure', async () => {
    expect(await evaluateTriggerRule('none_failed_min_one_success', counts({ success: 1, skipped: 2 }))).toBe('run');
    expect(await evaluateTriggerRule('none_failed_min_one_success', counts({ skipped: 3 }))).toBe('skip');
    expect(await evaluateTriggerRule('none_failed_min_one_success', counts({ upstreamFailed: 1 }))).toBe('upstream_failed');
  });
  test('none_skipped runs when done with no skip, in any other state', async () => {
    expect(await evaluateTriggerRule('none_skipped', counts({ success: 1, failed: 2 }))).toBe('run');
    expect(await evaluateTriggerRule('none_skipped', counts({ skipped: 1 }))).toBe('skip');
  });
  test('always runs at once; a task with no upstream runs whatever its rule', async () => {
    expect(await evaluateTriggerRule('always', counts({}))).toBe('run');
    expect(await evaluateTriggerRule('one_success', { total: 0, success: 0, failed: 0, skipped: 0, upstreamFailed: 0 })).toBe('run');
  });
});
