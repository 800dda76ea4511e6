/**
 * tasks/postgres.ts against a real PostgreSQL database: named connections, the
 * warehouse schema, batched idempotent upsert (inserted / updated / unchanged), the
 * COPY path, and identifiers that would break naive concatenation.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createTestDatabase } from './support/database.ts';
import type { TestDatabase } from './support/database.ts';
import { applySqlFile, connectionUrl, copyUpsert, qualifiedName, upsertRows } from '../tasks/postgres.ts';
import { cleanDailyBars } from '../tasks/clean.ts';
import type { DailyPrice } from '../tasks/clean.ts';
import type { RawBar } from '../tasks/twelve-data.ts';

const sample = JSON.parse(readFileSync(new URL('../runtime/dev/data/time_series_2020_AAPL_AMZN_DIS.json', import.meta.url), 'utf8')) as Record<string, { values: RawBar[] }>;
const bars = Object.fromEntries(Object.entries(sample).map(([s, v]) => [s, v.values]));

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  await applySqlFile(pool, 'warehouse/stocks.sql');
  await applySqlFile(pool, 'warehouse/stocks.sql'); // idempotent
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

test('connectionUrl reads WEIR_CONN_<NAME>, else the fallback, else explains', () => {
  expect(connectionUrl('warehouse', 'postgres://fallback/db', { WEIR_CONN_WAREHOUSE: 'postgres://wh/db' })).toBe('postgres://wh/db');
  expect(connectionUrl('my-crm', 'x', { WEIR_CONN_MY_CRM: 'postgres://crm/db' })).toBe('postgres://crm/db');
  expect(connectionUrl('warehouse', 'postgres://fallback/db', {})).toBe('postgres://fallback/db');
  expect(() => connectionUrl('warehouse', undefined, {})).toThrow(/set WEIR_CONN_WAREHOUSE/);
});

test('qualifiedName escapes identifiers', () => {
  expect(qualifiedName('stocks.daily_prices')).toBe('"stocks"."daily_prices"');
  expect(qualifiedName('a"b')).toBe('"a""b"');
  expect(() => qualifiedName('a.b.c')).toThrow(/schema.table/);
});

const options = (rows: DailyPrice[], batchSize = 100) => ({
  table: 'stocks.daily_prices',
  key: ['symbol', 'date'] as const,
  rows,
  ignoreChangesIn: ['extracted_at'] as const,
  batchSize,
});

test('the 2020 sample loads once; loading it again changes nothing; a changed row is updated', async () => {
  const first = cleanDailyBars(bars, { extractedAt: '2024-01-01T00:00:00Z' }).rows;
  expect(await upsertRows(pool, options(first))).toEqual({ inserted: 756, updated: 0, unchanged: 0 });

  const again = cleanDailyBars(bars, { extractedAt: '2024-06-01T00:00:00Z' }).rows;
  expect(await upsertRows(pool, options(again, 37))).toEqual({ inserted: 0, updated: 0, unchanged: 756 });
  const stamps = await pool.query(`SELECT DISTINCT extracted_at FROM stocks.daily_prices`);
  expect(stamps.rows.map((r) => (r.extracted_at as Date).toISOString())).toEqual(['2024-01-01T00:00:00.000Z']);

  const changed = again.map((r) => (r.symbol === 'AMZN' && r.date === '2020-12-30' ? { ...r, close: 165.01 } : r));
  expect(await upsertRows(pool, options(changed))).toEqual({ inserted: 0, updated: 1, unchanged: 755 });
  const row = await pool.query(`SELECT close::text, extracted_at FROM stocks.daily_prices WHERE symbol = 'AMZN' AND date = '2020-12-30'`);
  expect(row.rows[0].close).toBe('165.01');
  expect((row.rows[0].extracted_at as Date).toISOString()).toBe('2024-06-01T00:00:00.000Z');
  const count = await pool.query('SELECT count(*)::int AS n FROM stocks.daily_prices');
  expect(count.rows[0].n).toBe(756);
});

test('rows sharing a key are refused before touching the table', async () => {
  const row: DailyPrice = { symbol: 'ZZZ', date: '2021-01-04', open: 1, high: 2, low: 1, close: 2, volume: 5, extracted_at: '2024-01-01T00:00:00Z' };
  await expect(upsertRows(pool, options([row, { ...row }]))).rejects.toThrow(/de-duplicate before loading/);
  const n = await pool.query(`SELECT count(*)::int AS n FROM stocks.daily_prices WHERE symbol = 'ZZZ'`);
  expect(n.rows[0].n).toBe(0);
});

test('values are parameters: a hostile string is stored as written', async () => {
  await pool.query(`CREATE TABLE "odd ""table"" name" (id text PRIMARY KEY, "select" text)`);
  const hostile = `x'); DROP TABLE stocks.daily_prices; --`;
  const counts = await upsertRows(pool, { table: 'odd "table" name', key: ['id'], rows: [{ id: '1', select: hostile }] });
  expect(counts.inserted).toBe(1);
  const r = await pool.query(`SELECT "select" FROM "odd ""table"" name"`);
  expect(r.rows[0].select).toBe(hostile);
  await expect(pool.query('SELECT 1 FROM stocks.daily_prices LIMIT 1')).resolves.toBeTruthy();
});

test('COPY path: streams rows into staging and merges with the same counts', async () => {
  await pool.query(`CREATE TABLE copy_target (LIKE stocks.daily_prices INCLUDING ALL)`);
  const rows = cleanDailyBars(bars, { extractedAt: '2024-01-01T00:00:00Z' }).rows;
  async function* stream() {
    for (const r of rows) yield r;
    yield { ...rows[0]!, close: 999 }; // a later duplicate wins
  }
  const columns = ['symbol', 'date', 'open', 'high', 'low', 'close', 'volume', 'extracted_at'] as const;
  const first = await copyUpsert(pool, { table: 'copy_target', key: ['symbol', 'date'], columns, rows: stream(), ignoreChangesIn: ['extracted_at'] });
  expect(first).toEqual({ copied: 757, inserted: 756, updated: 0, unchanged: 0 });
  const again = await copyUpsert(pool, { table: 'copy_target', key: ['symbol', 'date'], columns, rows, ignoreChangesIn: ['extracted_at'] });
  expect(again).toEqual({ copied: 756, inserted: 0, updated: 1, unchanged: 755 });
  const r = await pool.query(`SELECT close::text FROM copy_target WHERE symbol = 'AAPL' AND date = '2020-12-30'`);
  expect(r.rows[0].close).toBe('133.72');
});
