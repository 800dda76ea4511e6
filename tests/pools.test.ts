/**
 * Pools: five tries of a pool of 2 on two `weir worker` processes (4 slots each) — at most
 * 2 run at once, the others wait with the reason in `weir runs show`, `weir pools list`
 * counts them, and resizing the pool lets more in at once. A task whose pool does not exist
 * waits, saying so, and runs once `weir pools set` creates it. Bad pool options are DAG
 * problems; bad CLI input is exit 2.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { dag } from '../runtime/index.ts';
import { validateDag } from '../runtime/loader/graph.ts';
import { ROOT, eventually, runWeir, startWorkers, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-pools-'));
const workers: RunningProcess[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_CONN_WAREHOUSE: testDb.url, WEIR_HOME: home, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-pools') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  await pool.query('CREATE TABLE public.pool_log (id bigserial PRIMARY KEY, task text, event text, at timestamptz DEFAULT clock_timestamp())');
  await pool.query('CREATE TABLE public.pool_gate (open boolean NOT NULL)');
  await pool.query('INSERT INTO public.pool_gate VALUES (false)');
  await startWorkers(2, 4, env, workers);
}, 60_000);

afterAll(async () => {
  for (const w of workers) await w.stop('SIGTERM');
  await pool?.end();
  await testDb?.drop();
  fs.rmSync(home, { recursive: true, force: true });
});

const setGate = (open: boolean) => pool.query('UPDATE public.pool_gate SET open = $1', [open]);
const started = async (prefix = 't') => Number((await pool.query("SELECT count(*) FROM public.pool_log WHERE event = 'start' AND task LIKE $1 || '%'", [prefix])).rows[0].count);
async function trigger(dagId: string): Promise<string> {
  const out = await runWeir(['trigger', dagId, '--json'], env);
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout).run_id as string;
}
const show = async (runId: string) => JSON.parse((await runWeir(['runs', 'show', runId, '--json'], env)).stdout) as { state: string; waiting: string | null; task_instances: { task_id: string; state: string }[] };
const ended = (runId: string) => eventually(async () => {
  const r = await show(runId);
  return ['success', 'failed'].includes(r.state) ? r.state : undefined;
}, 60_000, `run ${runId}`);
/** The most tries that held the gate at one moment, from their start and end lines. */
async function peak(): Promise<number> {
  const { rows } = await pool.query<{ event: string }>('SELECT event FROM public.pool_log ORDER BY at, id');
  let now = 0;
  let most = 0;
  for (const r of rows) {
    now += r.event === 'start' ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
}

test('a pool of 2: two tries run at once across two workers, the rest wait with the reason; a bigger pool lets more in', async () => {
  const runId = await trigger('pooled');
  await eventually(async () => (await started()) === 2, 30_000, 'two tries holding the pool');
  // The other three wait, and say what for.
  const waiting = await eventually(async () => {
    const r = await show(runId);
    return r.waiting?.includes('t') && r.waiting.split(';').length === 3 ? r : undefined;
  }, 30_000, 'the waiting reason');
  expect(waiting.waiting).toMatch(/^t\d waits for a slot of pool api \(2 of 2 in use\); t\d waits for a slot of pool api \(2 of 2 in use\); t\d waits for a slot of pool api \(2 of 2 in use\)$/);
  expect(waiting.task_instances.filter((t) => t.state === 'running')).toHaveLength(2);
  const listed = JSON.parse((await runWeir(['pools', 'list', '--json'], env)).stdout);
  expect(listed.pools).toEqual([expect.objectContaining({ name: 'api', slots: 2, running: 2, waiting: 3, updated_by: 'dag' })]);
  expect(await started()).toBe(2);

  await setGate(true);
  expect(await ended(runId)).toBe('success');
  expect(await started()).toBe(5);
  expect(await peak()).toBe(2);

  // Resized: five at once.
  expect(await runWeir(['pools', 'set', 'api', '--slots', '5', '--description', 'the partner API'], env)).toMatchObject({ code: 0, stdout: 'pool api: 5 slot(s)\n' });
  await setGate(false);
  await pool.query('TRUNCATE public.pool_log');
  const again = await trigger('pooled');
  await eventually(async () => (await started()) === 5, 30_000, 'five tries at once');
  await setGate(true);
  expect(await ended(again)).toBe('success');
  expect(await peak()).toBe(5);
}, 120_000);

test('a task whose pool does not exist waits, saying so, and runs once the pool is set', async () => {
  await setGate(true);
  const runId = await trigger('pool_missing');
  const r = await eventually(async () => {
    const s = await show(runId);
    return s.waiting ? s : undefined;
  }, 30_000, 'the waiting reason');
  expect(r.waiting).toBe('call waits for pool not_yet, which does not exist: `weir pools set not_yet --slots N`');
  expect(await started('missing')).toBe(0);
  expect((await runWeir(['pools', 'set', 'not_yet', '--slots', '1'], env)).code).toBe(0);
  expect(await ended(runId)).toBe('success');
  expect(await started('missing')).toBe(1);
}, 90_000);

test('bad pools are DAG problems and bad CLI input exit 2', async () => {
  const d = dag({ id: 'bad_pools', pools: { 'Bad-Name': 2 } });
  d.task({ id: 't', pool: 'UPPER', poolSlots: 0 }, () => 1);
  const problems = validateDag(d, 'bad.ts').join('\n');
  expect(problems).toContain('pools must be { name: slots } with names matching');
  expect(problems).toContain('task "t": pool must be a pool name');
  expect(problems).toContain('task "t": poolSlots must be an integer >= 1');
  expect(await runWeir(['pools', 'set', 'api', '--slots', 'many'], env)).toMatchObject({ code: 2, stderr: 'weir: --slots must be a whole number from 0 to 1000000, got "many"\n' });
  expect(await runWeir(['pools', 'set', 'Bad', '--slots', '1'], env)).toMatchObject({ code: 2 });
  expect(await runWeir(['pools', 'delete', 'nope'], env)).toMatchObject({ code: 2, stderr: 'weir: no pool nope (see `weir pools list`)\n' });
});
