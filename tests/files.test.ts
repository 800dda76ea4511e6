/**
 * weir/tasks/files on real files: CSV with typed columns and planted faults (each
 * rejected with its line, column and reason), batches for flat memory, a header missing
 * a column, and JSON arrays and NDJSON validated by a zod schema.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { column, readCsv, readJson } from '../tasks/files.ts';
import { NonRetryableError } from '../runtime/errors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-files-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
};

const salesColumns = {
  order_id: column.string(),
  order_date: column.date(),
  customer_id: column.int({ nullable: true }),
  quantity: column.int({ min: 1 }),
  unit_price: column.number(),
  channel: column.enum(['web', 'store']),
};

test('CSV: typed rows kept; each planted fault rejected with its line, column and reason', async () => {
  const file = write('sales.csv', [
    '\uFEFForder_id,order_date,customer_id,quantity,unit_price,channel,ignored',
    'o1,2024-05-01,7,2,9.99,web,x',
    '"o2, quoted",2024-05-01,,1,5,store,x',  // quoted comma; empty customer_id is null
    '',                                       // empty line: skipped, not a row
    'o3,2024-13-01,7,1,5,web,x',             // malformed date
    'o4,2024-05-02,7,-3,5,web,x',            // negative quantity
    'o5,2024-05-02,seven,1,5,web,x',         // customer id not a number
    'o6,2024-05-02,7,1,5,fax,x',             // unknown channel
    'o7,2024-05-02,7',                       // too few fields
    'o8,2024-02-30,7,1,5,web,x',             // a date that does not exist
    'o9,2024-05-03,8,4,1e2,store,x',
    '',
  ].join('\n'));
  const r = await readCsv(file, { columns: salesColumns });
  expect({ read: r.read, kept: r.kept, rejected: r.rejected }).toEqual({ read: 9, kept: 3, rejected: 6 });
  expect(r.rows).toEqual([
    { order_id: 'o1', order_date: '2024-05-01', customer_id: 7, quantity: 2, unit_price: 9.99, channel: 'web' },
    { order_id: 'o2, quoted', order_date: '2024-05-01', customer_id: null, quantity: 1, unit_price: 5, channel: 'store' },
    { order_id: 'o9', order_date: '2024-05-03', customer_id: 8, quantity: 4, unit_price: 100, channel: 'store' },
  ]);
  expect(r.errors).toEqual([
    { line: 5, column: 'order_date', reason: 'not a date (YYYY-MM-DD)', value: '2024-13-01' },
    { line: 6, column: 'quantity', reason: 'below 1', value: '-3' },
    { line: 7, column: 'customer_id', reason: 'not a whole number', value: 'seven' },
    { line: 8, column: 'channel', reason: 'not one of web, store', value: 'fax' },
    { line: 9, column: 'quantity', reason: 'missing (the line has too few fields)' },
    { line: 10, column: 'order_date', reason: 'not a date (YYYY-MM-DD)', value: '2024-02-30' },
  ]);
});

test('CSV: rows go to onBatch in batches of batchSize, and none are kept in the report', async () => {
  const lines = ['order_id,order_date,customer_id,quantity,unit_price,channel'];
  for (let i = 0; i < 250; i++) lines.push(`o${i},2024-05-01,${i},1,1.5,web`);
  const file = write('many.csv', lines.join('\n'));
  const sizes: number[] = [];
  const r = await readCsv(file, { columns: salesColumns, batchSize: 100, onBatch: async (rows) => void sizes.push(rows.length) });
  expect(sizes).toEqual([100, 100, 50]);
  expect(r).toMatchObject({ read: 250, kept: 250, rejected: 0, rows: [] });
});

test('CSV: a header without a declared column, a missing file and an empty file fail at once (non-retryable), naming them', async () => {
  const file = write('short.csv', 'order_id,order_date\no1,2024-05-01\n');
  await expect(readCsv(file, { columns: salesColumns })).rejects.toThrow(new NonRetryableError(`${file}: the header has no column "customer_id", "quantity", "unit_price", "channel" (it has order_id, order_date)`));
  await expect(readCsv(path.join(tmp, 'nope.csv'), { columns: salesColumns })).rejects.toThrow(`data file ${path.join(tmp, 'nope.csv')} not found`);
  await expect(readCsv(write('empty.csv', ''), { columns: salesColumns })).rejects.toThrow(/is empty: no header line/);
  await expect(readCsv(write('bad.csv', 'order_id\n"unterminated\n'), { columns: { order_id: column.string() } })).rejects.toBeInstanceOf(NonRetryableError);
});

const customer = z.object({ id: z.number().int(), email: z.email(), segment: z.enum(['retail', 'business']) });

test('JSON array and NDJSON: rows checked by the schema; bad ones rejected with their line and path', async () => {
  const array = write('customers.json', JSON.stringify([
    { id: 1, email: 'a@example.com', segment: 'retail' },
    { id: 2, email: 'not-an-email', segment: 'retail' },
    { id: 3, email: 'c@example.com', segment: 'other' },
  ]));
  const a = await readJson(array, { schema: customer });
  expect({ read: a.read, kept: a.kept, rejected: a.rejected }).toEqual({ read: 3, kept: 1, rejected: 2 });
  expect(a.errors.map((e) => [e.line, e.column])).toEqual([[2, 'email'], [3, 'segment']]);

  const nd = write('customers.ndjson', [
    '{"id": 1, "email": "a@example.com", "segment": "retail"}',
    '',
    '{"id": 2, "email": "b@example.com", "segment": "business"}',
    '{"id": 3, "email": ',
    '{"id": "four", "email": "d@example.com", "segment": "retail"}',
  ].join('\n'));
  const n = await readJson(nd, { schema: customer });
  expect({ read: n.read, kept: n.kept, rejected: n.rejected }).toEqual({ read: 4, kept: 2, rejected: 2 });
  expect(n.errors[0]).toMatchObject({ line: 4, column: null, reason: expect.stringMatching(/^not valid JSON/) });
  expect(n.errors[1]).toMatchObject({ line: 5, column: 'id' });
  expect(n.rows.map((r) => r.id)).toEqual([1, 2]);
});

test('JSON: a file that is not an array of rows, or too big to read whole, fails at once', async () => {
  await expect(readJson(write('obj.json', '{"a": 1}'), { schema: customer, format: 'array' })).rejects.toThrow(/must hold a JSON array of rows/);
  await expect(readJson(write('broken.json', '[{"a": '), { schema: customer })).rejects.toThrow(/is not valid JSON/);
  await expect(readJson(write('big.json', JSON.stringify([1, 2, 3])), { schema: customer, maxArrayBytes: 4 })).rejects.toThrow(/write it as NDJSON to stream it/);
});
