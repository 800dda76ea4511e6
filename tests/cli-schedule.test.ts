/**
 * Scheduling from the command line (issue 4), in child processes against a real
 * database: `dags next`, `dags pause/unpause`, `backfill` (dry run, DST day,
 * idempotent re-run, bad input) and `weir standalone` catching up and stopping
 * cleanly on SIGINT.
 */
import path from 'node:path';
import { DateTime } from 'luxon';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { ROOT, runWeir, startWeir, eventually } from './support/cli.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-schedule'), WEIR_HOME: path.join(ROOT, '.weir') };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  pool = new pg.Pool({ connectionString: testDb.url });
});

afterAll(async () => {
  await pool?.end();
  await testDb?.drop();
});

const runsOf = async (dagId: string) =>
  (await pool.query<{ run_id: string; run_type: string; state: string; logical_date: Date; data_interval_end: Date }>(
    'SELECT run_id, run_type, state, logical_date, data_interval_end FROM weir.dag_run WHERE dag_id = $1 ORDER BY logical_date',
    [dagId],
  )).rows;

test('dags next prints consecutive daily intervals at 02:30 Berlin time, in the zone and in UTC', async () => {
  const result = await runWeir(['dags', 'next', 'berlin_daily', '-n', '4', '--json'], env);
  expect(result.code).toBe(0);
  const out = JSON.parse(result.stdout) as { timezone: string; next: Array<{ logical_date: string; data_interval_start: string; data_interval_end: string; logical_date_utc: string }> };
  expect(out.timezone).toBe('Europe/Berlin');
  expect(out.next).toHaveLength(4);
  const now = DateTime.now();
  out.next.forEach((n, i) => {
    const local = DateTime.fromISO(n.logical_date, { setZone: true }).setZone('Europe/Berlin');
    expect([local.hour, local.minute]).toEqual([2, 30]);
    expect(DateTime.fromISO(n.logical_date_utc).toMillis()).toBe(local.toMillis());
    expect(n.data_interval_start).toBe(n.logical_date);
    // The interval ends at the next day's fire time, and the next interval starts there.
    const end = DateTime.fromISO(n.data_interval_end).setZone('Europe/Berlin');
    expect(end.toISODate()).toBe(local.plus({ days: 1 }).toISODate());
    if (i > 0) expect(n.logical_date).toBe(out.next[i - 1]!.data_interval_end);
  });
  // The first one listed is the one whose interval has not ended yet (or just ends).
  expect(DateTime.fromISO(out.next[0]!.data_interval_end).toMillis()).toBeGreaterThan(now.toMillis() - 1000);
});

test('dags next on a manual DAG and on an unknown DAG: exit 2, one line', async () => {
  const manual = await runWeir(['dags', 'next', 'manual_only'], env);
  expect(manual.code).toBe(2);
  expect(manual.stderr.trim()).toBe('weir: DAG "manual_only" has no schedule (manual runs only)');
  const unknown = await runWeir(['dags', 'next', 'nope'], env);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  expect(unknown.stderr).toMatch(/unknown DAG "nope"/);
});

test('dags pause and unpause show in dags list; pausing an unknown DAG is exit 2', async () => {
  const paused = async () => {
    const list = await runWeir(['dags', 'list', '--json'], env);
    expect(list.code).toBe(0);
    return (JSON.parse(list.stdout) as { dags: Array<{ dag_id: string; paused: boolean | null }> }).dags.find((d) => d.dag_id === 'berlin_daily')!.paused;
  };
  expect(await runWeir(['dags', 'pause', 'berlin_daily'], env)).toMatchObject({ code: 0, stdout: 'paused berlin_daily\n' });
  expect(await paused()).toBe(true);
  expect(await runWeir(['dags', 'unpause', 'berlin_daily'], env)).toMatchObject({ code: 0, stdout: 'unpaused berlin_daily\n' });
  expect(await paused()).toBe(false);
  const unknown = await runWeir(['dags', 'pause', 'nope'], env);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^weir: unknown DAG "nope"/);
});

