/**
 * sales_daily — sales, customers and products from a raw folder into a PostgreSQL
 * warehouse, checked, summarised in a report with charts, and announced.
 *
 *   ingest → clean → transform → load → quality → summary → notify   (+ watcher)
 *
 * - ingest: sales.csv and products.csv (typed columns) and customers.json, streamed into
 *   staging tables with COPY; rows that do not parse are rejected with line and reason.
 * - clean (SQL): orders without a customer or with quantity <= 0 rejected, repeated
 *   order ids removed (the first line wins), missing discounts set to 0; customers' names
 *   trimmed and emails lower-cased (one that is not an email becomes null); repeated
 *   customers and products keep their first line.
 * - transform (SQL): each day's revenue, orders, average order value, new vs returning
 *   customers, revenue by category and channel, and top products.
 * - load (SQL): idempotent upserts into sales.*; the same files twice change nothing.
 * - quality: checks on this run's orders; `max_unknown_product_share` decides when orders
 *   for products missing from the catalogue fail the run instead of warning.
 * - summary: an HTML report of the day (KPIs, two charts, tables) kept as an artifact.
 * - notify (runs whatever failed): the report emailed to `recipients`; when a stage or an
 *   `error` check failed, an alert email and a post to the `sales_ops` webhook
 *   (`WEIR_WEBHOOK_SALES_OPS`; the outbox without it) saying what failed and where.
 * - watcher: runs only when a stage failed, and fails, so the run ends `failed` (a run's
 *   state follows its leaves, and notify succeeds whatever failed before it).
 *
 * Environment: WEIR_CONN_WAREHOUSE (default: weir's own database), WEIR_SMTP_URL / WEIR_MAIL_FROM.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dag, z, NonRetryableError, SkipTask } from 'weir';
import type { TaskContext } from 'weir';
import { column, readCsv, readJson, type RowError } from 'weir/tasks/files';
import { applySqlFile, copyRows, sqlFile, withConnection, withTransaction } from 'weir/tasks/postgres';
import { check, runChecks } from 'weir/tasks/quality';
import { barChartSvg, reportEmail, reportHtml, type Report } from 'weir/tasks/report';
import { saveArtifact } from 'weir/tasks/artifacts';
import { runStatus } from 'weir/tasks/run-status';
import { SALES_SIZES, salesDataset, type SalesSize } from '../runtime/dev/sales-data.ts';

const CHANNELS = ['web', 'store', 'phone', 'marketplace'] as const;
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

const params = z.object({
  dataset: z.string().min(1).default('small').describe('small, medium or large (generated on first use), or a folder holding sales.csv, customers.json and products.csv'),
  date: isoDate.optional().describe("the day reported on (default: the run's logical date, or the latest day before it with orders)"),
  recipients: z.array(z.email()).min(1).default(['sales-team@example.com']).describe('who gets the daily summary and alerts'),
  max_unknown_product_share: z.number().min(0).max(1).default(0.1).describe('orders for products missing from the catalogue above this share fail the run; at or below it they warn'),
});
type Params = z.output<typeof params>;

const d = dag({
  id: 'sales_daily',
  description: 'Sales, customers and products from a raw folder into sales.*, with quality checks, a daily summary report and alerts',
  tags: ['sales', 'etl', 'quality'],
  owner: 'sales-analytics',
  params,
  schedule: '@daily',
  timezone: 'UTC',
  startDate: '2024-06-01',
  catchup: false,
  maxActiveRuns: 1,
  alertWebhooks: ['sales_ops'],
  // The notify task reports failures itself (what and where, with the checks): no second alert.
  emailOnFailure: false,
  webhookOnFailure: false,
  defaultTaskOptions: { retries: 2, retryDelayMs: 2000, retryExponentialBackoff: true },
});

const warehouse = <T>(fn: (pool: import('pg').Pool) => Promise<T>) => withConnection('warehouse', fn, { max: 2 });

/** The dataset's folder: a named size (generated if missing), or a folder path. */
function datasetFolder(dataset: string): string {
  if (dataset in SALES_SIZES) return salesDataset(dataset as SalesSize);
  const folder = path.resolve(dataset.startsWith('file:') ? fileURLToPath(dataset) : dataset);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new NonRetryableError(`dataset "${dataset}" is neither small, medium, large nor a folder`);
  return folder;
}

interface FileCounts {
  read: number;
  kept: number;
  rejected: number;
}
const counts = (r: FileCounts): FileCounts => ({ read: r.read, kept: r.kept, rejected: r.rejected });

