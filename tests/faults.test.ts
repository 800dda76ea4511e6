/**
 * Regression (issue 10): connections dropped under a running worker. Its backends are
 * terminated again and again (`pg_terminate_backend`, what a database restart or a
 * network blip does to each connection) while runs are in flight: the worker must
 * neither crash (an unhandled 'error' event on a checked-out client killed it) nor
 * lose a try, and every run must finish.
 */
import path from 'node:path';
import pg from 'pg';
import { ROOT, runWeir, startWeir, eventually } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';

test('terminating every worker connection repeatedly under load delays tries but loses nothing, and the worker lives on', async () => {
  const testDb = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: testDb.url, max: 2 });
  const env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-isolation'), WEIR_HEARTBEAT_INTERVAL_MS: '1000', WEIR_TASK_LOST_AFTER_MS: '5000', WEIR_REAP_INTERVAL_MS: '1000' };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const worker = startWeir(['worker', '--concurrency', '8'], env);
  try {
    await worker.waitFor(/worker started/);
    const runIds: string[] = [];
    for (let i = 0; i < 8; i++) runIds.push(JSON.parse((await runWeir(['trigger', 'chain', '--json'], env)).stdout).run_id);
    let killed = 0;
    for (let round = 0; round < 15; round++) {
      const { rows } = await pool.query<{ n: number }>("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'weir%' AND pid <> pg_backend_pid()");
      killed += rows[0]!.n;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(killed).toBeGreaterThan(0);
    // The crash needed a connection dropped while its client was checked out between two
    // statements of a transaction: aim at exactly those (idle in transaction; chain's tasks
    // write ctx.state, so their ends are transactions, not the one-statement hot path).
    let inTransaction = 0;
    const more: string[] = [];
    for (let i = 0; i < 8; i++) more.push(JSON.parse((await runWeir(['trigger', 'chain', '--json'], env)).stdout).run_id);
    runIds.push(...more);
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const { rows } = await pool.query<{ n: number }>("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'weir%' AND state = 'idle in transaction' AND pid <> pg_backend_pid()");
      inTransaction += rows[0]!.n;
    }
    await eventually(async () => (await pool.query("SELECT count(*)::int AS n FROM weir.dag_run WHERE run_id = ANY($1) AND state = 'success'", [runIds])).rows[0].n === runIds.length, 90_000, 'every run to succeed');
    const tis = (await pool.query('SELECT state, count(*)::int AS n FROM weir.task_instance WHERE run_id = ANY($1) GROUP BY state', [runIds])).rows;
    expect(tis).toEqual([{ state: 'success', n: 16 * 6 }]);
    expect(inTransaction).toBeGreaterThan(0);
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output()).not.toMatch(/Unhandled 'error' event|Connection terminated unexpectedly\n\s+at/);
  } finally {
    expect(await worker.stop()).toBe(0);
    await pool.end();
    await testDb.drop();
  }
}, 180_000);

test('regression: 4 workers against max_connections=25 complete every run, none lost (10 of 200 runs failed with all their tries "lost")', async () => {
  const { ensureEmbeddedPostgres, stopEmbeddedPostgres } = await import('../runtime/database/embedded.ts');
  const { openDatabaseUrl } = await import('../runtime/database/connect.ts');
  const { startBoss } = await import('../runtime/queue.ts');
  const { createRuns } = await import('../runtime/engine/runs.ts');
  const { loadDagsFolder } = await import('../runtime/loader/loader.ts');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-exhaust-'));
  fs.chmodSync(home, 0o755);
  const server = await ensureEmbeddedPostgres(home, { maxConnections: 25 });
  const env = { WEIR_DATABASE_URL: server.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-isolation'), WEIR_HOME: home };
  const workers: ReturnType<typeof startWeir>[] = [];
  // This test's own connections: one each for the pool and pg-boss.
  const db = await openDatabaseUrl(server.url, { poolMax: 1, migrate: true });
  const boss = await startBoss(server.url, { max: 1 });
  try {
    for (let i = 0; i < 4; i++) workers.push(startWeir(['worker', '--concurrency', '8'], env));
    for (const w of workers) await w.waitFor(/worker started/);
    // Together they may open 4 x 17 connections; the server has 22 for them all.
    expect(workers.some((w) => /the server has \d+ free: raise max_connections/.test(w.output()))).toBe(true);
    const graph = (await loadDagsFolder(env.WEIR_DAGS_FOLDER)).dags.get('chain')!;
    const at = new Date();
    const { created } = await createRuns({ pool: db.pool, boss, alertRetryDelayS: 30 }, graph, Array.from({ length: 200 }, () => ({ runType: 'manual' as const, conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at })));
    expect(created).toHaveLength(200);
    await eventually(async () => (await db.pool.query("SELECT count(*)::int AS n FROM weir.dag_run WHERE state = 'success'")).rows[0].n === 200, 120_000, 'all 200 runs to succeed');
    const tries = (await db.pool.query("SELECT count(*)::int AS n, count(*) FILTER (WHERE state <> 'success')::int AS bad FROM weir.task_try")).rows[0];
    expect(tries).toEqual({ n: 200 * 6, bad: 0 });
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  } finally {
    for (const w of workers) await w.stop();
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.close();
    await stopEmbeddedPostgres(home);
    fs.rmSync(home, { recursive: true, force: true });
  }
}, 180_000);

test('a worker killed while claiming a try leaves its job fetchable at once: the fetch, the claim and the job\'s completion commit together (the job stayed active, and the run stuck, until pg-boss expired it 120 s later)', async () => {
  const testDb = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: testDb.url, max: 3 });
  const env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-isolation') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const runId = JSON.parse((await runWeir(['trigger', 'chain', '--json'], env)).stdout).run_id as string;
  const jobStates = async () => (await pool.query<{ state: string }>("SELECT state::text FROM pgboss.job WHERE data->>'runId' = $1 ORDER BY created_on", [runId])).rows.map((r) => r.state);
  expect(await jobStates()).toEqual(['created']);
  // The first task instance's row is held, so the worker's claim waits inside its transaction.
  const holder = await pool.connect();
  await holder.query('BEGIN');
  await holder.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND task_id = 'step_1' FOR UPDATE", [runId]);
  const first = startWeir(['worker'], env);
  try {
    await first.waitFor(/worker started/);
    await eventually(async () => (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'weir%' AND wait_event_type = 'Lock'")).rows[0]!.n > 0, 30_000, 'the claim to wait for the held row');
    // Fetched but not committed: to everyone else the job is still waiting, not taken.
    expect(await jobStates()).toEqual(['created']);
    first.child.kill('SIGKILL');
    await first.stop();
    await pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'weir%'");
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
  }
  expect(await jobStates()).toEqual(['created']);
  const second = startWeir(['worker'], env);
  try {
    await second.waitFor(/worker started/);
    await eventually(async () => (await pool.query("SELECT state FROM weir.dag_run WHERE run_id = $1", [runId])).rows[0]?.state === 'success', 60_000, 'the run to succeed on the second worker');
    // Each try's job was completed in the commit that claimed it: none is left active.
    expect(new Set(await jobStates())).toEqual(new Set(['completed']));
  } finally {
    expect(await second.stop()).toBe(0);
    await pool.end();
    await testDb.drop();
  }
}, 120_000);
