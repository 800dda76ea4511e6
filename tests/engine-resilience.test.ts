/**
 * What must survive: a worker SIGKILLed mid-task, several workers sharing the
 * work without running a task twice at once, graceful shutdown, maxActiveRuns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dag } from '../runtime/index.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { ROOT, runWeir, startWeir, eventually } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';
import pg from 'pg';

test('a worker SIGKILLed mid-task: the try is declared lost and another worker retries it, counting as a try', async () => {
  const testDb = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: testDb.url });
  const env = {
    WEIR_DATABASE_URL: testDb.url,
    WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-crash'),
    WEIR_HEARTBEAT_INTERVAL_MS: '250',
    WEIR_TASK_LOST_AFTER_MS: '1500',
    WEIR_REAP_INTERVAL_MS: '250',
  };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const victim = startWeir(['worker'], env);
  let rescuer: ReturnType<typeof startWeir> | undefined;
  try {
    await victim.waitFor(/worker started/);
    const runId = JSON.parse((await runWeir(['trigger', 'crashy', '--json'], env)).stdout).run_id;
    await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [runId])).rowCount, 20_000, 'first try running');
    await victim.stop('SIGKILL');
    rescuer = startWeir(['worker'], env);
    await eventually(async () => (await pool.query("SELECT 1 FROM weir.dag_run WHERE run_id = $1 AND state = 'success'", [runId])).rowCount, 30_000, 'run to succeed after the crash');
    const tries = (await pool.query('SELECT try_number, state, error FROM weir.task_try WHERE run_id = $1 ORDER BY try_number', [runId])).rows;
    expect(tries[0]).toMatchObject({ try_number: 1, state: 'up_for_retry' });
    expect(tries[0].error).toMatch(/try lost: no heartbeat from .* \(worker killed or unreachable\)/);
    expect(tries[1]).toMatchObject({ try_number: 2, state: 'success' });
    const output = (await pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0].output;
    expect(output.try).toBe(2);
    expect(output.pid).toBe(rescuer.child.pid);
    // The registry shows the killed worker as gone (silent past its lost-after), the rescuer as alive.
    const listed = JSON.parse((await runWeir(['workers', 'list', '--json'], env)).stdout).workers as { pid: number; status: string }[];
    expect(listed.find((w) => w.pid === victim.child.pid)?.status).toBe('gone');
    expect(listed.find((w) => w.pid === rescuer!.child.pid)?.status).toBe('alive');
  } finally {
    await victim.stop('SIGKILL');
    await rescuer?.stop();
    await pool.end();
    await testDb.drop();
  }
});

test('regression: a worker with a shorter lost-after never reaps the tries of a worker that heartbeats less often (one with 2 s reaped `dags test`\'s tries)', async () => {
  const testDb = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: testDb.url });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weir-reap-')), 'go');
  const env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-crash') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  // Heartbeats every 3 s, lost after 30 s: its try's heartbeat is up to 3 s old.
  const patient = startWeir(['worker'], { ...env, WEIR_HEARTBEAT_INTERVAL_MS: '3000', WEIR_TASK_LOST_AFTER_MS: '30000' });
  let eager: ReturnType<typeof startWeir> | undefined;
  try {
    await patient.waitFor(/worker started/);
    const runId = JSON.parse((await runWeir(['trigger', 'until_file', '-p', `file=${file}`, '--json'], env)).stdout).run_id;
    await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [runId])).rowCount, 20_000, 'the try to run');
    // Reaps every 200 ms anything silent for 1.5 s by its own measure.
    eager = startWeir(['worker'], { ...env, WEIR_HEARTBEAT_INTERVAL_MS: '200', WEIR_TASK_LOST_AFTER_MS: '1500', WEIR_REAP_INTERVAL_MS: '200' });
    await eager.waitFor(/worker started/);
    await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running' AND heartbeat_at < now() - interval '2 s'", [runId])).rowCount, 20_000, 'the try\'s heartbeat to be older than the eager worker\'s lost-after');
    // The eager worker's heartbeat and reap timers share one period: two more heartbeats seen means its reaper looked since (with the old rule it ended the try).
    const seen = async () => (await pool.query<{ at: Date }>('SELECT last_seen_at AS at FROM weir.worker WHERE pid = $1', [eager!.child.pid])).rows[0]!.at.getTime();
    const before = await seen();
    await eventually(async () => (await seen()) > before + 400, 20_000, 'the eager worker to heartbeat (and reap) twice more');
    expect((await pool.query('SELECT state, try_number FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0]).toEqual({ state: 'running', try_number: 1 });
    fs.writeFileSync(file, 'go');
    const ended = await eventually(async () => (await pool.query<{ state: string }>("SELECT state FROM weir.dag_run WHERE run_id = $1 AND state IN ('success', 'failed')", [runId])).rows[0], 20_000, 'the run to end');
    const tries = (await pool.query('SELECT try_number, state, error FROM weir.task_try WHERE run_id = $1', [runId])).rows;
    expect([ended.state, tries]).toEqual(['success', [{ try_number: 1, state: 'success', error: null }]]);
    expect((await pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0].output).toEqual({ try: 1, pid: patient.child.pid });
  } finally {
    await eager?.stop();
    await patient.stop();
    await pool.end();
    await testDb.drop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

describe('in-process engines', () => {
  const executions = new Map<string, number>();
  const concurrent = { now: 0, max: 0 };
  const record = (key: string) => executions.set(key, (executions.get(key) ?? 0) + 1);

  const wide = dag({ id: 'wide', maxActiveRuns: 100 });
  const root = wide.task({ id: 'root' }, (ctx) => { record(`${ctx.runId}/root`); return 1; });
  const mids = Array.from({ length: 10 }, (_, i) => wide.task({ id: `m${i}`, upstream: [root] }, async (ctx) => {
    record(`${ctx.runId}/m${i}`);
    await new Promise((r) => setTimeout(r, 2));
    return i;
  }));
  wide.task({ id: 'join', upstream: mids }, (ctx) => { record(`${ctx.runId}/join`); return 'ok'; });

  const barrier = dag({ id: 'barrier' });
  let arrived = 0;
  let release: () => void = () => {};
  const both = new Promise<void>((r) => (release = r));
  for (const id of ['left', 'right']) {
    barrier.task({ id }, async () => {
      arrived++;
      if (arrived === 2) release();
      // Each waits for the other: only finishes if independent tasks run in parallel.
      await Promise.race([both, new Promise((_, reject) => setTimeout(() => reject(new Error('ran alone')), 5000))]);
      return id;
    });
  }

  const single = dag({ id: 'single_file', maxActiveRuns: 1 });
  single.task({ id: 'work' }, async (ctx) => {
    concurrent.now++;
    concurrent.max = Math.max(concurrent.max, concurrent.now);
    await new Promise((r) => setTimeout(r, 20));
    concurrent.now--;
    return ctx.runId;
  });

  const draining = dag({ id: 'draining' });
  draining.task({ id: 'finish_me', retries: 1 }, async () => {
    await new Promise((r) => setTimeout(r, 300));
    return 'finished during shutdown';
  });

  let te: TestEngine;
  beforeAll(async () => {
    te = await startTestEngine([wide, barrier, single, draining], { worker: false });
  });
  afterAll(async () => te?.close());

  test('independent tasks of a run execute in parallel', async () => {
    await te.startWorker({ concurrency: 4 });
    const runId = await te.trigger('barrier');
    expect(await te.waitForRun(runId)).toBe('success');
  });

  test('two workers share 30 fan-out runs and no task instance runs twice', async () => {
    const second = await te.startWorker({ concurrency: 4 });
    const ran = { second: 0 };
    second.on('task:start', () => ran.second++);
    const runIds = await Promise.all(Array.from({ length: 30 }, () => te.trigger('wide')));
    for (const runId of runIds) expect(await te.waitForRun(runId)).toBe('success');
    for (const runId of runIds) {
      for (const id of ['root', 'join', ...Array.from({ length: 10 }, (_, i) => `m${i}`)]) expect(executions.get(`${runId}/${id}`)).toBe(1);
    }
    expect(ran.second).toBeGreaterThan(0);
    const { rows } = await te.db.pool.query('SELECT count(*)::int AS n, count(DISTINCT (run_id, task_id))::int AS d FROM weir.task_try WHERE run_id = ANY($1)', [runIds]);
    expect(rows[0].n).toBe(30 * 12);
    expect(rows[0].d).toBe(30 * 12);
  });

  test('maxActiveRuns 1: runs wait their turn and never overlap, oldest first', async () => {
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) runIds.push(await te.trigger('single_file'));
    for (const runId of runIds) expect(await te.waitForRun(runId)).toBe('success');
    expect(concurrent.max).toBe(1);
    const { rows } = await te.db.pool.query('SELECT run_id FROM weir.dag_run WHERE run_id = ANY($1) ORDER BY start_date', [runIds]);
    expect(rows.map((r) => r.run_id)).toEqual(runIds);
  });

  test('stop() drains an in-flight task within the grace period', async () => {
    for (const w of te.workers.splice(0)) await w.stop();
    const w = await te.startWorker({ concurrency: 2, shutdownGraceMs: 10_000 });
    const started = new Promise<void>((resolve) => w.once('task:start', () => resolve()));
    const runId = await te.trigger('draining');
    await started;
    await w.stop();
    expect(await te.taskStates(runId)).toEqual({ finish_me: 'success' });
    await w.stop(); // idempotent
  });

  test('a grace period that runs out aborts the try; it is recorded and retried by the next worker', async () => {
    for (const w of te.workers.splice(0)) await w.stop();
    const w = await te.startWorker({ concurrency: 2, shutdownGraceMs: 50 });
    const started = new Promise<void>((resolve) => w.once('task:start', () => resolve()));
    const runId = await te.trigger('draining');
    await started;
    await w.stop();
    const { rows } = await te.db.pool.query('SELECT state, error FROM weir.task_try WHERE run_id = $1', [runId]);
    expect(rows).toEqual([{ state: 'up_for_retry', error: 'worker shutting down: its grace period ran out' }]);
    await te.startWorker({ concurrency: 2 });
    expect(await te.waitForRun(runId)).toBe('success');
  });
});

test('a starting worker forgets registry rows of workers gone for more than 7 days, and keeps the recent ones', async () => {
  const testDb = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: testDb.url });
  const env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-crash') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  // Rows as earlier workers left them: silent 8 days, stopped 8 days ago, silent 1 day.
  const seed = (id: string, seenAgo: string, stopped: boolean) => pool.query(
    `INSERT INTO weir.worker (worker_id, hostname, pid, version, queue, concurrency, isolation, lost_after_ms, started_at, last_seen_at, stopped_at)
     VALUES ($1, 'old-host', 1, '0.0.1', 'weir_task', 4, 'thread', 30000, now() - $2::interval - interval '1 hour', now() - $2::interval, CASE WHEN $3 THEN now() - $2::interval END)`,
    [id, seenAgo, stopped]);
  await seed('silent-8d', '8 days', false);
  await seed('stopped-8d', '8 days', true);
  await seed('silent-1d', '1 day', false);
  const worker = startWeir(['worker'], env);
  try {
    await worker.waitFor(/worker started/);
    const ids = (await pool.query<{ worker_id: string }>('SELECT worker_id FROM weir.worker ORDER BY started_at')).rows.map((r) => r.worker_id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe('silent-1d');
    expect(ids[1]).toMatch(new RegExp(`:${worker.child.pid}:`));
    const listed = JSON.parse((await runWeir(['workers', 'list', '--json'], env)).stdout).workers as { worker_id: string; status: string }[];
    expect(listed.map((w) => w.status)).toEqual(['alive', 'gone']);
  } finally {
    expect(await worker.stop()).toBe(0);
    await pool.end();
    await testDb.drop();
  }
});
