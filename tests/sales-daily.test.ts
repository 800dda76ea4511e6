/**
 * The sales_daily DAG end to end on the real engine, for each dataset size (small and
 * medium as shipped, large generated here): a fresh warehouse, a real SMTP server
 * in-process, the webhook outbox. What each stage kept and rejected, and the KPIs, are
 * computed again here from the raw files, independently of the DAG's SQL, and compared
 * with the stage outputs, the planted-fault manifest and the warehouse. Running the same
 * files twice changes nothing; a strict threshold fails the referential check and sends
 * one alert by email and webhook.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import salesDaily from '../dags/sales_daily.ts';
import { generateSales, SALES_DATA_DIR, type SalesManifest } from '../runtime/dev/sales-data.ts';
import { getRunDetail } from '../runtime/read/runs.ts';
import { Alerter } from '../runtime/worker/alerter.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually, runWeir } from './support/cli.ts';
import { decodePng } from './support/png.ts';

let te: TestEngine;
let alerter: Alerter;
let smtp: SMTPServer;
let home: string;
const inbox: ParsedMail[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, cb) {
      simpleParser(stream, { keepCidLinks: true }).then((m) => (inbox.push(m), cb()), cb);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-sales-'));
  process.env.WEIR_ALERT_RETRY_DELAY_S = '1';
  te = await startTestEngine([salesDaily], { worker: false });
  Object.assign(process.env, {
    WEIR_DATABASE_URL: te.testDb.url,
    WEIR_CONN_WAREHOUSE: te.testDb.url,
    WEIR_HOME: home,
    WEIR_SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`,
    WEIR_MAIL_FROM: 'weir-tests@example.com',
  });
  delete process.env.WEIR_WEBHOOK_SALES_OPS;
  alerter = new Alerter(te.engine.boss, { pollingIntervalSeconds: 0.5 });
  await alerter.start();
  await te.startWorker();
});
afterAll(async () => {
  await alerter?.stop();
  await te?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  fs.rmSync(home, { recursive: true, force: true });
  process.env = saved;
});

// ---- The independent computation: the DAG's rules, applied in JavaScript to the raw files.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const isDate = (t: string) => {
  const m = DATE.exec(t);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
};
const cents = (text: string) => Math.round(Number(text) * 100);

interface Expected {
  sales: { read: number; kept: number; rejected: number };
  clean: { input: number; kept: number; discounts_filled: number; rejected: Record<string, number> };
  customers: { input: number; kept: number; emails_cleared: number; duplicates: number };
  products: { input: number; kept: number; duplicates: number };
  unknownProductOrders: number;
  /** day → KPIs, money in cents. */
  kpis: Map<string, { revenue: number; orders: number; aov: number; newCustomers: number; returning: number; byCategory: Record<string, number>; byChannel: Record<string, number>; top: [string, number][] }>;
}

