/**
 * The QuickBooks backfill (dags/qb_backfill.ts) against the QBO stand-in
 * (runtime/dev/quickbooks-server.ts): two `weir worker` processes, the refresh token in
 * weir's secrets store, the `quickbooks` pool at 2 slots. A backfill loads exactly the
 * window's entities (the 20 real sandbox invoices among them); running it again changes
 * nothing; a chunk whose pages keep failing fails alone and `weir clear --failed` re-runs
 * only it; an access token expired mid-backfill is refreshed once and the rotated refresh
 * token is the one stored; a refused refresh token fails for good saying how to set a new
 * one; 429s are waited out; a table that disagrees with the run fails volumetry; at no
 * moment do more than 2 QBO requests run at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ROOT, eventually, runWeir, startWorkers, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { realInvoices, startQuickBooksServer, type QuickBooksServer } from '../runtime/dev/quickbooks-server.ts';
import { readStoredSecret, secretKey } from '../runtime/engine/secrets.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let qbo: QuickBooksServer;
let env: Record<string, string>;
const workers: RunningProcess[] = [];
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-qb-'));
const FROM = '2025-07-28T00:00:00Z';
const TO = '2025-08-05T00:00:00Z';

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  qbo = await startQuickBooksServer({ generated: { count: 300, from: '2025-07-27T12:00:00Z', to: '2025-08-06T00:00:00Z', seed: 7 } });
  env = {
    WEIR_DATABASE_URL: testDb.url, WEIR_CONN_WAREHOUSE: testDb.url, WEIR_HOME: home, WEIR_DAGS_FOLDER: path.join(ROOT, 'dags'),
    QBO_BASE_URL: qbo.url, QBO_TOKEN_URL: qbo.tokenUrl, QBO_REALM_ID: qbo.realmId, QBO_CLIENT_ID: qbo.clientId, QBO_CLIENT_SECRET: qbo.clientSecret,
    QBO_RETRY_BASE_MS: '20',
  };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  expect((await runWeir(['secrets', 'set', 'QBO_REFRESH_TOKEN'], env, { input: qbo.refreshToken })).code).toBe(0);
  expect((await runWeir(['pools', 'set', 'quickbooks', '--slots', '2'], env)).code).toBe(0);
  // Slow pages, so that requests overlap whenever the pool lets them.
  qbo.setFailureMode({ kind: 'slow', delayMs: 25 });
  await startWorkers(2, 4, env, workers);
}, 60_000);

afterAll(async () => {
  for (const w of workers) await w.stop('SIGTERM');
  await qbo?.close();
  await pool?.end();
  await testDb?.drop();
  fs.rmSync(home, { recursive: true, force: true });
});

async function trigger(...params: string[]): Promise<string> {
  const out = await runWeir(['trigger', 'qb_backfill', '--json', ...params.flatMap((p) => ['-p', p])], env);
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout).run_id as string;
}
type Shown = { state: string; task_instances: { task_id: string; state: string; try_number: number; last_error: string | null }[] };
const show = async (runId: string) => JSON.parse((await runWeir(['runs', 'show', runId, '--json'], env)).stdout) as Shown;
const ended = (runId: string) => eventually(async () => {
  const r = await show(runId);
  return ['success', 'failed'].includes(r.state) ? r : undefined;
}, 120_000, `run ${runId}`);
const inWindow = (name: 'Invoice' | 'Customer' | 'Item') => qbo.entities(name)
  .filter((e) => Date.parse(e.MetaData.LastUpdatedTime) >= Date.parse(FROM) && Date.parse(e.MetaData.LastUpdatedTime) < Date.parse(TO)).map((e) => e.Id).sort();
const ids = async (table: string) => (await pool.query<{ id: string }>(`SELECT id FROM raw.${table} ORDER BY id`)).rows.map((r) => r.id).sort();
const storedRefreshToken = async () => (await readStoredSecret(pool, secretKey(home, {}), 'QBO_REFRESH_TOKEN'))!.value;
const output = async (runId: string, task: string) => JSON.parse((await runWeir(['tasks', 'output', runId, task, '--json'], env)).stdout).output;

test('a backfill with page_size 10 loads exactly the window\'s invoices, page by page, never more than 2 requests at once; running it again changes nothing', async () => {
  const runId = await trigger('entity=invoices', `start_date=${FROM}`, `end_date=${TO}`, 'page_size=10');
  const r = await ended(runId);
  expect(r.state).toBe('success');
  // One mapped instance per day of the window.
  expect(r.task_instances.filter((t) => t.task_id.startsWith('extract[')).map((t) => t.state)).toEqual(Array(8).fill('success'));
  const expected = inWindow('Invoice');
  expect(await ids('qb_invoices')).toEqual(expected);
  for (const real of realInvoices()) expect(expected).toContain(real.Id);
  const meta = (await pool.query("SELECT payload->>'Id' AS pid, page_size, run_id, extract_window_start_utc <= last_updated_utc AND last_updated_utc < extract_window_end_utc AS inside FROM raw.qb_invoices")).rows;
  expect(meta.every((m) => m.page_size === 10 && m.run_id === runId && m.inside)).toBe(true);
  const summary = await output(runId, 'summary');
  expect(summary).toMatchObject({ chunks: 8, rows: expected.length, inserted: expected.length, updated: 0, volumetry: [{ entity: 'invoices', seen_by_run: expected.length, in_table: expected.length, ok: true }] });
  // Pages: a chunk of n rows takes floor(n / 10) + 1 pages.
  expect(summary.pages).toBeGreaterThan(8);
  expect(qbo.stats.peakConcurrent).toBeLessThanOrEqual(2);
  expect(qbo.stats.peakConcurrent).toBeGreaterThanOrEqual(1);
  // The refresh token was rotated, and the store holds the one the server accepts now.
  expect(await storedRefreshToken()).toBe(qbo.refreshToken);

  const before = (await pool.query('SELECT id, ingested_at_utc, run_id FROM raw.qb_invoices ORDER BY id')).rows;
  const again = await trigger('entity=invoices', `start_date=${FROM}`, `end_date=${TO}`, 'page_size=10');
  expect((await ended(again)).state).toBe('success');
  expect(await output(again, 'summary')).toMatchObject({ rows: expected.length, inserted: 0, updated: 0 });
  // Same rows, ingested_at_utc and run_id kept: nothing changed, so nothing was rewritten.
  expect((await pool.query('SELECT id, ingested_at_utc, run_id FROM raw.qb_invoices ORDER BY id')).rows).toEqual(before);
});

test('customers and items load with invoices; a chunk whose pages keep failing fails alone and clear --failed re-runs only it', async () => {
  qbo.setFailureMode({ kind: 'server_error', status: 503, match: "FROM Customer WHERE MetaData.LastUpdatedTime >= '2025-07-28T00:00:00+00:00'" });
  const runId = await trigger('entity=["customers","items"]', `start_date=${FROM}`, `end_date=${TO}`);
  const failed = await ended(runId);
  expect(failed.state).toBe('failed');
  const extracts = failed.task_instances.filter((t) => t.task_id.startsWith('extract['));
  expect(extracts).toHaveLength(16);
  const bad = extracts.filter((t) => t.state === 'failed');
  expect(bad).toHaveLength(1);
  expect(bad[0]).toMatchObject({ task_id: 'extract[0]', try_number: 3 });
  expect(bad[0]!.last_error).toContain('503');
  expect(extracts.filter((t) => t.state === 'success')).toHaveLength(15);
  qbo.setFailureMode({ kind: 'slow', delayMs: 25 });
  const cleared = await runWeir(['clear', runId, '--failed', '--json'], env);
  expect(cleared.code).toBe(0);
  expect(JSON.parse(cleared.stdout).cleared.sort()).toEqual(['extract[0]', 'summary', 'volumetry']);
  const again = await ended(runId);
  expect(again.state).toBe('success');
  const tries = Object.fromEntries(again.task_instances.map((t) => [t.task_id, t.try_number]));
  expect(tries['extract[0]']).toBe(4);
  for (let i = 1; i < 16; i++) expect(tries[`extract[${i}]`]).toBe(1);
  expect(await ids('qb_customers')).toEqual(inWindow('Customer'));
  expect(await ids('qb_items')).toEqual(inWindow('Item'));
  expect(qbo.stats.peakConcurrent).toBeLessThanOrEqual(2);
});

test('an access token expired mid-backfill is refreshed once, and the rotated refresh token is the one stored', async () => {
  qbo.setFailureMode({ kind: 'slow', delayMs: 150 });
  const queries = qbo.stats.queries;
  const tokens = qbo.stats.tokenRequests;
  const runId = await trigger('entity=invoices', `start_date=${FROM}`, `end_date=${TO}`, 'page_size=10');
  await eventually(async () => (qbo.stats.queries >= queries + 4 ? true : undefined), 60_000, 'the backfill under way');
  qbo.setFailureMode({ kind: 'expire_tokens' });
  const r = await ended(runId);
  qbo.setFailureMode({ kind: 'slow', delayMs: 25 });
  expect(r.state).toBe('success');
  expect(r.task_instances.every((t) => t.try_number === 1)).toBe(true);
  expect(qbo.stats.tokenRequests).toBeGreaterThan(tokens);
  expect(await storedRefreshToken()).toBe(qbo.refreshToken);
  const logs = await Promise.all(Array.from({ length: 8 }, async (_, i) => JSON.parse((await runWeir(['tasks', 'logs', runId, 'extract', '--map-index', String(i), '--json'], env)).stdout).tries[0].logs as { msg: string }[]));
  expect(logs.flat().filter((l) => l.msg === 'oauth2 access token rejected (401), refreshing once').length).toBeGreaterThanOrEqual(1);
});

test('a refused refresh token fails the chunk for good, saying how to store a new one', async () => {
  const good = qbo.refreshToken;
  expect((await runWeir(['secrets', 'set', 'QBO_REFRESH_TOKEN'], env, { input: 'revoked-by-the-user' })).code).toBe(0);
  qbo.setFailureMode({ kind: 'expire_tokens' });
  const runId = await trigger('entity=items', `start_date=${FROM}`, 'end_date=2025-07-29T00:00:00Z');
  const r = await ended(runId);
  expect(r.state).toBe('failed');
  const ex = r.task_instances.find((t) => t.task_id === 'extract[0]')!;
  expect(ex).toMatchObject({ state: 'failed', try_number: 1 });
  expect(ex.last_error).toContain('re-authorise the app and store the new refresh token with `weir secrets set QBO_REFRESH_TOKEN`');
  expect(ex.last_error).not.toContain('revoked-by-the-user');
  expect(qbo.refreshToken).toBe(good);
  // The user stores a good one again, as the message says; the next test runs with it.
  expect((await runWeir(['secrets', 'set', 'QBO_REFRESH_TOKEN'], env, { input: good })).code).toBe(0);
});

test('429 throttling is waited out (Retry-After) inside the try; a table that disagrees with what the run saw fails volumetry, naming both counts', async () => {
  const queries = qbo.stats.queries;
  qbo.setFailureMode({ kind: 'rate_limit', retryAfterS: 0.2, times: 3 });
  const throttled = await trigger('entity=invoices', 'start_date=2025-08-01T00:00:00Z', 'end_date=2025-08-02T00:00:00Z');
  const r = await ended(throttled);
  expect(r.state).toBe('success');
  // Three 429s answered, then the pages: all in the extract's first try.
  expect(qbo.stats.queries).toBeGreaterThan(queries + 3);
  expect(r.task_instances.find((t) => t.task_id === 'extract[0]')!.try_number).toBe(1);
  qbo.setFailureMode({ kind: 'slow', delayMs: 25 });

  // A row the run did not see (loaded by something else) in the window.
  await pool.query("INSERT INTO raw.qb_items SELECT 'not-from-qbo', '{}', '2025-07-28T06:00:00Z', now(), '2025-07-28T00:00:00Z', '2025-07-29T00:00:00Z', 1, 100, 'elsewhere'");
  const checked = await trigger('entity=items', `start_date=${FROM}`, 'end_date=2025-07-29T00:00:00Z');
  const v = await ended(checked);
  expect(v.state).toBe('failed');
  const items = inWindow('Item').filter((id) => Date.parse(qbo.entities('Item').find((e) => e.Id === id)!.MetaData.LastUpdatedTime) < Date.parse('2025-07-29T00:00:00Z')).length;
  expect(v.task_instances.find((t) => t.task_id === 'volumetry')!.last_error).toBe(`volumetry: items: the run saw ${items} rows, the table has ${items + 1} for the window`);
});

test('bad params are refused at trigger with exit 2', async () => {
  const reversed = await runWeir(['trigger', 'qb_backfill', '-p', `start_date=${TO}`, '-p', `end_date=${FROM}`], env);
  expect(reversed.code).toBe(2);
  expect(reversed.stderr).toContain('end_date must be after start_date');
  const big = await runWeir(['trigger', 'qb_backfill', '-p', 'page_size=1001'], env);
  expect(big.code).toBe(2);
  expect(big.stderr).toContain('page_size');
});
