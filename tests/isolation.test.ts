/**
 * Task code can never stall its worker (issue 9): each try runs in an isolate, so
 * blocking code keeps being heartbeated, timeouts end code that never yields, and
 * process.exit / timer throws / unhandled rejections / heap exhaustion fail that
 * try only. Real `weir worker` processes on a real PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ROOT, runWeir, startWeir, eventually, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
const started: RunningProcess[] = [];
const env = () => ({
  WEIR_DATABASE_URL: testDb.url,
  WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-isolation'),
});

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  expect((await runWeir(['db', 'migrate'], env())).code).toBe(0);
});
afterAll(async () => {
  for (const p of started) await p.stop('SIGKILL');
  await pool.end();
  await testDb.drop();
});

function worker(extra: Record<string, string> = {}): RunningProcess {
  const w = startWeir(['worker', '--concurrency', '4'], { ...env(), ...extra });
  started.push(w);
  return w;
}

async function trigger(dagId: string, ...params: string[]): Promise<string> {
  const r = await runWeir(['trigger', dagId, '--json', ...params.flatMap((p) => ['-p', p])], env());
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).run_id;
}

async function runEnd(runId: string, timeoutMs = 60_000): Promise<string> {
  return eventually(async () => {
    const { rows } = await pool.query("SELECT state FROM weir.dag_run WHERE run_id = $1 AND state IN ('success', 'failed')", [runId]);
    return rows[0]?.state as string | undefined;
  }, timeoutMs, `run ${runId} to end`);
}

async function tries(runId: string) {
  return (await pool.query('SELECT task_id, try_number, state, error, error_stack, hostname, start_date, end_date FROM weir.task_try WHERE run_id = $1 ORDER BY task_id, try_number', [runId])).rows;
}

describe('two workers with lost-after 6 s', () => {
  let a: RunningProcess;
  let b: RunningProcess;
  beforeAll(async () => {
    const timings = { WEIR_HEARTBEAT_INTERVAL_MS: '1000', WEIR_TASK_LOST_AFTER_MS: '6000', WEIR_REAP_INTERVAL_MS: '500' };
    a = worker(timings);
    b = worker(timings);
    await a.waitFor(/worker started/);
    await b.waitFor(/worker started/);
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  test('regression: a task blocking its thread for 15 s runs exactly once and succeeds (it was reaped and ran 3 times)', async () => {
    const runId = await trigger('busy_sync', 'ms=15000');
    expect(await runEnd(runId, 90_000)).toBe('success');
    const t = await tries(runId);
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ try_number: 1, state: 'success', error: null });
    // Its worker's heartbeats kept flowing while the code blocked: no try was declared lost.
    expect(a.output() + b.output()).not.toMatch(/lost try recorded/);
  });

  test('while one worker\'s task blocks its thread, the same worker finishes other tries', async () => {
    // 20 s of blocking leaves room for the CLI processes below on a loaded machine.
    const busy = await trigger('busy_sync', 'ms=20000');
    const busyHost = await eventually(async () => (await pool.query("SELECT hostname FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [busy])).rows[0]?.hostname as string | undefined, 20_000, 'busy task running');
    // The line it wrote before blocking is readable while it still runs.
    const running = await eventually(async () => {
      const shown = JSON.parse((await runWeir(['tasks', 'logs', busy, 'spin', '--json'], env())).stdout).tries[0];
      return shown.logs.length ? shown : undefined;
    }, 10_000, 'the running try\'s log line');
    expect(running).toMatchObject({ try_number: 1, state: 'running', end_date: null });
    expect(running.logs[0]).toMatchObject({ level: 'info', msg: 'spinning', fields: { ms: 20000 } });
    // Triggered at once, so that they run while the busy task still blocks its thread.
    const naps = await Promise.all(Array.from({ length: 6 }, () => trigger('sleepy')));
    for (const r of naps) expect(await runEnd(r)).toBe('success');
    const hosts = (await pool.query('SELECT hostname FROM weir.task_instance WHERE run_id = ANY($1)', [naps])).rows.map((r) => r.hostname);
    // At least one nap ran on the worker whose other slot was blocked, and ended while the busy task still ran.
    const napsOnBusy = (await pool.query('SELECT min(end_date) AS last FROM weir.task_instance WHERE run_id = ANY($1) AND hostname = $2', [naps, busyHost])).rows[0].last as Date | null;
    expect(hosts).toContain(busyHost);
    expect(await runEnd(busy)).toBe('success');
    const busyEnd = (await pool.query('SELECT end_date FROM weir.task_instance WHERE run_id = $1', [busy])).rows[0].end_date as Date;
    expect(napsOnBusy!.getTime()).toBeLessThan(busyEnd.getTime());
  });
});

describe('one worker', () => {
  let w: RunningProcess;
  let pid: number;
  beforeAll(async () => {
    w = worker({ WEIR_TASK_ABORT_GRACE_MS: '200' });
    await w.waitFor(/worker started/);
    pid = w.child.pid!;
  });
  afterAll(async () => w.stop());

  test('a synchronous infinite loop with timeoutMs 1000 fails at its timeout and its retry runs', async () => {
    const runId = await trigger('infinite_loop');
    expect(await runEnd(runId)).toBe('success');
    const t = await tries(runId);
    expect(t.map((x) => [x.try_number, x.state])).toEqual([[1, 'up_for_retry'], [2, 'success']]);
    expect(t[0].error).toBe('task timed out after 1000 ms (timeoutMs)');
    const logs = await runWeir(['tasks', 'logs', runId, 'loop', '--try', '1', '--json'], env());
    expect(JSON.parse(logs.stdout).tries[0].logs.map((l: { msg: string }) => l.msg)).toEqual(['entering a loop that never yields']);
  });

  test.each([
    ['exit', /process\.exit\(3\)/],
    ['timer', /thrown from a timer callback/],
    ['rejection', /nobody handles this rejection/],
  ])('task code that misbehaves (%s) fails that try, retries apply, and the worker keeps serving', async (how, error) => {
    const runId = await trigger('exits', `how=${how}`);
    expect(await runEnd(runId)).toBe('success');
    const t = await tries(runId);
    expect(t.map((x) => [x.try_number, x.state])).toEqual([[1, 'up_for_retry'], [2, 'success']]);
    expect(t[0].error).toMatch(error);
    const output = (await pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0].output;
    // Task code runs in the worker's own process (a thread of it), and the process survived.
    expect(output).toEqual({ pid, try: 2 });
    expect(w.child.exitCode).toBeNull();
  });

  test('allocating far past memoryLimitMb fails that try with a clear error; the worker lives on', async () => {
    const runId = await trigger('memory_hog');
    expect(await runEnd(runId)).toBe('failed');
    const [t] = await tries(runId);
    expect(t).toMatchObject({ try_number: 1, state: 'failed' });
    expect(t.error).toBe("task ran out of memory: its isolate's heap limit is 64 MB (task option memoryLimitMb)");
    const after = await trigger('sleepy');
    expect(await runEnd(after)).toBe('success');
    expect(w.child.exitCode).toBeNull();
  });

  test('measured retry delays sit in Airflow\'s exponential windows [d*2^(k-1), d*2^k)', async () => {
    const runId = await trigger('retry_windows');
    expect(await runEnd(runId)).toBe('success');
    const t = await tries(runId);
    expect(t.map((x) => x.state)).toEqual(['up_for_retry', 'up_for_retry', 'up_for_retry', 'success']);
    // The stack crossed from the isolate and points at the DAG file's own line (source-mapped TypeScript).
    expect(t[0].error_stack).toMatch(/^Error: failure 1\n\s+at .*retry_windows\.ts:6:\d+/);
    for (let k = 1; k <= 3; k++) {
      const waited = t[k].start_date.getTime() - t[k - 1].end_date.getTime();
      // The job becomes fetchable at the drawn delay, never before the window opens.
      expect(waited).toBeGreaterThanOrEqual(300 * 2 ** (k - 1) - 5);
    }
  });
});

test('SIGTERM to exactly the documented command (node bin/weir.js worker) drains the running try and exits 0', async () => {
  const w = worker({ WEIR_SHUTDOWN_GRACE_MS: '20000' });
  await w.waitFor(/worker started/);
  const runId = await trigger('drains', 'ms=1500');
  await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [runId])).rowCount, 20_000, 'task running');
  const code = await w.stop('SIGTERM');
  expect(code).toBe(0);
  expect(w.output()).toMatch(/worker stopped/);
  const [t] = await tries(runId);
  expect(t).toMatchObject({ try_number: 1, state: 'success' });
  const listed = JSON.parse((await runWeir(['workers', 'list', '--json'], env())).stdout).workers;
  const me = listed.find((x: { pid: number; status: string }) => x.pid === w.child.pid);
  expect(me.status).toBe('stopped');
});

describe('shutdown past its grace', () => {
  const traceLines = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([what, tryNo, at]) => ({ what, tryNo: Number(tryNo), at: Number(at) }));

  test.each([
    ['the grace period running out', ['SIGTERM'], 'worker shutting down: its grace period ran out'],
    ['a second signal', ['SIGTERM', 'SIGTERM'], 'worker shutting down: stopped by a second signal'],
  ])('regression: %s never lets two tries run at once; the abandoned try is recorded and retried', async (_name, signals, reason) => {
    const trace = path.join(os.tmpdir(), `weir-stubborn-${process.pid}-${signals.length}.log`);
    fs.rmSync(trace, { force: true });
    const first = worker({ WEIR_SHUTDOWN_GRACE_MS: signals.length === 1 ? '1500' : '60000', WEIR_TASK_ABORT_GRACE_MS: '200' });
    await first.waitFor(/worker started/);
    const runId = await trigger('stubborn', `trace=${trace}`);
    await eventually(async () => fs.existsSync(trace) && traceLines(trace).some((l) => l.what === 'alive'), 20_000, 'try 1 to run');
    first.child.kill(signals[0] as NodeJS.Signals);
    if (signals.length === 2) {
      await first.waitFor(/"msg":"stopping"/);
      first.child.kill(signals[1] as NodeJS.Signals);
    }
    // Wait for the exit without signalling again (a third signal exits at once, 130).
    const code = first.child.exitCode ?? await new Promise<number | null>((resolve) => first.child.once('exit', resolve));
    expect(code).toBe(0);
    const second = worker();
    expect(await runEnd(runId)).toBe('success');
    await second.stop();
    const t = await tries(runId);
    expect(t.map((x) => [x.try_number, x.state])).toEqual([[1, 'up_for_retry'], [2, 'success']]);
    expect(t[0].error).toBe(reason);
    // Try 1's code had stopped before try 2 started: no line of try 1 after try 2's start.
    const lines = traceLines(trace);
    const secondStart = lines.find((l) => l.what === 'start' && l.tryNo === 2)!.at;
    expect(lines.filter((l) => l.tryNo === 1 && l.at >= secondStart)).toEqual([]);
    expect(t[0].end_date.getTime()).toBeLessThanOrEqual(t[1].start_date.getTime());
  });
});