test('backfill over the spring-forward weekend: dry run changes nothing, then one run per day, then nothing new', async () => {
  const args = ['backfill', 'berlin_daily', '--from', '2024-03-30', '--to', '2024-04-01T12:00', '--json'];
  const dry = await runWeir([...args, '--dry-run'], env);
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout)).toMatchObject({ dag_id: 'berlin_daily', intervals: 3, created: 0, dry_run: true });
  expect(await runsOf('berlin_daily')).toEqual([]);

  const real = await runWeir(args, env);
  expect(real.code).toBe(0);
  expect(JSON.parse(real.stdout)).toMatchObject({ intervals: 3, created: 3, interrupted: false });
  const runs = await runsOf('berlin_daily');
  // 02:30 CET; on 2024-03-31 02:30 does not exist and the run is at the jump, 03:00 CEST; then 02:30 CEST.
  expect(runs.map((r) => r.logical_date.toISOString())).toEqual(['2024-03-30T01:30:00.000Z', '2024-03-31T01:00:00.000Z', '2024-04-01T00:30:00.000Z']);
  expect(runs.map((r) => r.data_interval_end.toISOString())).toEqual(['2024-03-31T01:00:00.000Z', '2024-04-01T00:30:00.000Z', '2024-04-02T00:30:00.000Z']);
  expect(new Set(runs.map((r) => r.run_type))).toEqual(new Set(['backfill']));

  const again = await runWeir(args, env);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ intervals: 3, created: 0, skipped_in_progress: 3 });
  expect(await runsOf('berlin_daily')).toHaveLength(3);
});

test('regression (a 06:00 schedule got 2 of 3 runs): --to given as a day includes every logical date of that day in the DAG\'s zone', async () => {
  const dry = await runWeir(['backfill', 'berlin_daily', '--from', '2024-05-20', '--to', '2024-05-22', '--dry-run', '--json'], env);
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout)).toMatchObject({ intervals: 3, created: 0, dry_run: true });
  // A date-time bound is taken as it is: 02:00 on the 22nd is before that day's 02:30 run.
  const exact = await runWeir(['backfill', 'berlin_daily', '--from', '2024-05-20', '--to', '2024-05-22T02:00', '--dry-run', '--json'], env);
  expect(JSON.parse(exact.stdout)).toMatchObject({ intervals: 2 });
});

test('backfill with a bad date or --to before --from: exit 2, one line, nothing created', async () => {
  const before = (await runsOf('berlin_daily')).length;
  const bad = await runWeir(['backfill', 'berlin_daily', '--from', '2024-13-45', '--to', '2024-04-01'], env);
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  expect(bad.stderr).toMatch(/--from/);
  const reversed = await runWeir(['backfill', 'berlin_daily', '--from', '2024-04-01', '--to', '2024-03-01'], env);
  expect(reversed.code).toBe(2);
  expect(reversed.stderr.trim().split('\n')).toHaveLength(1);
  expect((await runsOf('berlin_daily')).length).toBe(before);
});

test('weir standalone catches up the missed hourly intervals, runs them, and stops cleanly on SIGINT', async () => {
  const standalone = startWeir(['standalone', '--concurrency', '4'], env);
  try {
    await standalone.waitFor(/Ctrl-C to stop/);
    const runs = await eventually(async () => {
      const rows = await runsOf('hourly_catchup');
      return rows.length === 3 && rows.every((r) => r.state === 'success') && rows;
    }, 30_000, 'three successful catch-up runs');
    expect(runs.map((r) => [r.run_type, r.logical_date.toISOString()])).toEqual([
      ['scheduled', '2024-01-01T00:00:00.000Z'],
      ['scheduled', '2024-01-01T01:00:00.000Z'],
      ['scheduled', '2024-01-01T02:00:00.000Z'],
    ]);
    const outputs = await pool.query<{ output: string }>("SELECT output FROM weir.task_instance WHERE run_id = $1 AND task_id = 'b'", [runs[1]!.run_id]);
    expect(outputs.rows[0]!.output).toBe('2024-01-01T01:00:00.000Z done');
  } finally {
    const code = await standalone.stop('SIGINT');
    expect(code).toBe(0);
  }
  expect(standalone.output()).not.toMatch(/"level":(50|60)/);
});