function expectedOf(folder: string): Expected {
  const lines = fs.readFileSync(path.join(folder, 'sales.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const dated = lines.filter((f) => isDate(f[1]!));
  const valid = dated.filter((f) => f[2] !== '' && Number(f[4]) > 0);
  const seen = new Set<string>();
  const orders = valid.filter((f) => (seen.has(f[0]!) ? false : (seen.add(f[0]!), true)));
  const productLines = fs.readFileSync(path.join(folder, 'products.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const category = new Map<string, string>();
  for (const p of productLines) if (!category.has(p[0]!)) category.set(p[0]!, p[2]!);
  const customers = JSON.parse(fs.readFileSync(path.join(folder, 'customers.json'), 'utf8')) as { customer_id: string; email: string }[];
  const firstCustomers = new Map<string, { email: string }>();
  for (const c of customers) if (!firstCustomers.has(c.customer_id)) firstCustomers.set(c.customer_id, c);

  const rows = orders.map(([id, day, customer, product, qty, price, discount, channel]) => {
    const n = Number(qty) * cents(price!) * (100 - Math.round(Number(discount || '0') * 100));
    return { id: id!, day: day!, customer: customer!, product: product!, qty: Number(qty), channel: channel!, revenue: Math.floor((n + 50) / 100) };
  });
  const firstDay = new Map<string, string>();
  for (const r of rows) if (!firstDay.has(r.customer) || r.day < firstDay.get(r.customer)!) firstDay.set(r.customer, r.day);
  const kpis: Expected['kpis'] = new Map();
  for (const day of [...new Set(rows.map((r) => r.day))].sort()) {
    const of = rows.filter((r) => r.day === day);
    const revenue = of.reduce((s, r) => s + r.revenue, 0);
    const sumBy = (key: (r: (typeof of)[number]) => string) => {
      const out: Record<string, number> = {};
      for (const r of of) out[key(r)] = (out[key(r)] ?? 0) + r.revenue;
      return out;
    };
    const byProduct = Object.entries(sumBy((r) => r.product)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
    const dayCustomers = [...new Set(of.map((r) => r.customer))];
    kpis.set(day, {
      revenue,
      orders: of.length,
      aov: Math.floor((2 * revenue + of.length) / (2 * of.length)),
      newCustomers: dayCustomers.filter((c) => firstDay.get(c) === day).length,
      returning: dayCustomers.filter((c) => firstDay.get(c)! < day).length,
      byCategory: sumBy((r) => category.get(r.product) ?? 'unknown'),
      byChannel: sumBy((r) => r.channel),
      top: byProduct,
    });
  }
  const emailOk = /^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$/;
  return {
    sales: { read: lines.length, kept: dated.length, rejected: lines.length - dated.length },
    clean: {
      input: dated.length,
      kept: orders.length,
      discounts_filled: valid.filter((f) => f[6] === '').length,
      rejected: Object.fromEntries(Object.entries({
        'customer_id missing': dated.filter((f) => f[2] === '').length,
        'quantity not positive': dated.filter((f) => f[2] !== '' && Number(f[4]) <= 0).length,
        'duplicate order_id': valid.length - orders.length,
      }).filter(([, n]) => n > 0)),
    },
    customers: { input: customers.length, kept: firstCustomers.size, emails_cleared: [...firstCustomers.values()].filter((c) => !emailOk.test(c.email.trim().toLowerCase())).length, duplicates: customers.length - firstCustomers.size },
    products: { input: productLines.length, kept: category.size, duplicates: productLines.length - category.size },
    unknownProductOrders: rows.filter((r) => !category.has(r.product)).length,
    kpis,
  };
}

// ---- Reading the run and the warehouse.

async function outputs(runId: string): Promise<Record<string, any>> {
  const { rows } = await te.db.pool.query<{ task_id: string; output: unknown }>('SELECT task_id, output FROM weir.task_instance WHERE run_id = $1', [runId]);
  return Object.fromEntries(rows.map((r) => [r.task_id, r.output]));
}

/** Every row of sales.*, in a stable order: equal snapshots mean nothing changed. */
async function warehouseSnapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [table, key] of [['customers', 'customer_id'], ['products', 'product_id'], ['orders', 'order_id'], ['daily_kpis', 'day']] as const) {
    const { rows } = await te.db.pool.query<{ digest: string; n: number }>(`SELECT md5(string_agg(t::text, '|' ORDER BY ${key})) AS digest, count(*)::int AS n FROM sales.${table} t`);
    out[table] = `${rows[0]!.n}:${rows[0]!.digest}`;
  }
  return out;
}

async function resetWarehouse(): Promise<void> {
  await te.db.pool.query('DROP SCHEMA IF EXISTS sales CASCADE; DROP SCHEMA IF EXISTS sales_stage CASCADE');
}

const mailsFor = (runId: string) => inbox.filter((m) => (m.text ?? '').includes(runId));

const large = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-sales-large-'));
afterAll(() => fs.rmSync(large, { recursive: true, force: true }));

const sizes: [string, () => { dataset: string; folder: string }][] = [
  ['small', () => ({ dataset: 'small', folder: path.join(SALES_DATA_DIR, 'small') })],
  ['medium', () => ({ dataset: 'medium', folder: path.join(SALES_DATA_DIR, 'medium') })],
  ['large', () => {
    generateSales(large, { size: 'large', orders: 5000 });
    return { dataset: large, folder: large };
  }],
];

test.each(sizes)('%s: stage counts match the planted faults, KPIs match, the summary email and report arrive, a second run changes nothing', async (_size, dataset) => {
  const { dataset: name, folder } = dataset();
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as SalesManifest;
  const want = expectedOf(folder);
  const planted = manifest.planted;
  // The manifest and the independent reading agree on what is in the files.
  expect(want.sales.rejected).toBe(planted.malformedDates);
  expect(want.clean.rejected).toEqual({ 'customer_id missing': planted.nullCustomerIds, 'quantity not positive': planted.negativeQuantities, 'duplicate order_id': planted.duplicateOrders });
  expect(want.clean.discounts_filled).toBe(planted.nullDiscounts);
  expect(want.customers.emails_cleared).toBe(planted.invalidEmails);
  expect(want.unknownProductOrders).toBe(planted.unknownProductIds);

  await resetWarehouse();
  const runId = await te.trigger('sales_daily', { dataset: name, date: '2024-06-30', recipients: ['sales@example.com'] });
  expect(await te.waitForRun(runId, 60_000)).toBe('success');
  expect(await te.taskStates(runId)).toEqual({ ingest: 'success', clean: 'success', transform: 'success', load: 'success', quality: 'success', summary: 'success', notify: 'success', watcher: 'skipped' });

  const out = await outputs(runId);
  expect(out.ingest.files).toEqual({
    sales: want.sales,
    customers: { read: want.customers.input, kept: want.customers.input, rejected: 0 },
    products: { read: want.products.input, kept: want.products.input, rejected: 0 },
  });
  expect(out.ingest.errors.map((e: { column: string }) => e.column)).toEqual(Array(planted.malformedDates).fill('order_date').slice(0, 10));
  expect(out.clean).toEqual({ orders: want.clean, customers: want.customers, products: want.products });
  expect(out.load.tables['sales.orders']).toEqual({ staged: want.clean.kept, inserted: want.clean.kept, updated: 0, unchanged: 0 });

  // KPIs as stored, against the computation above.
  const { rows: kpis } = await te.db.pool.query('SELECT to_char(day, \'YYYY-MM-DD\') AS day, revenue::text, orders, avg_order_value::text, new_customers, returning_customers, by_category, by_channel, top_products FROM sales.daily_kpis ORDER BY day');
  expect(kpis.map((k) => k.day)).toEqual([...want.kpis.keys()]);
  const toCents = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 100)]));
  for (const k of kpis) {
    const w = want.kpis.get(k.day)!;
    expect({ day: k.day, revenue: cents(k.revenue), orders: k.orders, aov: cents(k.avg_order_value), newCustomers: k.new_customers, returning: k.returning_customers })
      .toEqual({ day: k.day, revenue: w.revenue, orders: w.orders, aov: w.aov, newCustomers: w.newCustomers, returning: w.returning });
    expect(toCents(k.by_category)).toEqual(w.byCategory);
    expect(toCents(k.by_channel)).toEqual(w.byChannel);
    expect(k.top_products.map((p: { product_id: string; revenue: number }) => [p.product_id, Math.round(p.revenue * 100)])).toEqual(w.top);
  }

  // The checks stored: the planted unknown products and cleared emails warn; everything else passes.
  const detail = await getRunDetail(te.db.pool, runId);
  const results = Object.fromEntries(detail.checks.map((c) => [c.name, [c.severity, c.passed, Number(c.failing)]]));
  expect(results['orders.product_id references products.product_id']).toEqual(['warn', false, planted.unknownProductIds]);
  expect(results['customers.email not null']).toEqual(['warn', false, planted.invalidEmails]);
  expect(detail.checks.filter((c) => c.severity === 'error').every((c) => c.passed)).toBe(true);
  expect(detail.checks).toHaveLength(11);
  expect(out.quality.summary).toBe(`9 of 11 checks passed; 2 warned: orders.product_id references products.product_id (${planted.unknownProductIds} row${planted.unknownProductIds === 1 ? '' : 's'}), customers.email not null (${planted.invalidEmails} row${planted.invalidEmails === 1 ? '' : 's'})`);

  // The report is kept with the run, and the summary email arrives with its charts as PNGs.
  expect(detail.artifacts.map((a) => [a.task_id, a.name, a.content_type])).toEqual([['summary', 'summary-2024-06-30.html', 'text/html; charset=utf-8']]);
  const shown = await runWeir(['runs', 'show', runId], { WEIR_DATABASE_URL: te.testDb.url, WEIR_HOME: home });
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/artifacts:[\s\S]*summary\s+1\s+summary-2024-06-30\.html\s+text\/html/);
  const day = want.kpis.get('2024-06-30')!;
  const money = (c: number) => `${(c / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} USD`;
  await eventually(async () => mailsFor(runId).length > 0, 30_000, 'the summary email');
  const [mail] = mailsFor(runId);
  expect(mail!.subject).toBe('[weir] Sales summary for 2024-06-30');
  expect((mail!.to as { text: string }).text).toBe('sales@example.com');
  expect(String(mail!.html).includes(money(day.revenue))).toBe(true);
  expect(String(mail!.html).includes('9 of 11 quality checks passed')).toBe(true);
  const images = mail!.attachments.filter((a) => a.contentType === 'image/png');
  expect(images).toHaveLength(2);
  for (const image of images) {
    expect(String(mail!.html).includes(`src="cid:${image.cid}"`)).toBe(true);
    const png = decodePng(image.content);
    expect(png.width).toBeGreaterThan(600);
    expect(png.height).toBeGreaterThan(60);
    // Drawn: some pixels are the bars' blue, not all background.
    let blue = 0;
    for (let i = 0; i < png.pixels.length; i += png.channels) if (png.pixels[i]! < 80 && png.pixels[i + 2]! > 200) blue++;
    expect(blue).toBeGreaterThan(100);
  }

  // The same files again: nothing in the warehouse changes, and load says so.
  const before = await warehouseSnapshot();
  const again = await te.trigger('sales_daily', { dataset: name, date: '2024-06-30', recipients: ['sales@example.com'] });
  expect(await te.waitForRun(again, 60_000)).toBe('success');
  expect(await warehouseSnapshot()).toEqual(before);
  const reload = (await outputs(again)).load.tables;
  for (const t of Object.values(reload) as { staged: number; inserted: number; updated: number; unchanged: number }[]) expect([t.inserted, t.updated, t.unchanged]).toEqual([0, 0, t.staged]);
}, 120_000);