const ingest = d.task({ id: 'ingest', description: 'sales.csv, customers.json, products.csv into staging (COPY), rejects with line and reason' }, async (ctx) => {
  const folder = datasetFolder(ctx.params.dataset);
  const runId = ctx.runId;
  return warehouse(async (pool) => {
    await applySqlFile(pool, 'warehouse/sales/schema.sql');
    return withTransaction(pool, async (db) => {
      await db.query(sqlFile('warehouse/sales/purge_stage.sql'), [runId]);
      const stage = <R extends object>(table: string, columns: string[]) => (rows: R[], lines: number[]) =>
        copyRows(db, { table, columns: ['run_id', 'line', ...columns] as never, rows: rows.map((r, i) => ({ run_id: runId, line: lines[i], ...r })) });
      const sales = await readCsv(path.join(folder, 'sales.csv'), {
        columns: {
          order_id: column.string({ maxLength: 64 }),
          order_date: column.date(),
          customer_id: column.string({ nullable: true }),
          product_id: column.string(),
          quantity: column.int(),
          unit_price: column.number({ min: 0 }),
          discount: column.number({ nullable: true, min: 0, max: 1 }),
          channel: column.enum(CHANNELS),
        },
        onBatch: stage('sales_stage.orders_raw', ['order_id', 'order_date', 'customer_id', 'product_id', 'quantity', 'unit_price', 'discount', 'channel']),
      });
      const customers = await readJson(path.join(folder, 'customers.json'), {
        schema: z.object({
          customer_id: z.string().min(1),
          name: z.string().min(1),
          email: z.string().nullable(),
          segment: z.string().min(1),
          country: z.string().length(2),
          signup_date: isoDate,
        }),
        onBatch: stage('sales_stage.customers_raw', ['customer_id', 'name', 'email', 'segment', 'country', 'signup_date']),
      });
      const products = await readCsv(path.join(folder, 'products.csv'), {
        columns: { product_id: column.string(), name: column.string(), category: column.string(), cost: column.number({ min: 0 }), price: column.number({ min: 0 }) },
        onBatch: stage('sales_stage.products_raw', ['product_id', 'name', 'category', 'cost', 'price']),
      });
      const rejects = (source: string, errors: RowError[]) => errors.map((e) => ({ run_id: runId, stage: 'ingest', source, line: e.line, reason: `${e.column ?? 'row'}: ${e.reason}`, record: e.value ?? null }));
      await copyRows(db, {
        table: 'sales_stage.rejects',
        columns: ['run_id', 'stage', 'source', 'line', 'reason', 'record'],
        rows: [...rejects('sales.csv', sales.errors), ...rejects('customers.json', customers.errors), ...rejects('products.csv', products.errors)],
      });
      await db.query(sqlFile('warehouse/sales/analyze_stage.sql'));
      const files = { sales: counts(sales), customers: counts(customers), products: counts(products) };
      ctx.log.info('ingested', { folder, ...files });
      for (const e of sales.errors.slice(0, 5)) ctx.log.warn('sales row rejected', { ...e });
      return { folder, files, errors: sales.errors.slice(0, 10) };
    });
  });
});

const clean = d.task({ id: 'clean', upstream: [ingest], description: 'reject, de-duplicate and fill in SQL (orders, customers, products)' }, async (ctx) =>
  warehouse((pool) => withTransaction(pool, async (db) => {
    const run = (file: string) => db.query(sqlFile(`warehouse/sales/${file}.sql`), [ctx.runId]).then((r) => r.rows[0]);
    const orders = (await run('clean_orders')) as { input: number; kept: number; discounts_filled: number; rejected: Record<string, number> };
    const customers = (await run('clean_customers')) as { input: number; kept: number; emails_cleared: number; duplicates: number };
    const products = (await run('clean_products')) as { input: number; kept: number; duplicates: number };
    await db.query(sqlFile('warehouse/sales/analyze_stage.sql'));
    ctx.log.info('cleaned', { orders, customers, products });
    return { orders, customers, products };
  })));

const transform = d.task({ id: 'transform', upstream: [clean], description: 'daily KPIs in SQL' }, async (ctx) => {
  const { rows } = await warehouse((pool) => pool.query<{ days: string[] }>(sqlFile('warehouse/sales/transform_kpis.sql'), [ctx.runId]));
  ctx.log.info('KPIs computed', { days: rows[0]!.days });
  return { days: rows[0]!.days };
});

