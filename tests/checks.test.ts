/**
 * tasks/checks.ts on a real database loaded with the real 2020 sample through the
 * upsert: AMZN's average (high+low)/2 over 2020 lies inside [130, 150], AAPL's and
 * DIS's below 130 (the course project's results); parameters by header name; NULL
 * handling.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { NonRetryableError, SkipTask } from '../runtime/errors.ts';
import { createTestDatabase } from './support/database.ts';
import type { TestDatabase } from './support/database.ts';
import { applySqlFile, sqlFile, upsertRows } from '../tasks/postgres.ts';
import { cleanDailyBars } from '../tasks/clean.ts';
import { isBreached, runSqlCheck, sqlParameterNames } from '../tasks/checks.ts';
import type { RawBar } from '../tasks/twelve-data.ts';

const sample = JSON.parse(readFileSync(new URL('../runtime/dev/data/time_series_2020_AAPL_AMZN_DIS.json', import.meta.url), 'utf8')) as Record<string, { values: RawBar[] }>;

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await applySqlFile(pool, 'warehouse/stocks.sql');
  const { rows } = cleanDailyBars(Object.fromEntries(Object.entries(sample).map(([s, v]) => [s, v.values])));
  await upsertRows(pool, { table: 'stocks.daily_prices', key: ['symbol', 'date'], rows, ignoreChangesIn: ['extracted_at'] });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

const year = (symbol: string) => ({ file: 'checks/average_price.sql', params: { symbol, start_date: '2020-01-01', end_date: '2020-12-31' }, min: 130, max: 150 });

test('the header names the parameters', () => {
  expect(sqlParameterNames(sqlFile('checks/average_price.sql'))).toEqual(['symbol', 'start_date', 'end_date']);
});

test('AMZN over 2020: inside [130, 150], no breach', async () => {
  const result = await runSqlCheck(pool, year('AMZN'));
  expect(result.value).toBeCloseTo(133.864, 2);
  expect(result).toMatchObject({ min: 130, max: 150, breached: false, rows: 252 });
});

test.each([
  ['AAPL', 95.137],
  ['DIS', 126.095],
])('%s over 2020: below 130, breached', async (symbol, expected) => {
  const result = await runSqlCheck(pool, year(symbol));
  expect(result.value).toBeCloseTo(expected, 2);
  expect(result.breached).toBe(true);
});

test('the window is closed at both ends', async () => {
  const oneDay = await runSqlCheck(pool, { file: 'checks/average_price.sql', params: { symbol: 'AAPL', start_date: '2020-12-30', end_date: '2020-12-30' } });
  expect(oneDay.value).toBeCloseTo((135.99 + 133.4) / 2, 6);
  expect(oneDay.rows).toBe(1);
  expect(oneDay.breached).toBe(false); // no bounds given
});

test('positional parameters work; a wrong count or name fails before querying', async () => {
  await expect(runSqlCheck(pool, { file: 'checks/average_price.sql', params: ['AMZN', '2020-01-01', '2020-12-31'], min: 130 })).resolves.toMatchObject({ breached: false });
  await expect(runSqlCheck(pool, { file: 'checks/average_price.sql', params: ['AMZN'] })).rejects.toThrow(/declares 3 parameters/);
  await expect(runSqlCheck(pool, { file: 'checks/average_price.sql', params: { symbol: 'AMZN', start: '2020-01-01', end_date: '2020-12-31' } })).rejects.toThrow(
    /missing: start_date; unknown: start/,
  );
  await expect(runSqlCheck(pool, { file: '../../etc/passwd', params: [] })).rejects.toThrow(/outside sql/);
});

test('no rows in the window: fail (default), skip, or breach, as asked', async () => {
  const empty = { file: 'checks/average_price.sql', params: { symbol: 'AMZN', start_date: '2021-06-05', end_date: '2021-06-06' }, min: 130, max: 150 };
  await expect(runSqlCheck(pool, empty)).rejects.toBeInstanceOf(NonRetryableError);
  await expect(runSqlCheck(pool, { ...empty, onNull: 'skip' })).rejects.toBeInstanceOf(SkipTask);
  await expect(runSqlCheck(pool, { ...empty, onNull: 'breach' })).resolves.toMatchObject({ value: null, breached: true, rows: 0 });
});

test('bounds are inclusive and may be open', () => {
  expect(isBreached(130, 130, 150)).toBe(false);
  expect(isBreached(150, 130, 150)).toBe(false);
  expect(isBreached(150.01, 130, 150)).toBe(true);
  expect(isBreached(-5, null, 10)).toBe(false);
  expect(isBreached(11, undefined, 10)).toBe(true);
});

test('regression ("is outside sql/", retried 3 times): a SQL file beside the DAG is passed as a file URL; a missing one fails for good, naming its path', async () => {
  const beside = new URL('./fixtures/own-sql/avg_close.sql', import.meta.url);
  const r = await runSqlCheck(pool, { file: beside, params: { symbol: 'AMZN' }, min: 100, max: 200 });
  expect(r.breached).toBe(false);
  expect(r.value).toBeGreaterThan(100);
  // The same file by its href (what a task can keep in a string) and through applySqlFile's reader.
  expect(sqlFile(beside.href)).toBe(readFileSync(beside, 'utf8'));
  const missing = new URL('./fixtures/own-sql/nope.sql', import.meta.url);
  const error = await runSqlCheck(pool, { file: missing, params: [] }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NonRetryableError);
  expect((error as Error).message).toBe(`SQL file ${new URL(missing).pathname} not found`);
  const outside = (() => { try { sqlFile('../dags/checks/revenue.sql'); } catch (e) { return e; } })();
  expect(outside).toBeInstanceOf(NonRetryableError);
  expect((outside as Error).message).toBe('SQL file "../dags/checks/revenue.sql" is outside sql/ (weir\'s own SQL folder); for a file beside your DAG pass new URL(\'./revenue.sql\', import.meta.url)');
  await expect(applySqlFile(pool, missing)).rejects.toBeInstanceOf(NonRetryableError);
});
