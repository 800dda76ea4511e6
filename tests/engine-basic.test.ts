import { dag, SkipTask, NonRetryableError } from '../runtime/index.ts';
import { z } from 'zod';
import { startTestEngine, type TestEngine } from './support/engine.ts';

const order: string[] = [];
const linear = dag({ id: 'linear', params: z.object({ n: z.number().default(2) }) });
const a = linear.task({ id: 'a' }, async (ctx) => { order.push('a'); return { value: ctx.params.n }; });
const b = linear.task({ id: 'b', upstream: [a] }, async (ctx) => { order.push('b'); return ctx.output(a).value * 10; });
linear.task({ id: 'c', upstream: [b] }, async (ctx) => { order.push('c'); return ctx.output(b) + 1; });

let attempts = 0;
const flaky = dag({ id: 'flaky' });
flaky.task({ id: 'sometimes', retries: 2, retryDelayMs: 10 }, async (ctx) => {
  attempts++;
  ctx.log.info('attempt', { try: ctx.tryNumber });
  if (ctx.tryNumber < 3) throw new Error(`boom on try ${ctx.tryNumber}`);
  return 'ok';
});

const fatal = dag({ id: 'fatal' });
const bad = fatal.task({ id: 'bad', retries: 5, retryDelayMs: 10 }, async () => { throw new NonRetryableError('config is wrong'); });
fatal.task({ id: 'after', upstream: [bad] }, async () => 'never');
fatal.task({ id: 'cleanup', upstream: [bad], triggerRule: 'all_done' }, async () => 'cleaned');

const skipping = dag({ id: 'skipping' });
const check = skipping.task({ id: 'check' }, async () => ({ breached: false }));
const alert = skipping.task({ id: 'alert', upstream: [check] }, async () => { throw new SkipTask('within bounds'); });
skipping.task({ id: 'after_alert', upstream: [alert] }, async () => 'x');

const big = dag({ id: 'big_output' });
big.task({ id: 'huge' }, async () => 'x'.repeat(2 * 1024 * 1024));

const slow = dag({ id: 'slow' });
slow.task({ id: 'sleepy', timeoutMs: 100, retries: 1, retryDelayMs: 10 }, async (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));

let te: TestEngine;
beforeAll(async () => {
  te = await startTestEngine([linear, flaky, fatal, skipping, big, slow]);
});
afterAll(async () => te?.close());

test('a linear DAG runs in dependency order and passes typed outputs downstream', async () => {
  const runId = await te.trigger('linear', { n: 4 });
  expect(await te.waitForRun(runId)).toBe('success');
  expect(order).toEqual(['a', 'b', 'c']);
  const { rows } = await te.db.pool.query("SELECT task_id, output FROM weir.task_instance WHERE run_id = $1 ORDER BY task_id", [runId]);
  expect(rows.map((r) => r.output)).toEqual([{ value: 4 }, 40, 41]);
});

test('a failing try is retried up to its retries and every try is kept with its logs', async () => {
  const runId = await te.trigger('flaky');
  expect(await te.waitForRun(runId)).toBe('success');
  expect(attempts).toBe(3);
  const { rows } = await te.db.pool.query('SELECT try_number, state, error, logs FROM weir.task_try WHERE run_id = $1 ORDER BY try_number', [runId]);
  expect(rows.map((r) => r.state)).toEqual(['up_for_retry', 'up_for_retry', 'success']);
  expect(rows[0].error).toBe('boom on try 1');
  expect(rows[2].logs[0]).toMatchObject({ msg: 'attempt', fields: { try: 3 } });
});

test('NonRetryableError fails at once; all_success downstream is upstream_failed, all_done still runs', async () => {
  const runId = await te.trigger('fatal');
  expect(await te.waitForRun(runId)).toBe('failed');
  expect(await te.taskStates(runId)).toEqual({ after: 'upstream_failed', bad: 'failed', cleanup: 'success' });
  const { rows } = await te.db.pool.query('SELECT count(*)::int AS n FROM weir.task_try WHERE run_id = $1 AND task_id = $2', [runId, 'bad']);
  expect(rows[0].n).toBe(1);
});

test('SkipTask skips the task and its all_success downstream; the run succeeds', async () => {
  const runId = await te.trigger('skipping');
  expect(await te.waitForRun(runId)).toBe('success');
  expect(await te.taskStates(runId)).toEqual({ after_alert: 'skipped', alert: 'skipped', check: 'success' });
});

test('an output over the size limit fails the task with advice to stage data in a table', async () => {
  const runId = await te.trigger('big_output');
  expect(await te.waitForRun(runId)).toBe('failed');
  const { rows } = await te.db.pool.query('SELECT error FROM weir.task_try WHERE run_id = $1', [runId]);
  expect(rows[0].error).toMatch(/over the 1048576-byte limit.*stage large data in a table/);
});

test('a timeout aborts the signal, fails the try, and retries apply', async () => {
  const runId = await te.trigger('slow');
  expect(await te.waitForRun(runId)).toBe('failed');
  const { rows } = await te.db.pool.query('SELECT try_number, state, error FROM weir.task_try WHERE run_id = $1 ORDER BY try_number', [runId]);
  expect(rows.map((r) => r.state)).toEqual(['up_for_retry', 'failed']);
  expect(rows[1].error).toMatch(/timed out after 100 ms/);
});
