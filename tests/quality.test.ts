/**
 * weir/tasks/quality against a real database with planted faults: each kind of check
 * counts exactly the planted rows, severities decide pass-with-warning or fail-for-good
 * with a one-line summary, results are stored per try and shown by `weir tasks checks`
 * and `weir runs show`, values are bound (an injection attempt is only a value), and
 * identifiers are quoted.
 */
import { dag, z } from '../runtime/index.ts';
import { check, compileCheck, runChecks } from '../tasks/quality.ts';
import { getCheckResults } from '../runtime/read/runs.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { runWeir } from './support/cli.ts';

const DAY = '2026-06-01';
const INJECTION = "web'); DROP TABLE qa.orders; --";

const checksOf = (severity: 'warn' | 'error') => [
  check.notNull('qa.orders', 'customer_id'),
  check.unique('qa.orders', ['order_id']),
  check.acceptedValues('qa.orders', 'channel', ['web', 'store', INJECTION]),
  check.range('qa.orders', 'amount', { min: 0 }),
  check.rowCount('qa.orders', { min: 1, max: 100 }),
  check.references('qa.orders', 'customer_id', 'qa.customers', 'id', { severity }),
  check.freshness('qa.orders', 'loaded_at', { maxAgeMinutes: 60 }),
  check.sql('no orders above the cap', 'SELECT order_id, amount FROM qa.orders WHERE amount > $1', [1000]),
  check.notNull('qa.orders', 'odd"col', { severity: 'warn' }),
];

const d = dag({ id: 'quality', params: z.object({ severity: z.enum(['warn', 'error']).default('warn') }) });
d.task({ id: 'checks', retries: 2 }, async (ctx) => {
  const report = await runChecks(te.engine.pool, ctx, checksOf(ctx.params.severity), { where: { sql: 'order_date = $1', params: [DAY] } });
  return report.summary;
});

let te: TestEngine;

beforeAll(async () => {
  te = await startTestEngine([d]);
  process.env.WEIR_DATABASE_URL = te.testDb.url;
  await te.engine.pool.query(`
    CREATE SCHEMA qa;
    CREATE TABLE qa.customers (id int PRIMARY KEY);
    INSERT INTO qa.customers VALUES (1), (2), (3);
    CREATE TABLE qa.orders (order_id int, customer_id int, amount numeric, channel text, order_date date, loaded_at timestamptz DEFAULT now(), "odd""col" text);
    INSERT INTO qa.orders (order_id, customer_id, amount, channel, order_date, "odd""col") VALUES
      (1, 1, 10, 'web', '${DAY}', 'x'),
      (2, NULL, 20, 'store', '${DAY}', 'x'),   -- null customer
      (3, NULL, 30, 'web', '${DAY}', NULL),    -- null customer, null odd"col
      (4, 2, -5, 'web', '${DAY}', 'x'),        -- negative amount
      (4, 2, 5, 'fax', '${DAY}', 'x'),         -- duplicate order 4, unknown channel
      (5, 9, 15, 'web', '${DAY}', 'x'),        -- unknown customer 9
      (6, 3, 5000, '${INJECTION.replace(/'/g, "''")}', '${DAY}', 'x'), -- above the cap; a channel that is the "injection" value
      (7, NULL, -1, 'fax', '2026-05-31', NULL); -- another day: outside the filter
  `);
  await te.startWorker();
});

afterAll(async () => {
  delete process.env.WEIR_DATABASE_URL;
  await te?.close();
});

let firstRun = '';

