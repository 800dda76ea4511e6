/**
 * The embedded PostgreSQL (issue 2), in a WEIR_HOME of its own: the first call
 * starts it, a later one finds the same server, a server killed with SIGKILL
 * (stale postmaster.pid) is detected and started again, and stop stops it.
 * And a worker survives a database restart (PRODUCT.md: nothing lost), with the
 * events_every_3_min pipeline storing every message exactly once across one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureEmbeddedPostgres, restartEmbeddedPostgres, stopEmbeddedPostgres } from '../runtime/database/embedded.ts';
import { ROOT, runWeir, startWeir, eventually } from './support/cli.ts';
import { Listener } from '../runtime/database/listener.ts';
import { startPubSubServer } from '../runtime/dev/pubsub-server.ts';

// Under /tmp rather than the checkout: as root the server runs as `postgres`, which must traverse every parent.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-embedded-test-'));
fs.chmodSync(home, 0o755);

afterAll(async () => {
  await stopEmbeddedPostgres(home).catch(() => false);
  fs.rmSync(home, { recursive: true, force: true });
});

async function serverInfo(url: string): Promise<{ pid: number; encoding: string; listen: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; encoding: string; listen: string }>(
      "SELECT pg_backend_pid() AS pid, pg_encoding_to_char(encoding) AS encoding, current_setting('listen_addresses') AS listen FROM pg_database WHERE datname = current_database()",
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

const postmasterPid = (dataDir: string) => Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

test('starts once, is found again, recovers from a SIGKILL, and stops', async () => {
  const first = await ensureEmbeddedPostgres(home);
  expect(first.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  const info = await serverInfo(first.url);
  expect(info.encoding).toBe('UTF8');
  expect(info.listen).toBe('127.0.0.1');
  const pid = postmasterPid(first.dataDir);

  // A second command (here: a second call) finds the running server instead of starting one.
  const again = await ensureEmbeddedPostgres(home);
  expect(again.port).toBe(first.port);
  expect(postmasterPid(again.dataDir)).toBe(pid);

  // Killed hard: postmaster.pid stays behind, naming a dead process.
  process.kill(pid, 'SIGKILL');
  await new Promise<void>((resolve) => {
    const check = () => {
      try {
        process.kill(pid, 0);
        setTimeout(check, 20);
      } catch {
        resolve();
      }
    };
    check();
  });
  expect(fs.existsSync(path.join(first.dataDir, 'postmaster.pid'))).toBe(true);
  const recovered = await ensureEmbeddedPostgres(home);
  expect(postmasterPid(recovered.dataDir)).not.toBe(pid);
  expect((await serverInfo(recovered.url)).encoding).toBe('UTF8');

}, 120_000);

test('a worker survives a database restart: runs triggered afterwards still complete', async () => {
  const server = await ensureEmbeddedPostgres(home);
  const env = { WEIR_DATABASE_URL: server.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-cli'), WEIR_HOME: home };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const worker = startWeir(['worker', '--concurrency', '4'], { ...env, WEIR_POLL_INTERVAL_MS: '200' });
  try {
    await worker.waitFor(/worker started/);
    expect((await runWeir(['trigger', 'greet', '--wait'], env)).code).toBe(0);
    await restartEmbeddedPostgres(home);
    expect((await ensureEmbeddedPostgres(home)).port).toBe(server.port);
    const after = await runWeir(['trigger', 'greet', '-p', 'name=after', '--wait', '--json'], env, { timeoutMs: 60_000 });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).state).toBe('success');
    expect(worker.child.exitCode).toBeNull();
  } finally {
    // Before the LISTEN reconnect was fixed, a second connection leaked here and the worker never exited.
    expect(await worker.stop()).toBe(0);
  }
}, 120_000);

test('a LISTEN connection comes back after an outage longer than its first retry, and hears notifications again', async () => {
  const server = await ensureEmbeddedPostgres(home);
  let heard!: (payload: string) => void;
  const notified = new Promise<string>((resolve) => (heard = resolve));
  let reconnected!: () => void;
  const back = new Promise<void>((resolve) => (reconnected = resolve));
  const listener = await Listener.open({
    url: server.url,
    channels: ['weir_test_channel'],
    applicationName: 'weir-test',
    name: 'test',
    onNotification: (msg) => heard(msg.payload ?? ''),
    onReconnect: () => reconnected(),
  });
  try {
    expect(await stopEmbeddedPostgres(home)).toBe(true);
    // The outage itself: the database stays down past the first retry (1 s), so that one fails too.
    await new Promise((r) => setTimeout(r, 2500));
    await restartEmbeddedPostgres(home);
    await back;
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query("SELECT pg_notify('weir_test_channel', 'after the outage')");
    await client.end();
    expect(await notified).toBe('after the outage');
  } finally {
    await listener.close();
  }
  expect(await stopEmbeddedPostgres(home)).toBe(true);
  expect(await stopEmbeddedPostgres(home)).toBe(false);
}, 120_000);

test('regression: pg_ctl stop -m immediate under load, 3 s down: two workers and a scheduler live on, every run succeeds, no side effect happens twice', async () => {
  const server = await ensureEmbeddedPostgres(home);
  const effects = path.join(home, 'effects.log');
  fs.writeFileSync(effects, '');
  const env = {
    WEIR_DATABASE_URL: server.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-faults'), WEIR_HOME: home,
    WEIR_TEST_EFFECTS_FILE: effects, WEIR_POLL_INTERVAL_MS: '200',
  };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const processes = [startWeir(['worker', '--concurrency', '8'], env), startWeir(['worker', '--concurrency', '8'], env), startWeir(['scheduler'], env)];
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  pool.on('error', () => {});
  try {
    await processes[0]!.waitFor(/worker started/);
    await processes[1]!.waitFor(/worker started/);
    await processes[2]!.waitFor(/scheduler started/);
    const runIds: string[] = [];
    for (let i = 0; i < 30; i++) runIds.push(JSON.parse((await runWeir(['trigger', 'effects', '--json'], env)).stdout).run_id);
    // Mid-flight: some runs done, some running, some not started.
    await eventually(async () => (await pool.query("SELECT count(*)::int AS n FROM weir.task_instance WHERE state = 'success'")).rows[0].n >= 20, 30_000, 'work under way');
    expect(await stopEmbeddedPostgres(home, 'immediate')).toBe(true);
    await new Promise((r) => setTimeout(r, 3000)); // the outage itself, not a synchronisation
    const back = await ensureEmbeddedPostgres(home);
    expect(back.port).toBe(server.port);
    const returnedAt = Date.now();
    await eventually(async () => (await pool.query("SELECT count(*)::int AS n FROM weir.dag_run WHERE run_id = ANY($1) AND state = 'success'", [runIds]).catch(() => ({ rows: [{ n: -1 }] }))).rows[0].n === runIds.length, 90_000, 'every run to succeed after the restart');
    process.stderr.write(`[embedded.test] all runs done ${Date.now() - returnedAt} ms after the database returned\n`);
    const lines = fs.readFileSync(effects, 'utf8').trim().split('\n');
    const perTask = new Map<string, number>();
    for (const l of lines) {
      const [runId, taskId] = l.split(' ');
      perTask.set(`${runId} ${taskId}`, (perTask.get(`${runId} ${taskId}`) ?? 0) + 1);
    }
    expect(perTask.size).toBe(30 * 5);
    expect([...perTask].filter(([, n]) => n > 1)).toEqual([]);
    for (const p of processes) expect(p.child.exitCode).toBeNull();
  } finally {
    for (const p of processes) expect(await p.stop()).toBe(0);
    await pool.end();
  }
}, 180_000);

test('events_every_3_min across pg_ctl stop -m immediate mid-load: every message stored exactly once, all acked', async () => {
  const server = await ensureEmbeddedPostgres(home);
  const pubsub = await startPubSubServer({ ackDeadlineMs: 3000, duplicateRate: 0.02 });
  const env = {
    WEIR_DATABASE_URL: server.url, WEIR_CONN_WAREHOUSE: server.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'dags'), WEIR_HOME: home,
    EVENTS_PUBSUB_URL: pubsub.url, WEIR_POLL_INTERVAL_MS: '200',
  };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const worker = startWeir(['worker'], env);
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  pool.on('error', () => {});
  const stored = async () => (await pool.query('SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS ids FROM events.messages').catch(() => ({ rows: [{ n: -1, ids: -1 }] }))).rows[0] as { n: number; ids: number };
  try {
    await worker.waitFor(/worker started/);
    pubsub.publish(30_000);
    const runId = JSON.parse((await runWeir(['trigger', 'events_every_3_min', '-p', 'batch_size=50', '--json'], env)).stdout).run_id as string;
    await eventually(async () => (await stored()).n > 3000, 60_000, 'the load under way');
    expect(await stopEmbeddedPostgres(home, 'immediate')).toBe(true);
    await new Promise((r) => setTimeout(r, 3000)); // the outage itself, not a synchronisation
    await ensureEmbeddedPostgres(home);
    await eventually(async () => (await pool.query('SELECT state FROM weir.dag_run WHERE run_id = $1', [runId]).catch(() => ({ rows: [] }))).rows[0]?.state === 'success', 120_000, 'the run to succeed after the restart');
    expect(await stored()).toEqual({ n: 30_000, ids: 30_000 });
    expect(pubsub.stats()).toMatchObject({ published: 30_000, acked: 30_000 });
    expect(worker.child.exitCode).toBeNull();
  } finally {
    expect(await worker.stop()).toBe(0);
    await pool.end();
    await pubsub.close();
  }
}, 240_000);
