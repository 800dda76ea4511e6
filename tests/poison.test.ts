/**
 * Regression (issue 10): one value PostgreSQL cannot store (a NUL or a lone
 * surrogate in an output, a log line or an error) made the group commit of try ends
 * fail 20 times while the worker held its slots, and its sibling tries were then
 * declared lost and ran again. Now a poison output fails its own try, non-retryably,
 * log lines and errors are stored with the character replaced, and every sibling in
 * the same batch is recorded once.
 */
import { dag, type TaskRef } from '../runtime/index.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';

const executions = new Map<string, number>();
const d = dag({ id: 'poison', maxActiveRuns: 10 });
const root = d.task({ id: 'root' }, () => 'go');
const siblings: TaskRef<unknown>[] = [];
for (let i = 0; i < 8; i++) {
  siblings.push(d.task({ id: `sibling_${i}`, upstream: [root], retries: 2, retryDelayMs: 0 }, (ctx) => {
    executions.set(`${ctx.runId}/${ctx.taskId}`, (executions.get(`${ctx.runId}/${ctx.taskId}`) ?? 0) + 1);
    return { i };
  }));
}
d.task({ id: 'nul_output', upstream: [root], retries: 2, retryDelayMs: 0 }, () => ({ name: 'a\u0000b' }));
d.task({ id: 'surrogate_output', upstream: [root], retries: 2, retryDelayMs: 0 }, () => ['ok', 'half \ud800 a pair']);
d.task({ id: 'nul_log', upstream: [root] }, (ctx) => {
  ctx.log.info('line with a \u0000 inside', { field: 'x\u0000y' });
  return 'logged';
});
d.task({ id: 'nul_error', upstream: [root] }, () => {
  throw new Error('broken \u0000 message');
});

let te: TestEngine;
beforeAll(async () => {
  te = await startTestEngine([d], { worker: { concurrency: 16 } });
});
afterAll(async () => te?.close());

test('a poison output fails only its own try; logs and errors are stored escaped; siblings run once', async () => {
  const runId = await te.trigger('poison');
  expect(await te.waitForRun(runId)).toBe('failed');
  const states = await te.taskStates(runId);
  for (let i = 0; i < 8; i++) expect(states[`sibling_${i}`]).toBe('success');
  for (let i = 0; i < 8; i++) expect(executions.get(`${runId}/sibling_${i}`)).toBe(1);
  expect(states).toMatchObject({ nul_output: 'failed', surrogate_output: 'failed', nul_log: 'success', nul_error: 'failed' });

  const tries = (await te.db.pool.query('SELECT task_id, try_number, error, logs FROM weir.task_try WHERE run_id = $1 ORDER BY task_id, try_number', [runId])).rows;
  const byTask = new Map(tries.map((t) => [t.task_id, t]));
  // Non-retryable: one try each, although retries: 2.
  expect(tries.filter((t) => t.task_id === 'nul_output')).toHaveLength(1);
  expect(byTask.get('nul_output').error).toBe('output of task "nul_output" cannot be stored: it has a NUL character (\\u0000) at $.name (PostgreSQL\'s jsonb cannot hold it); clean the value or return a summary instead');
  expect(byTask.get('surrogate_output').error).toMatch(/cannot be stored: it has a lone surrogate \(\\ud800\) at \$\[1\]/);
  expect(byTask.get('nul_log').logs[0]).toMatchObject({ msg: 'line with a \uFFFD inside', fields: { field: 'x\uFFFDy' } });
  expect(byTask.get('nul_error').error).toBe('broken \uFFFD message');
  // Nothing was declared lost or run twice.
  expect(tries.filter((t) => /try lost/.test(t.error ?? ''))).toEqual([]);
});
