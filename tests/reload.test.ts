/**
 * Live DAG code and no run stuck without a reason (issue 9): workers reload added,
 * changed and removed DAG files without a restart; a run keeps the shape it was
 * created with; a try no live worker can run waits visibly and runs as soon as a
 * worker that has its DAG appears. Real processes, a real PostgreSQL, DAG files in a
 * folder of the test's own (outside the repository).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ROOT, runWeir, startWeir, eventually, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let tmp: string;
const started: RunningProcess[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-reload-'));
  expect((await runWeir(['db', 'migrate'], { WEIR_DATABASE_URL: testDb.url })).code).toBe(0);
});
afterAll(async () => {
  for (const p of started) await p.stop('SIGKILL');
  await pool.end();
  await testDb.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function folder(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const envFor = (dags: string) => ({ WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: dags, WEIR_HEARTBEAT_INTERVAL_MS: '300', WEIR_TASK_LOST_AFTER_MS: '3000', WEIR_REAP_INTERVAL_MS: '300' });

function worker(dags: string, extra: Record<string, string> = {}): RunningProcess {
  const w = startWeir(['worker', '--concurrency', '4'], { ...envFor(dags), ...extra });
  started.push(w);
  return w;
}

/** Count of "DAG files reloaded" lines a worker has printed. */
const reloads = (w: RunningProcess) => (w.output().match(/DAG files reloaded/g) ?? []).length;

async function trigger(dags: string, dagId: string): Promise<string> {
  const r = await runWeir(['trigger', dagId, '--json'], envFor(dags));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).run_id;
}

async function runEnd(runId: string, timeoutMs = 30_000): Promise<string> {
  return eventually(async () => (await pool.query("SELECT state FROM weir.dag_run WHERE run_id = $1 AND state IN ('success', 'failed')", [runId])).rows[0]?.state as string | undefined, timeoutMs, `run ${runId} to end`);
}

const versioned = (id: string, value: string) => `import { dag } from 'weir';
const d = dag({ id: '${id}' });
d.task({ id: 'say' }, () => '${value}');
export default d;
`;

test('a DAG edited while a worker runs changes what the next run executes; each run records its file hash', async () => {
  const dags = folder('edited');
  fs.writeFileSync(path.join(dags, 'versioned.ts'), versioned('versioned', 'v1'));
  // A long backstop re-scan: the folder watch alone must notice the edit.
  const w = worker(dags, { WEIR_DAG_RESCAN_MS: '600000' });
  await w.waitFor(/worker started/);
  const first = await trigger(dags, 'versioned');
  expect(await runEnd(first)).toBe('success');
  const before = reloads(w);
  fs.writeFileSync(path.join(dags, 'versioned.ts'), versioned('versioned', 'v2'));
  await eventually(async () => reloads(w) > before, 20_000, 'worker to reload the edited file');
  const second = await trigger(dags, 'versioned');
  expect(await runEnd(second)).toBe('success');
  const outputs = (await pool.query('SELECT r.run_id, r.dag_hash, r.dag_file, ti.output FROM weir.dag_run r JOIN weir.task_instance ti USING (run_id) WHERE r.run_id = ANY($1)', [[first, second]])).rows;
  const byRun = new Map(outputs.map((o) => [o.run_id, o]));
  expect(byRun.get(first).output).toBe('v1');
  expect(byRun.get(second).output).toBe('v2');
  expect(byRun.get(first).dag_file).toBe('versioned.ts');
  expect(byRun.get(first).dag_hash).toMatch(/^[0-9a-f]{16}$/);
  expect(byRun.get(second).dag_hash).not.toBe(byRun.get(first).dag_hash);
  const shown = await runWeir(['runs', 'show', second], envFor(dags));
  expect(shown.stdout).toContain(`DAG file versioned.ts (content hash ${byRun.get(second).dag_hash})`);
  await w.stop();
});

test('regression: a DAG file added after the worker started runs when triggered, with no restart', async () => {
  const dags = folder('added');
  fs.writeFileSync(path.join(dags, 'first.ts'), versioned('first', 'here from the start'));
  const w = worker(dags);
  await w.waitFor(/worker started/);
  const before = reloads(w);
  fs.writeFileSync(path.join(dags, 'latecomer.ts'), versioned('latecomer', 'added later'));
  await eventually(async () => reloads(w) > before, 20_000, 'worker to load the new file');
  const r = await runWeir(['trigger', 'latecomer', '--wait', '--json'], envFor(dags));
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).state).toBe('success');
  const listed = JSON.parse((await runWeir(['workers', 'list', '--json'], envFor(dags))).stdout).workers;
  const me = listed.find((x: { pid: number }) => x.pid === w.child.pid);
  expect(me.status).toBe('alive');
  expect(me.dags.map((d: { dag_id: string }) => d.dag_id).sort()).toEqual(['first', 'latecomer']);
  await w.stop();
});

