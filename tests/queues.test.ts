/**
 * Task queues (Airflow's): a task's `queue` routes its tries to workers started with that
 * queue in `weir worker --queues`. With only a default worker, the heavy task waits and its
 * run says which queue has no worker; a `--queues heavy` worker runs it; the default worker
 * runs what follows (a heavy-only worker never takes it, not even as the finishing worker).
 * `weir dags test` works every queue. Real `weir worker` processes on a real PostgreSQL.
 */
import path from 'node:path';
import pg from 'pg';
import { dag } from '../runtime/index.ts';
import { validateDag } from '../runtime/loader/graph.ts';
import { ROOT, eventually, runWeir, startWeir, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;
const workers: RunningProcess[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-queues') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
}, 60_000);

afterAll(async () => {
  for (const w of workers) await w.stop('SIGTERM');
  await pool?.end();
  await testDb?.drop();
});

function worker(...args: string[]): RunningProcess {
  const w = startWeir(['worker', '--concurrency', '2', ...args], env);
  workers.push(w);
  return w;
}
const show = async (runId: string) => JSON.parse((await runWeir(['runs', 'show', runId, '--json'], env)).stdout) as { state: string; waiting: string | null; task_instances: { task_id: string; state: string; hostname: string }[] };

test('a task on queue heavy waits, saying so, until a --queues heavy worker runs it; the default worker runs the rest', async () => {
  const light = worker();
  await light.waitFor(/worker started/);
  const out = await runWeir(['trigger', 'routed', '--json'], env);
  expect(out.code).toBe(0);
  const runId = JSON.parse(out.stdout).run_id as string;
  const waiting = await eventually(async () => {
    const r = await show(runId);
    return r.waiting?.includes('task queue heavy') ? r : undefined;
  }, 30_000, 'the run to say it waits for queue heavy');
  expect(waiting.waiting).toBe('waiting for a worker of task queue heavy: 1 worker(s) alive, none works it; start one with `npx weir worker --queues heavy`');
  expect(Object.fromEntries(waiting.task_instances.map((t) => [t.task_id, t.state]))).toEqual({ light: 'success', crunch: 'queued', after: 'none' });

  const heavy = worker('--queues', 'heavy');
  await heavy.waitFor(/worker started/);
  const done = await eventually(async () => {
    const r = await show(runId);
    return r.state === 'success' ? r : undefined;
  }, 30_000, 'the run to finish');
  const host = Object.fromEntries(done.task_instances.map((t) => [t.task_id, t.hostname]));
  expect(host.light).toMatch(new RegExp(`:${light.child.pid}$`));
  expect(host.crunch).toMatch(new RegExp(`:${heavy.child.pid}$`));
  // The heavy worker ended crunch, but `after` is on the default queue: the default worker ran it.
  expect(host.after).toMatch(new RegExp(`:${light.child.pid}$`));
  const after = JSON.parse((await runWeir(['tasks', 'output', runId, 'after', '--json'], env)).stdout);
  expect(after.output).toBe('crunched then after');
  const listed = JSON.parse((await runWeir(['workers', 'list', '--json'], env)).stdout).workers as { pid: number; queue: string }[];
  expect(listed.find((w) => w.pid === heavy.child.pid)!.queue).toBe('weir_task__heavy');
  expect(listed.find((w) => w.pid === light.child.pid)!.queue).toBe('weir_task');
});

test('dags test runs every queue in its own process', async () => {
  const r = await runWeir(['dags', 'test', 'routed', '--json'], env);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).state).toBe('success');
});

test('bad queue names: a DAG problem, and exit 2 for --queues', async () => {
  const d = dag({ id: 'bad_queue' });
  d.task({ id: 't', queue: 'Heavy Lifting' }, () => 1);
  expect(validateDag(d, 'bad_queue.ts').some((p) => p.includes('task "t"') && p.includes('queue must be a queue name'))).toBe(true);
  const bad = await runWeir(['worker', '--queues', 'heavy,Bad!'], env);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--queues: "Bad!" is not a queue name');
});
