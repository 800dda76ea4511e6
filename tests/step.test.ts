/**
 * The one-statement step (called by endTriesFast: end_try.sql for one try, end_tries.sql
 * without its "record everything" flag for a batch): what it records and claims by
 * itself, what it leaves untouched for endTries' transaction, and a join whose upstreams
 * end on two workers at once.
 */
import { dag } from '../runtime/index.ts';
import { endTriesFast, endTries, type EndTryInput, type LocalClaim } from '../runtime/engine/runs.ts';
import { sql } from '../runtime/database/sql.ts';
import { TASK_CLAIMABLE, stateList } from '../runtime/states.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';

const chain = dag({ id: 'step_chain' });
const a = chain.task({ id: 'a' }, () => 1);
const b = chain.task({ id: 'b', upstream: [a] }, () => 2);
chain.task({ id: 'c', upstream: [b], triggerRule: 'all_success' }, () => 3);

// A leaf that fails first, then the other leaf's success ends the run in one statement: failed.
const fork = dag({ id: 'step_fork' });
const start = fork.task({ id: 'start' }, () => 0);
fork.task({ id: 'bad', upstream: [start] }, () => 1);
fork.task({ id: 'ok', upstream: [start] }, () => 2);

// A one-shot DAG is paused where its run ends: that step is left to endTries.
const once = dag({ id: 'step_once', pauseAfterSuccess: true });
once.task({ id: 'only' }, () => 1);

const wide = dag({ id: 'step_join' });
const root = wide.task({ id: 'root' }, () => 0);
const branches = Array.from({ length: 40 }, (_, i) => wide.task({ id: `b${i}`, upstream: [root] }, async () => {
  await new Promise((r) => setTimeout(r, i % 5));
  return i;
}));
wide.task({ id: 'join', upstream: branches }, (ctx) => branches.map((t) => ctx.output(t) as number).reduce((x, y) => x + y, 0));

let te: TestEngine;
beforeAll(async () => {
  te = await startTestEngine([chain, fork, once, wide], { worker: false });
});
afterAll(async () => te?.close());

const local = (capacity: number): LocalClaim => ({ capacity, hostname: 'test-host', queue: 'weir_task', taskQueues: new Set(['default']) });

/** Claim a try of a queued task as a worker that fetched its job would. */
async function claim(runId: string, taskId: string, tryNumber = 1): Promise<void> {
  const { rows } = await te.db.pool.query(sql('claim_task_instances'), [[runId], [taskId], [tryNumber], 'test-host', stateList(TASK_CLAIMABLE)]);
  expect(rows).toHaveLength(1);
}

const success = (runId: string, taskId: string, output: unknown, tryNumber = 1, dagId = 'step_chain'): EndTryInput & { dagId: string } => ({
  dagId, runId, taskId, tryNumber, maxTries: 0, queue: 'weir_task', outcome: { kind: 'success', output }, logs: [],
});

const row = async (runId: string, taskId: string) => (await te.db.pool.query<{ state: string; try_number: number; up_success: number; hostname: string | null }>(
  'SELECT state, try_number, up_success, hostname FROM weir.task_instance WHERE run_id = $1 AND task_id = $2', [runId, taskId],
)).rows[0]!;

test('a step records the try and claims its ready successor in one statement; without room it touches nothing', async () => {
  const runId = await te.trigger('step_chain');
  await claim(runId, 'a');
  // No room: b would be ready but cannot be claimed here, so the step is left whole to endTries.
  const none = await endTriesFast(te.engine, te.dags.dags, [success(runId, 'a', 1)], local(0));
  expect(none.results).toEqual([undefined]);
  expect(none.claimed).toEqual([]);
  expect(await row(runId, 'a')).toMatchObject({ state: 'running' });
  expect(await row(runId, 'b')).toMatchObject({ state: 'none', up_success: 0 });

  const room = local(1);
  const fast = await endTriesFast(te.engine, te.dags.dags, [success(runId, 'a', 1)], room);
  expect(fast.results).toEqual([{ recorded: true, state: 'success' }]);
  expect(fast.claimed.map((c) => [c.taskId, c.tryNumber, c.run.dagId])).toEqual([['b', 1, 'step_chain']]);
  expect(room.capacity).toBe(0);
  expect(await row(runId, 'a')).toMatchObject({ state: 'success' });
  expect(await row(runId, 'b')).toMatchObject({ state: 'running', try_number: 1, up_success: 1, hostname: 'test-host' });
  const tries = await te.db.pool.query('SELECT task_id, state FROM weir.task_try WHERE run_id = $1', [runId]);
  expect(tries.rows).toEqual([{ task_id: 'a', state: 'success' }]);

  // Ending the same try again changes nothing: it is no longer the running one.
  const again = await endTriesFast(te.engine, te.dags.dags, [success(runId, 'a', 1)], local(1));
  expect(again.results).toEqual([undefined]);
  const stale = await endTries(te.engine, te.dags.dags, [success(runId, 'a', 1)], local(1));
  expect(stale.results).toEqual([{ recorded: false }]);
  expect(await row(runId, 'b')).toMatchObject({ state: 'running', up_success: 1 });
});

