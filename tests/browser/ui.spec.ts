/// <reference lib="dom" />
/**
 * The web UI in real headless Chromium (Debian's `chromium` driven by playwright-core)
 * against a real server, worker and database: log in, the DAG list, trigger the
 * flagship from the generated form with params changed (an invalid value caught inline
 * first), the grid turning green live without a reload, the alert task's logs, clearing
 * a failed task, pausing a DAG, and values from task code shown as inert text.
 * Screenshots of the main pages go to tests/browser/artifacts/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import pg from 'pg';
import { Session } from '../../runtime/cli/session.ts';
import { loadConfig } from '../../runtime/config.ts';
import { startServer, type RunningServer } from '../../runtime/server/serve.ts';
import { startTwelveDataServer } from '../../runtime/dev/twelve-data-server.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ROOT, startWeir, type RunningProcess } from '../support/cli.ts';

const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'tests', 'browser', 'artifacts');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-ui-home-'));

let testDb: TestDatabase;
let session: Session;
let server: RunningServer;
let worker: RunningProcess;
let twelve: { url: string; close(): Promise<void> };
let browser: Browser;
let page: Page;
let pool: pg.Pool;
let secret: string;

const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  testDb = await createTestDatabase();
  twelve = await startTwelveDataServer({ apiKey: 'demo' });
  const env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'dags'), WEIR_HOME: home };
  session = new Session(loadConfig(env));
  await session.database({ migrate: true });
  server = await startServer(session, { port: 0 });
  secret = server.firstSecret!;
  // A real worker process, as users run it; the flagship's warehouse is weir's own database.
  worker = startWeir(['worker'], { ...env, TWELVE_DATA_BASE_URL: twelve.url, TWELVE_DATA_API_KEY: 'demo' });
  await worker.waitFor(/worker started/, 60_000);
  pool = (await session.database()).pool;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await server?.close();
  await session?.close();
  await twelve?.close();
  await testDb?.drop();
  fs.rmSync(home, { recursive: true, force: true });
});

const url = (p: string) => new URL(p, server.url).toString();

test('login, then the DAG list with schedules, tags and the pause toggle', async () => {
  await page.goto(url('/'));
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('#password', 'wrong');
  await page.click('button[type=submit]');
  await expect(page.locator('.error').textContent()).resolves.toContain('not the admin secret');
  await page.fill('#password', secret);
  await page.click('button[type=submit]');
  await page.waitForURL(url('/'));
  const rows = await page.locator('table.dags tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.dag));
  expect(rows).toEqual(['events_every_3_min', 'hello', 'qb_backfill', 'sales_daily', 'stock_prices', 'trips_gold_checks', 'trips_ingest']);
  await expect(page.locator('tr[data-dag="stock_prices"] code').first().textContent()).resolves.toBe('@daily');
  await shot('dag-list');
});

test('trigger the flagship from the form: an invalid value is caught inline, then the grid turns green live', async () => {
  // A second tab on the grid, marked so a reload would be noticed.
  const grid = await browser.newPage({ viewport: { width: 1280, height: 900 }, storageState: await page.context().storageState() });
  await grid.goto(url('/dags/stock_prices'));
  await grid.waitForFunction(() => document.body.dataset.liveReady === '1');
  await grid.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

  await page.goto(url('/dags/stock_prices/trigger'));
  await expect(page.locator('#p-th_min').inputValue()).resolves.toBe('130');
  await page.fill('#p-symbol', 'not a symbol!');
  await page.click('form.trigger button[type=submit]');
  expect(new URL(page.url()).pathname).toBe('/dags/stock_prices/trigger');
  await expect(page.locator('#p-symbol-error').textContent()).resolves.toMatch(/must match/);
  await shot('trigger-form');
  await page.fill('#p-symbol', 'AAPL');
  await page.fill('#p-start_date', '2020-01-01');
  await page.fill('#p-end_date', '2020-12-31');
  await page.fill('#p-th_min', '100');
  await expect(page.locator('#p-symbol-error').textContent()).resolves.toBe('');
  await page.click('form.trigger button[type=submit]');
  await page.waitForURL(/\/dags\/stock_prices\/runs\//);
  const runId = decodeURIComponent(new URL(page.url()).pathname.split('/')[4]!);
  const conf = (await pool.query('SELECT conf FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0].conf;
  expect(conf).toMatchObject({ symbol: 'AAPL', th_min: 100, start_date: '2020-01-01' });

  // The grid tab: the new run's column appears and every cell turns green, no reload.
  await grid.waitForFunction((id) => {
    const cells = [...document.querySelectorAll(`a.cell[data-run="${id}"]`)];
    return cells.length === 5 && cells.every((c) => c.classList.contains('s-success'));
  }, runId, { timeout: 60_000 });
  expect(await grid.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
  await grid.screenshot({ path: path.join(ARTIFACTS, 'grid.png'), fullPage: true });
  await grid.locator('.graph-box').screenshot({ path: path.join(ARTIFACTS, 'graph.png') });
  await grid.close();

  // The alert task's logs.
  await page.goto(url(`/dags/stock_prices/runs/${encodeURIComponent(runId)}/tasks/email_alert`));
  await expect(page.locator('pre.log').textContent()).resolves.toContain('alert queued');
  await expect(page.locator('pre.json').textContent()).resolves.toContain('AAPL average price');
  await shot('task-log');
});

test('clear a failed task: the preview says what will run again, then it runs again', async () => {
  const res = await page.request.post(url('/api/v2/dags/hello/dagRuns'), { data: { conf: { name: 'ada', times: 4 } }, headers: { origin: new URL(server.url).origin } });
  expect(res.status()).toBe(200);
  const runId = (await res.json()).dag_run_id as string;
  await page.goto(url(`/dags/hello/runs/${encodeURIComponent(runId)}`));
  await page.waitForFunction(() => document.querySelector('tr[data-task="shout"] .state')?.textContent === 'failed', undefined, { timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector('h1 .state')?.textContent === 'success', undefined, { timeout: 60_000 });
  await page.reload();
  await page.click('text=Clear failed…');
  await expect(page.locator('ul.preview li').allTextContents()).resolves.toEqual(['maybe', 'shout']);
  await page.click('button.primary');
  await page.waitForURL(url(`/dags/hello/runs/${encodeURIComponent(runId)}`));
  const tries = async () => (await pool.query("SELECT try_number FROM weir.task_instance WHERE run_id = $1 AND task_id = 'shout'", [runId])).rows[0].try_number;
  await page.waitForFunction(() => document.querySelector('h1 .state')?.textContent === 'success', undefined, { timeout: 60_000 });
  expect(await tries()).toBe(2);
});

test('mark a failed task success (after a page saying what changes), and backfill with a dry run first', async () => {
  const res = await page.request.post(url('/api/v2/dags/hello/dagRuns'), { data: { conf: { times: 5 } }, headers: { origin: new URL(server.url).origin } });
  const runId = (await res.json()).dag_run_id as string;
  await page.goto(url(`/dags/hello/runs/${encodeURIComponent(runId)}`));
  await page.waitForFunction(() => document.querySelector('h1 .state')?.textContent === 'success', undefined, { timeout: 60_000 });
  await page.goto(url(`/dags/hello/runs/${encodeURIComponent(runId)}/tasks/shout`));
  await page.click('text=Mark success…');
  await expect(page.locator('main p').first().textContent()).resolves.toMatch(/shout failed → success/);
  await page.click('button.primary');
  await expect(page.locator('h1 .state').textContent()).resolves.toBe('success');

  await page.goto(url('/dags/hello/backfill'));
  await page.fill('#from', '2026-03-01');
  await page.fill('#to', '2026-03-03');
  await page.click('form.backfill button[type=submit]');
  await expect(page.locator('ul.preview li').count()).resolves.toBe(3);
  const backfills = async () => Number((await pool.query("SELECT count(*) FROM weir.dag_run WHERE dag_id = 'hello' AND run_type = 'backfill'")).rows[0].count);
  expect(await backfills()).toBe(0);
  await page.click('button.primary:has-text("Create 3 run(s)")');
  await page.waitForURL(url('/dags/hello'));
  expect(await backfills()).toBe(3);
  await expect(page.goto(url('/dags/nope')).then((r) => r!.status())).resolves.toBe(404);
  await expect(page.locator('p.error').textContent()).resolves.toContain('unknown DAG "nope"');
});

test('pause a DAG from the list', async () => {
  await page.goto(url('/'));
  await page.click('tr[data-dag="hello"] button.toggle');
  await page.waitForURL(url('/'));
  await expect(page.locator('tr[data-dag="hello"] button.toggle').textContent()).resolves.toBe('paused');
  expect((await pool.query("SELECT is_paused FROM weir.dag WHERE dag_id = 'hello'")).rows[0].is_paused).toBe(true);
});

test('markup in a param, a log line and an output is shown as inert text', async () => {
  const evil = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
  const res = await page.request.post(url('/api/v2/dags/hello/dagRuns'), { data: { conf: { name: evil } }, headers: { origin: new URL(server.url).origin } });
  const runId = (await res.json()).dag_run_id as string;
  await page.goto(url(`/dags/hello/runs/${encodeURIComponent(runId)}/tasks/greet`));
  await page.waitForFunction(() => document.querySelector('h1 .state')?.textContent === 'success', undefined, { timeout: 60_000 });
  await page.reload();
  await expect(page.locator('pre.log').textContent()).resolves.toContain('<script>window.__pwned=1</script>');
  await expect(page.locator('pre.json').textContent()).resolves.toContain('hello <script>window.__pwned=1</script><img src=x onerror=');
  await page.goto(url(`/dags/hello/runs/${encodeURIComponent(runId)}`));
  await expect(page.locator('pre.json').first().textContent()).resolves.toContain('<script>window.__pwned=1</script><img src=x onerror=');
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