test('a strict threshold fails the referential check for good: the summary still goes out, and one alert by email and webhook says what failed where', async () => {
  await resetWarehouse();
  const runId = await te.trigger('sales_daily', { dataset: 'small', date: '2024-06-30', recipients: ['sales@example.com'], max_unknown_product_share: 0 });
  expect(await te.waitForRun(runId, 60_000)).toBe('failed');
  const states = await te.taskStates(runId);
  expect(states).toMatchObject({ load: 'success', quality: 'failed', summary: 'success', notify: 'success', watcher: 'failed' });
  const detail = await getRunDetail(te.db.pool, runId);
  const quality = detail.task_instances.find((t) => t.task_id === 'quality')!;
  // Non-retryable: one try, the summary as the error.
  expect(quality.try_number).toBe(1);
  expect(quality.last_error).toContain('1 of 11 checks failed: orders for unknown products <= 0% (1 row); 2 warned:');

  await eventually(async () => mailsFor(runId).length >= 2, 30_000, 'the summary and the alert');
  const subjects = mailsFor(runId).map((m) => m.subject).sort();
  expect(subjects).toEqual(['[weir] Sales summary for 2024-06-30', `[weir] sales_daily ${runId}: 2 problems`]);
  const alert = mailsFor(runId).find((m) => m.subject!.includes('problems'))!;
  expect(alert.text).toContain('task quality failed');
  expect(String(alert.html).includes('check failed: orders for unknown products &lt;= 0%')).toBe(true);
  const summaryMail = mailsFor(runId).find((m) => m.subject!.includes('summary'))!;
  expect(String(summaryMail.html).includes('FAILED')).toBe(true);

  const outbox = path.join(home, 'outbox');
  await eventually(async () => fs.existsSync(outbox) && fs.readdirSync(outbox).some((f) => f.includes('webhook-sales_ops')), 30_000, 'the webhook post in the outbox');
  const posts = fs.readdirSync(outbox).filter((f) => f.includes('webhook-sales_ops')).map((f) => JSON.parse(fs.readFileSync(path.join(outbox, f), 'utf8')) as { text: string });
  const mine = posts.filter((p) => p.text.includes(runId));
  expect(mine).toHaveLength(1);
  expect(mine[0]!.text).toContain('• check failed: orders for unknown products <= 0% — task quality — 1 failing');
}, 120_000);

test('a dataset that is neither a size nor a folder fails ingest at once, naming it', async () => {
  const runId = await te.trigger('sales_daily', { dataset: '/nowhere/sales' });
  expect(await te.waitForRun(runId, 60_000)).toBe('failed');
  const detail = await getRunDetail(te.db.pool, runId);
  const ingest = detail.task_instances.find((t) => t.task_id === 'ingest')!;
  expect([ingest.state, ingest.try_number]).toEqual(['failed', 1]);
  expect(ingest.last_error).toContain('dataset "/nowhere/sales" is neither small, medium, large nor a folder');
}, 60_000);