test('a batch of tries of several runs is one statement too: each run recorded as its one try would be, or left whole', async () => {
  const runs = [await te.trigger('step_chain'), await te.trigger('step_chain'), await te.trigger('step_chain')];
  for (const runId of runs) await claim(runId, 'a');
  // Room for two claims: the first two runs in key order are recorded and claim b; the third is left untouched.
  const [r1, r2, r3] = [...runs].sort();
  const room = local(2);
  const batch = await endTriesFast(te.engine, te.dags.dags, [success(r3!, 'a', 1), success(r1!, 'a', 1), success(r2!, 'a', 1)], room);
  expect(batch.results).toEqual([undefined, { recorded: true, state: 'success' }, { recorded: true, state: 'success' }]);
  expect(batch.claimed.map((c) => `${c.runId} ${c.taskId}`).sort()).toEqual([`${r1} b`, `${r2} b`]);
  expect(room.capacity).toBe(0);
  for (const runId of [r1!, r2!]) expect(await row(runId, 'b')).toMatchObject({ state: 'running', up_success: 1, hostname: 'test-host' });
  expect(await row(r3!, 'a')).toMatchObject({ state: 'running' });
  expect(await row(r3!, 'b')).toMatchObject({ state: 'none', up_success: 0 });
});

const runRow = async (runId: string) => (await te.db.pool.query<{ state: string; unfinished: number }>('SELECT state, unfinished FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0]!;

test('a failure is left to endTries untouched; the step that ends its run ends it, by the leaf rule', async () => {
  const runId = await te.trigger('step_chain');
  await claim(runId, 'a');
  const failed = await endTriesFast(te.engine, te.dags.dags, [{ ...success(runId, 'a', null), outcome: { kind: 'failed', error: new Error('boom'), retryable: false } }], local(4));
  expect(failed.results).toEqual([undefined]);
  expect(await row(runId, 'a')).toMatchObject({ state: 'running' });

  const room = local(4);
  await endTriesFast(te.engine, te.dags.dags, [success(runId, 'a', 1)], room);
  await endTriesFast(te.engine, te.dags.dags, [success(runId, 'b', 2)], room);
  expect(await row(runId, 'c')).toMatchObject({ state: 'running' });
  expect(await runRow(runId)).toEqual({ state: 'running', unfinished: 1 });
  // c is the run's last task: the same statement ends the run.
  const last = await endTriesFast(te.engine, te.dags.dags, [success(runId, 'c', 3)], room);
  expect(last.results).toEqual([{ recorded: true, state: 'success', runState: 'success' }]);
  expect(await runRow(runId)).toEqual({ state: 'success', unfinished: 0 });

  const forked = await te.trigger('step_fork');
  await claim(forked, 'start');
  const claims = await endTriesFast(te.engine, te.dags.dags, [success(forked, 'start', 0, 1, 'step_fork')], local(2));
  expect(claims.claimed.map((c) => c.taskId).sort()).toEqual(['bad', 'ok']);
  const badLeaf = await endTries(te.engine, te.dags.dags, [{ ...success(forked, 'bad', null, 1, 'step_fork'), outcome: { kind: 'failed', error: new Error('bad leaf'), retryable: false } }]);
  expect(badLeaf.results).toEqual([{ recorded: true, state: 'failed' }]);
  const ended = await endTriesFast(te.engine, te.dags.dags, [success(forked, 'ok', 2, 1, 'step_fork')], local(0));
  expect(ended.results).toEqual([{ recorded: true, state: 'success', runState: 'failed' }]);
  expect(await runRow(forked)).toEqual({ state: 'failed', unfinished: 0 });

  const oneShot = await te.trigger('step_once');
  await claim(oneShot, 'only');
  expect((await endTriesFast(te.engine, te.dags.dags, [success(oneShot, 'only', 1, 1, 'step_once')], local(1))).results).toEqual([undefined]);
  expect(await runRow(oneShot)).toEqual({ state: 'running', unfinished: 1 });
  expect((await endTries(te.engine, te.dags.dags, [success(oneShot, 'only', 1, 1, 'step_once')], local(1))).results).toEqual([{ recorded: true, state: 'success', runState: 'success' }]);
  const paused = await te.db.pool.query<{ is_paused: boolean }>("SELECT is_paused FROM weir.dag WHERE dag_id = 'step_once'");
  expect(paused.rows[0]?.is_paused).toBe(true);
});

test('a join whose 40 upstreams end on two workers at once runs once, with every output', async () => {
  await te.startWorker({ concurrency: 3, hostname: 'w1' });
  await te.startWorker({ concurrency: 5, hostname: 'w2' });
  for (let k = 0; k < 3; k++) {
    const runId = await te.trigger('step_join');
    expect(await te.waitForRun(runId)).toBe('success');
    const { rows } = await te.db.pool.query<{ try_number: number; up_success: number; output: number }>(
      "SELECT try_number, up_success, output FROM weir.task_instance WHERE run_id = $1 AND task_id = 'join'", [runId],
    );
    expect(rows[0]).toEqual({ try_number: 1, up_success: 40, output: (39 * 40) / 2 });
    const hosts = await te.db.pool.query<{ n: number }>("SELECT count(DISTINCT hostname)::int AS n FROM weir.task_instance WHERE run_id = $1 AND task_id LIKE 'b%'", [runId]);
    expect(hosts.rows[0]!.n).toBe(2);
  }
});
