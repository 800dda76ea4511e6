/**
 * Dynamic task mapping (Airflow's expand()): a task mapped over an upstream list becomes
 * one task instance per item at run time, each with its own tries, state, logs and output;
 * downstream reads the outputs as a list in order; trigger rules see the instances; an
 * empty list skips the task; clearing a failed instance re-runs only it and what depends on
 * it; a list over maxMapLength fails the task that returned it. A real `weir worker` on a
 * real PostgreSQL, driven through the CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { dag } from '../runtime/index.ts';
import { validateDag } from '../runtime/loader/graph.ts';
import { ROOT, eventually, runWeir, startWeir, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;
let worker: RunningProcess;
const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-mapping-'));

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-mapping') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  worker = startWeir(['worker', '--concurrency', '4'], env);
  await worker.waitFor(/worker started/);
}, 60_000);

afterAll(async () => {
  await worker?.stop('SIGTERM');
  await pool?.end();
  await testDb?.drop();
  fs.rmSync(markers, { recursive: true, force: true });
});

async function trigger(...params: string[]): Promise<string> {
  const out = await runWeir(['trigger', 'mapped', '--json', ...params.flatMap((p) => ['-p', p])], env);
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout).run_id as string;
}
type Shown = { state: string; task_instances: { task_id: string; map_task: string | null; map_index: number | null; state: string; try_number: number }[] };
const show = async (runId: string) => JSON.parse((await runWeir(['runs', 'show', runId, '--json'], env)).stdout) as Shown;
const ended = (runId: string) => eventually(async () => {
  const r = await show(runId);
  return ['success', 'failed'].includes(r.state) ? r : undefined;
}, 60_000, `run ${runId}`);
const states = (r: Shown) => Object.fromEntries(r.task_instances.map((t) => [t.task_id, t.state]));

test('a task mapped over 5 items runs 5 instances; downstream reads their outputs in order; the logs and outputs of each are readable', async () => {
  const runId = await trigger('n=5');
  const r = await ended(runId);
  expect(r.state).toBe('success');
  expect(states(r)).toEqual({
    items: 'success', 'work[0]': 'success', 'work[1]': 'success', 'work[2]': 'success', 'work[3]': 'success', 'work[4]': 'success',
    total: 'success', on_failure: 'skipped',
  });
  expect(r.task_instances.filter((t) => t.map_task === 'work').map((t) => t.map_index).sort()).toEqual([0, 1, 2, 3, 4]);
  const total = JSON.parse((await runWeir(['tasks', 'output', runId, 'total', '--json'], env)).stdout);
  expect(total.output).toEqual({ values: [0, 10, 20, 30, 40], sum: 100 });
  // One instance's own log and output.
  const logs = JSON.parse((await runWeir(['tasks', 'logs', runId, 'work', '--map-index', '3', '--json'], env)).stdout);
  expect(logs.tries).toHaveLength(1);
  expect(logs.tries[0].logs[0]).toMatchObject({ msg: 'working', fields: { day: 3, map_index: 3 } });
  expect(JSON.parse((await runWeir(['tasks', 'output', runId, 'work', '--map-index', '4', '--json'], env)).stdout).output).toBe(40);
  // The mapped task as a whole: its outputs as one list.
  expect(JSON.parse((await runWeir(['tasks', 'output', runId, 'work', '--json'], env)).stdout).output).toEqual([0, 10, 20, 30, 40]);
  // Without --map-index, logs say how to pick an instance (bad input: exit 2).
  const noIndex = await runWeir(['tasks', 'logs', runId, 'work'], env);
  expect(noIndex.code).toBe(2);
  expect(noIndex.stderr).toContain('is mapped into 5 instances: pass --map-index 0 to 4');
  const badIndex = await runWeir(['tasks', 'logs', runId, 'work', '--map-index', '-1'], env);
  expect(badIndex.code).toBe(2);
  expect(badIndex.stderr).toContain('--map-index must be an integer >= 0');
});

test('an empty list skips the mapped task, and all_success downstream is skipped too', async () => {
  const r = await ended(await trigger('n=0'));
  expect(r.state).toBe('success');
  expect(states(r)).toEqual({ items: 'success', work: 'skipped', total: 'skipped', on_failure: 'skipped' });
});

test('a failed instance fails alone; one_failed downstream runs; clear --failed re-runs only it and what depends on it', async () => {
  fs.writeFileSync(path.join(markers, '2'), '');
  const runId = await trigger('n=4', `markers=${markers}`);
  const failed = await ended(runId);
  expect(failed.state).toBe('failed');
  expect(states(failed)).toEqual({
    items: 'success', 'work[0]': 'success', 'work[1]': 'success', 'work[2]': 'failed', 'work[3]': 'success', total: 'upstream_failed', on_failure: 'success',
  });
  fs.rmSync(path.join(markers, '2'));
  const cleared = await runWeir(['clear', runId, '--failed', '--json'], env);
  expect(cleared.code).toBe(0);
  expect(JSON.parse(cleared.stdout).cleared.sort()).toEqual(['on_failure', 'total', 'work[2]']);
  const again = await ended(runId);
  expect(again.state).toBe('success');
  const tries = Object.fromEntries(again.task_instances.map((t) => [t.task_id, t.try_number]));
  // Only the failed instance ran again; its siblings and the list kept their one try.
  expect(tries).toMatchObject({ items: 1, 'work[0]': 1, 'work[1]': 1, 'work[2]': 2, 'work[3]': 1 });
  expect(states(again)).toMatchObject({ 'work[2]': 'success', total: 'success', on_failure: 'skipped' });
  expect(JSON.parse((await runWeir(['tasks', 'output', runId, 'total', '--json'], env)).stdout).output).toEqual({ values: [0, 10, 20, 30], sum: 60 });
});

test('a list longer than maxMapLength (1,024 by default) fails the task that returned it, saying so', async () => {
  const runId = await trigger('n=1025');
  const r = await ended(runId);
  expect(r.state).toBe('failed');
  // one_failed counts upstream_failed as failed (Airflow's rule).
  expect(states(r)).toEqual({ items: 'failed', work: 'upstream_failed', total: 'upstream_failed', on_failure: 'success' });
  const logs = JSON.parse((await runWeir(['tasks', 'logs', runId, 'items', '--json'], env)).stdout);
  expect(logs.tries[0].error).toBe('output of task "items" has 1025 items, over the maxMapLength of 1024 of task "work", which is mapped over it; return fewer items (larger chunks) or raise maxMapLength');
});

test('dags show reads the mapped task statically; tasks test runs one item', async () => {
  const shown = JSON.parse((await runWeir(['dags', 'show', 'mapped', '--format', 'json'], env)).stdout);
  const work = shown.tasks.find((t: { task_id: string }) => t.task_id === 'work');
  expect(work).toMatchObject({ mapped_over: 'items', upstream: ['items'], downstream: ['total', 'on_failure'] });
  expect(shown.uncertain).toEqual([]);
  const tree = await runWeir(['dags', 'show', 'mapped'], env);
  expect(tree.stdout).toContain('mapped over items');
  const tested = await runWeir(['tasks', 'test', 'mapped', 'work', '--outputs', '{"items": [{"day": 7}, {"day": 8}]}', '--map-index', '1', '--json'], env);
  expect(tested.code).toBe(0);
  expect(JSON.parse(tested.stdout)).toMatchObject({ state: 'success', output: 80 });
});

test('bad mapping options are DAG problems', () => {
  const d = dag({ id: 'bad_map' });
  const list = d.task({ id: 'list' }, () => [1]);
  d.map({ id: 'always', over: list, triggerRule: 'always' }, () => 1);
  d.map({ id: 'zero', over: list, maxMapLength: 0 }, () => 1);
  const problems = validateDag(d, 'bad_map.ts');
  expect(problems.some((p) => p.includes('task "always"') && p.includes('a mapped task cannot use trigger rule "always"'))).toBe(true);
  expect(problems.some((p) => p.includes('task "zero"') && p.includes('maxMapLength must be an integer >= 1'))).toBe(true);
});

test('pauseAfterSuccess: a one-shot DAG is paused by weir once a run of it succeeds', async () => {
  const paused = async () => (JSON.parse((await runWeir(['dags', 'list', '--json'], env)).stdout).dags as { dag_id: string; paused: boolean | null }[]).find((x) => x.dag_id === 'one_shot')!.paused;
  expect((await runWeir(['dags', 'unpause', 'one_shot'], env)).code).toBe(0);
  expect(await paused()).toBe(false);
  const out = await runWeir(['trigger', 'one_shot', '--json'], env);
  expect(out.code).toBe(0);
  expect((await ended(JSON.parse(out.stdout).run_id)).state).toBe('success');
  expect(await paused()).toBe(true);
});