test('every count matches the planted faults; failing error checks fail the task for good with a one-line summary, warn ones listed as warnings', async () => {
  const runId = (firstRun = await te.trigger('quality', { severity: 'warn' }));
  // The other error checks fail: the task fails for good (no retry) with the summary.
  expect(await te.waitForRun(runId)).toBe('failed');
  const { rows } = await te.engine.pool.query('SELECT try_number, state FROM weir.task_instance WHERE run_id = $1', [runId]);
  expect(rows[0]).toMatchObject({ try_number: 1, state: 'failed' });
  const results = await getCheckResults(te.engine.pool, runId, 'checks');
  expect(results.map((r) => [r.name, r.severity, r.passed, Number(r.failing)])).toEqual([
    ['orders.customer_id not null', 'error', false, 2],
    ['orders.(order_id) unique', 'error', false, 1],
    [`orders.channel in (web, store, ${INJECTION})`, 'error', false, 1],
    ['orders.amount >= 0', 'error', false, 1],
    ['orders has 1..100 rows', 'error', true, 0],
    ['orders.customer_id references customers.id', 'warn', false, 1],
    ['orders.loaded_at newer than 60 min', 'error', true, 0],
    ['no orders above the cap', 'error', false, 1],
    ['orders.odd"col not null', 'warn', false, 1],
  ]);
  expect(results[0]!.sample.map((r) => r.order_id).sort()).toEqual([2, 3]);
  expect(results[1]!.sample).toEqual([{ order_id: 4, copies: 2 }]);
  const { rows: tries } = await te.engine.pool.query('SELECT error FROM weir.task_try WHERE run_id = $1', [runId]);
  expect(tries[0].error).toBe('5 of 9 checks failed: orders.customer_id not null (2 rows), orders.(order_id) unique (1 duplicate key), '
    + `orders.channel in (web, store, ${INJECTION}) (1 row), orders.amount >= 0 (1 row), no orders above the cap (1 row); `
    + '2 warned: orders.customer_id references customers.id (1 row), orders.odd"col not null (1 row)');
  // The "injection" was only ever a value: the table is still there.
  expect((await te.engine.pool.query('SELECT count(*)::int AS n FROM qa.orders')).rows[0].n).toBe(8);
});

test('with only warn checks failing, the task passes with the warnings in its log', async () => {
  const pool = te.engine.pool;
  const warned: string[] = [];
  const report = await runChecks(pool, { runId: firstRun, taskId: 'direct', tryNumber: 1, log: { warn: (m) => warned.push(m) } }, [
    check.rowCount('qa.orders', { min: 1 }),
    check.references('qa.orders', 'customer_id', 'qa.customers', 'id', { severity: 'warn' }),
  ], { where: { sql: 'order_date = $1', params: [DAY] }, resultsDb: pool });
  expect(report.summary).toBe('1 of 2 checks passed; 1 warned: orders.customer_id references customers.id (1 row)');
  expect(warned).toEqual(['check warned: orders.customer_id references customers.id (1 row)']);
  expect((await getCheckResults(pool, firstRun, 'direct')).map((r) => r.passed)).toEqual([true, false]);
});

test('checks compile to SQL with values bound as parameters and identifiers quoted', () => {
  const { text, values } = compileCheck(check.acceptedValues('qa.orders', 'channel', [INJECTION]), { sql: 'order_date = $1', params: [DAY] });
  expect(values).toEqual([DAY, [INJECTION]]);
  expect(text).not.toContain('DROP TABLE');
  expect(text).toContain('"qa"."orders"');
  expect(text).toContain('order_date = $1');
  expect(text).toContain('= ANY($2::text[])');
});

test('weir tasks checks and weir runs show print the stored results; exit 1 when an error check failed', async () => {
  const runId = await te.trigger('quality', { severity: 'error' });
  expect(await te.waitForRun(runId)).toBe('failed');
  const env = { WEIR_DATABASE_URL: te.testDb.url };
  const out = await runWeir(['tasks', 'checks', runId, 'checks'], env);
  expect(out.code).toBe(1);
  expect(out.stdout).toMatch(/^checks: 2 of 9 passed/);
  expect(out.stdout).toMatch(/orders\.customer_id references customers\.id\s+error\s+FAIL\s+1/);
  const json = JSON.parse((await runWeir(['tasks', 'checks', runId, 'checks', '--json'], env)).stdout);
  expect(json.checks).toHaveLength(9);
  expect(json.checks[0]).toMatchObject({ name: 'orders.customer_id not null', failing: 2, passed: false });
  const show = await runWeir(['runs', 'show', runId], env);
  expect(show.stdout).toContain('checks: 2 of 9 passed');
  const none = await runWeir(['tasks', 'checks', runId, 'nope'], env);
  expect(none.code).toBe(2);
  expect(none.stderr.trim()).toBe(`weir: task "nope" of run ${runId} recorded no checks`);
});