const load = d.task({ id: 'load', upstream: [transform], description: 'idempotent upserts into sales.*' }, async (ctx) => {
  const { rows } = await warehouse(async (pool) => {
    const result = await pool.query<{ table: string; staged: number; inserted: number; updated: number }>(sqlFile('warehouse/sales/load.sql'), [ctx.runId]);
    await pool.query(sqlFile('warehouse/sales/analyze_sales.sql'));
    return result;
  });
  const tables = Object.fromEntries(rows.map((r) => [r.table, { staged: r.staged, inserted: r.inserted, updated: r.updated, unchanged: r.staged - r.inserted - r.updated }]));
  ctx.log.info('loaded', tables);
  return { tables };
});

const quality = d.task({ id: 'quality', upstream: [load], retries: 0, description: 'integrity and consistency checks on this run\'s orders' }, async (ctx) => {
  const thisRun = { sql: 't.order_id IN (SELECT order_id FROM sales_stage.orders_clean WHERE run_id = $1)', params: [ctx.runId] };
  const report = await warehouse((pool) =>
    runChecks(pool, ctx, [
      check.unique('sales.orders', ['order_id']),
      check.notNull('sales.orders', 'customer_id'),
      check.range('sales.orders', 'quantity', { min: 1 }),
      check.range('sales.orders', 'discount', { min: 0, max: 1 }),
      check.acceptedValues('sales.orders', 'channel', CHANNELS),
      check.rowCount('sales.orders', { min: 1 }),
      check.references('sales.orders', 'customer_id', 'sales.customers', 'customer_id'),
      check.references('sales.orders', 'product_id', 'sales.products', 'product_id', { severity: 'warn' }),
      check.sql(
        `orders for unknown products <= ${ctx.params.max_unknown_product_share * 100}%`,
        `SELECT count(*) FILTER (WHERE p.product_id IS NULL) AS unknown, count(*) AS orders FROM sales.orders o LEFT JOIN sales.products p USING (product_id)
         WHERE o.order_id IN (SELECT order_id FROM sales_stage.orders_clean WHERE run_id = $1)
         HAVING count(*) FILTER (WHERE p.product_id IS NULL) > $2::float8 * count(*)`,
        [ctx.runId, ctx.params.max_unknown_product_share],
      ),
      check.notNull('sales.customers', 'email', { severity: 'warn', where: { sql: 't.customer_id IN (SELECT customer_id FROM sales_stage.customers_clean WHERE run_id = $1)', params: [ctx.runId] } }),
      check.sql('daily KPIs match the loaded orders', sqlFile('warehouse/sales/kpis_match_orders.sql'), [ctx.runId]),
    ], { where: thisRun, signal: ctx.signal }),
  );
  ctx.log.info('checked', { summary: report.summary });
  return { summary: report.summary, passed: report.passed, warned: report.warned };
});

const money = (n: number) => `${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} USD`;

interface DayKpis {
  day: string;
  revenue: number;
  orders: number;
  avg_order_value: number;
  new_customers: number;
  returning_customers: number;
  by_category: Record<string, number>;
  by_channel: Record<string, number>;
  top_products: { product_id: string; name: string; quantity: number; revenue: number }[];
}

async function reportOf(ctx: TaskContext<Params>): Promise<{ day: string; report: Omit<Report, 'to'> }> {
  const wanted = ctx.params.date ?? ctx.logicalDate.toISODate()!;
  const { day, days, rejects } = await warehouse(async (pool) => {
    const found = (await pool.query<{ day: string }>(sqlFile('warehouse/sales/report_day.sql'), [wanted])).rows[0]?.day;
    if (!found) throw new NonRetryableError(`no sales on or before ${wanted} in sales.daily_kpis`);
    const week = (await pool.query<DayKpis>(sqlFile('warehouse/sales/summary_days.sql'), [found])).rows;
    const set = (await pool.query<{ stage: string; source: string; reason: string; rows: number }>(sqlFile('warehouse/sales/stage_rejects.sql'), [ctx.runId])).rows;
    return { day: found, days: week, rejects: set };
  });
  const k = days.find((x) => x.day === day)!;
  const byCategory = Object.entries(k.by_category).map(([label, value]) => ({ label, value: Number(value) })).sort((a, b) => b.value - a.value);
  const status = await runStatus(ctx);
  const checks = status.checks.filter((c) => c.taskId === 'quality');
  return {
    day,
    report: {
      title: `Sales summary for ${day}`,
      subtitle: `${checks.filter((c) => c.passed).length} of ${checks.length} quality checks passed${checks.some((c) => !c.passed) ? `; not passed: ${checks.filter((c) => !c.passed).map((c) => `${c.name} (${c.severity}, ${c.failing})`).join(', ')}` : ''}`,
      kpis: [
        { label: 'Revenue', value: money(Number(k.revenue)) },
        { label: 'Orders', value: String(k.orders) },
        { label: 'Average order value', value: money(Number(k.avg_order_value)) },
        { label: 'New customers', value: String(k.new_customers) },
        { label: 'Returning customers', value: String(k.returning_customers) },
      ],
      charts: [
        barChartSvg({ title: 'Revenue by day (7 days)', unit: 'USD', bars: days.map((x) => ({ label: x.day, value: Number(x.revenue) })) }),
        barChartSvg({ title: `Revenue by category, ${day}`, unit: 'USD', bars: byCategory }),
      ],
      tables: [
        { title: 'Top products', columns: ['Product', 'Quantity', 'Revenue'], rows: k.top_products.map((p) => [p.name, p.quantity, money(Number(p.revenue))]) },
        { title: 'Revenue by channel', columns: ['Channel', 'Revenue'], rows: Object.entries(k.by_channel).map(([c, v]) => [c, money(Number(v))]) },
        { title: 'Rows set aside by this run', columns: ['Stage', 'File', 'Reason', 'Rows'], rows: rejects.map((r) => [r.stage, r.source, r.reason, r.rows]) },
        { title: 'Quality checks', columns: ['Check', 'Severity', 'Result', 'Failing'], rows: checks.map((c) => [c.name, c.severity, c.passed ? 'passed' : c.severity === 'warn' ? 'warned' : 'FAILED', c.failing]) },
      ],
      dagId: ctx.dagId,
      runId: ctx.runId,
    },
  };
}