test('a task removed from its file mid-run fails with a clear message; the run keeps the shape it was created with', async () => {
  const dags = folder('removed');
  const flag = path.join(tmp, 'release-first');
  const file = path.join(dags, 'shape.ts');
  fs.writeFileSync(file, `import fs from 'node:fs';
import { dag } from 'weir';
const d = dag({ id: 'shape' });
const first = d.task({ id: 'first' }, async () => {
  while (!fs.existsSync(${JSON.stringify(flag)})) await new Promise((r) => setTimeout(r, 20));
  return 1;
});
d.task({ id: 'second', upstream: [first] }, () => 2);
export default d;
`);
  const w = worker(dags);
  await w.waitFor(/worker started/);
  const runId = await trigger(dags, 'shape');
  await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND task_id = 'first' AND state = 'running'", [runId])).rowCount, 20_000, 'first running');
  const before = reloads(w);
  fs.writeFileSync(file, `import { dag } from 'weir';
const d = dag({ id: 'shape' });
d.task({ id: 'first' }, () => 1);
export default d;
`);
  await eventually(async () => reloads(w) > before, 20_000, 'worker to reload the shortened file');
  fs.writeFileSync(flag, '');
  expect(await runEnd(runId)).toBe('failed');
  const tis = (await pool.query('SELECT task_id, state FROM weir.task_instance WHERE run_id = $1 ORDER BY task_id', [runId])).rows;
  expect(tis).toEqual([{ task_id: 'first', state: 'success' }, { task_id: 'second', state: 'failed' }]);
  const [t] = (await pool.query("SELECT try_number, error FROM weir.task_try WHERE run_id = $1 AND task_id = 'second'", [runId])).rows;
  expect(t.try_number).toBe(1);
  expect(t.error).toMatch(/DAG "shape" has no task "second" any more in shape\.ts .*\(the DAG file changed after the run was created\)/);
  await w.stop();
});

test('regression: a run of a DAG no live worker can run waits with the reason, and finishes once a worker that has it starts', async () => {
  const good = folder('good');
  const broken = folder('broken');
  fs.writeFileSync(path.join(good, 'late.ts'), versioned('late', 'finally'));
  fs.writeFileSync(path.join(broken, 'late.ts'), `import { dag } from 'weir';\nconst d = dag({ id: 'late' });\nd.task({ id: 'say' }, () => { return 'oops' ;;; )\nexport default d;\n`);
  const a = worker(broken);
  await a.waitFor(/worker started/);
  const runId = await trigger(good, 'late');
  await a.waitFor(/handed back/, 20_000);
  const shown = JSON.parse((await runWeir(['runs', 'show', runId, '--json'], envFor(good))).stdout);
  expect(shown.state).toBe('queued');
  expect(shown.waiting).toMatch(/^no live worker has DAG late \(1 worker\(s\) alive; broken there: .*late\.ts.*\); it runs as soon as one has it$/);
  // pg-boss never gave up on the try: its job was completed (handed back), none failed.
  const failedJobs = (await pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE state = 'failed'")).rows[0].n;
  expect(failedJobs).toBe(0);
  const b = worker(good);
  expect(await runEnd(runId)).toBe('success');
  const [t] = (await pool.query('SELECT try_number, state, hostname FROM weir.task_try WHERE run_id = $1', [runId])).rows;
  expect(t).toMatchObject({ try_number: 1, state: 'success' });
  expect(t.hostname).toMatch(new RegExp(`:${b.child.pid}$`));
  await a.stop();
  await b.stop();
});

test('the scheduler picks up a scheduled DAG file added while it runs, with no restart', async () => {
  const dags = folder('scheduled');
  const scheduler = startWeir(['scheduler'], envFor(dags));
  started.push(scheduler);
  await scheduler.waitFor(/scheduler started/);
  fs.writeFileSync(path.join(dags, 'minutely.ts'), `import { dag } from 'weir';
const d = dag({ id: 'minutely', schedule: '* * * * *', startDate: '2024-01-01', catchup: false });
d.task({ id: 'tick' }, () => 1);
export default d;
`);
  await scheduler.waitFor(/scheduler reloaded DAG files/, 20_000);
  // catchup: false creates the latest interval's run at once.
  const run = await eventually(async () => (await pool.query("SELECT run_id, run_type FROM weir.dag_run WHERE dag_id = 'minutely'")).rows[0], 20_000, 'a scheduled run of the new DAG');
  expect(run.run_type).toBe('scheduled');
  expect(run.run_id).toMatch(/^scheduled__minutely__/);
  expect(await scheduler.stop()).toBe(0);
});

test('a try whose worker died, while no live worker has its DAG, waits with the reason and is retried once one has it', async () => {
  const withDag = folder('crash-good');
  const withoutDag = folder('crash-other');
  fs.copyFileSync(path.join(ROOT, 'tests', 'fixtures', 'dags-crash', 'crashy.ts'), path.join(withDag, 'crashy.ts'));
  fs.writeFileSync(path.join(withoutDag, 'other.ts'), versioned('other', 'unrelated'));
  const victim = worker(withDag);
  const bystander = worker(withoutDag);
  await victim.waitFor(/worker started/);
  await bystander.waitFor(/worker started/);
  const runId = await trigger(withDag, 'crashy');
  await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [runId])).rowCount, 20_000, 'first try running');
  await victim.stop('SIGKILL');
  // The victim's registry row goes stale after its lost-after (3 s here); the bystander cannot reap a DAG it does not have.
  const waiting = await eventually(async () => {
    const shown = JSON.parse((await runWeir(['runs', 'show', runId, '--json'], envFor(withDag))).stdout);
    return shown.waiting as string | null;
  }, 20_000, 'the waiting reason');
  expect(waiting).toBe(`hang_once on ${(await pool.query('SELECT hostname FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0].hostname}: that worker is gone and no live worker has DAG crashy to retry it (1 worker(s) alive); it is retried as soon as one has it`);
  const rescuer = worker(withDag);
  expect(await runEnd(runId)).toBe('success');
  const tries = (await pool.query('SELECT try_number, state, error FROM weir.task_try WHERE run_id = $1 ORDER BY try_number', [runId])).rows;
  expect(tries.map((t) => [t.try_number, t.state])).toEqual([[1, 'up_for_retry'], [2, 'success']]);
  expect(tries[0].error).toMatch(/^try lost: no heartbeat from /);
  await bystander.stop();
  await rescuer.stop();
});