const summary = d.task({ id: 'summary', upstream: [quality], triggerRule: 'all_done', description: 'the day\'s report (KPIs, charts, tables), kept as an artifact' }, async (ctx) => {
  // Runs after failed checks too: the numbers are loaded, and the report says what failed.
  const status = await runStatus(ctx);
  if (status.tasks.find((t) => t.taskId === 'load')?.state !== 'success') throw new SkipTask('nothing was loaded: no summary');
  const { day, report } = await reportOf(ctx);
  const saved = await saveArtifact(ctx, `summary-${day}.html`, reportHtml(report), 'text/html; charset=utf-8');
  ctx.log.info('report saved', saved);
  return { day, artifact: saved.name, report };
});

const notify = d.task({ id: 'notify', upstream: [summary], triggerRule: 'all_done', retries: 5, description: 'the summary to recipients; an alert (email and webhook) when anything failed' }, async (ctx) => {
  const status = await runStatus(ctx);
  const summaryTask = status.tasks.find((t) => t.taskId === 'summary');
  if (summaryTask?.state === 'success') {
    const { report } = ctx.output(summary);
    ctx.queueEmail(reportEmail({ ...report, to: ctx.params.recipients }));
  }
  // The watcher fails because something else did: not a problem of its own.
  const failedTasks = status.tasks.filter((t) => t.state === 'failed' && t.taskId !== 'watcher');
  const failedChecks = status.checks.filter((c) => !c.passed && c.severity === 'error');
  if (!failedTasks.length && !failedChecks.length) return { summarySent: summaryTask?.state === 'success', alert: false };
  const problems = [
    ...failedTasks.map((t) => [`task ${t.taskId} failed`, `try ${t.tryNumber}`, t.lastError?.split('\n')[0] ?? '']),
    ...failedChecks.map((c) => [`check failed: ${c.name}`, `task ${c.taskId}`, `${c.failing} failing`]),
  ];
  const title = `sales_daily ${ctx.runId}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  ctx.queueEmail(reportEmail({ to: ctx.params.recipients, title, subtitle: `dataset ${ctx.params.dataset}`, kpis: [], charts: [], tables: [{ title: 'What failed, and where', columns: ['What', 'Where', 'Detail'], rows: problems }], dagId: ctx.dagId, runId: ctx.runId }));
  ctx.queueWebhook({ webhook: 'sales_ops', text: `${title}\n${problems.map((p) => `• ${p.join(' — ')}`).join('\n')}` });
  ctx.log.warn('alert queued', { problems: problems.length });
  return { summarySent: summaryTask?.state === 'success', alert: true, problems: problems.length };
});

// Airflow's watcher pattern: a run's state follows its leaf tasks, and notify (all_done)
// succeeds whatever failed before it. This leaf runs only when a task failed, and fails.
d.task({ id: 'watcher', upstream: [ingest, clean, transform, load, quality, summary, notify], triggerRule: 'one_failed', retries: 0, description: 'fails the run when any stage failed' }, () => {
  throw new NonRetryableError('a stage of this run failed (see notify\'s alert)');
});

export default d;
