/**
 * example — a DAG of your own project: a day's orders into PostgreSQL with your own
 * SQL, the day's revenue checked against bounds, and an HTML email when it is outside.
 *
 *   extract → load → revenue_check → email_alert
 *
 * The SQL lives beside this DAG in ../sql/ and is found through import.meta.url.
 * Environment (see .env.example): WEIR_CONN_WAREHOUSE (default: weir's own database),
 * WEIR_SMTP_URL (default: emails are written to .weir/outbox/).
 */
import { dag, z, SkipTask } from 'weir';
import { applySqlFile, upsertRows, withConnection } from 'weir/tasks/postgres';
import { runSqlCheck } from 'weir/tasks/checks';
import { thresholdAlertEmail } from 'weir/tasks/email-alert';

const SCHEMA = new URL('../sql/orders.sql', import.meta.url);
const DAILY_REVENUE = new URL('../sql/checks/daily_revenue.sql', import.meta.url);

const order = z.object({ id: z.string().min(1), amount: z.number().nonnegative() });

const d = dag({
  id: 'example',
  description: "A day's orders into example.orders, with a revenue check and an email alert",
  tags: ['example'],
  params: z.object({
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD').optional().describe('day to load (default: the run\'s data interval start)'),
    orders: z.array(order).default([{ id: 'o-1', amount: 120 }, { id: 'o-2', amount: 80.5 }, { id: 'o-3', amount: 42 }]).describe("the day's orders (stands in for your source system)"),
    min_revenue: z.number().default(500).describe('lowest acceptable revenue, inclusive'),
    max_revenue: z.number().default(10_000).describe('highest acceptable revenue, inclusive'),
    recipients: z.array(z.email()).min(1).default(['data-team@example.com']).describe('who gets the alert'),
  }),
  schedule: '@daily',
  startDate: '2026-01-01',
  catchup: false,
  defaultTaskOptions: { retries: 2, retryDelayMs: 2000 },
});

const extract = d.task({ id: 'extract' }, async (ctx) => {
  const day = ctx.params.day ?? ctx.dataIntervalStart.toISODate()!;
  // Replace with a call to your source (weir/tasks/http has a client with retries and paging).
  const rows = ctx.params.orders.map((o) => ({ id: o.id, day, amount: o.amount }));
  ctx.log.info('extracted', { day, orders: rows.length });
  return { day, rows };
});

const load = d.task({ id: 'load', upstream: [extract] }, async (ctx) => {
  const { rows } = ctx.output(extract);
  const counts = await withConnection('warehouse', async (pool) => {
    await applySqlFile(pool, SCHEMA);
    return upsertRows(pool, { table: 'example.orders', key: ['id'], rows });
  });
  ctx.log.info('loaded', { ...counts });
  return counts;
});

const revenue_check = d.task({ id: 'revenue_check', upstream: [load, extract] }, async (ctx) => {
  const { day } = ctx.output(extract);
  const result = await withConnection('warehouse', (pool) =>
    runSqlCheck(pool, { file: DAILY_REVENUE, params: { day }, min: ctx.params.min_revenue, max: ctx.params.max_revenue, signal: ctx.signal }),
  );
  ctx.log.info('checked', { day, ...result });
  return { day, ...result };
});

d.task({ id: 'email_alert', upstream: [revenue_check], retries: 5 }, async (ctx) => {
  const check = ctx.output(revenue_check);
  if (!check.breached || check.value === null) throw new SkipTask(`revenue ${check.value} is within [${check.min}, ${check.max}]`);
  // Sent by a worker once this task succeeds; an SMTP outage delays it, never drops it.
  ctx.queueEmail(thresholdAlertEmail({
    to: ctx.params.recipients,
    metric: 'daily revenue',
    unit: 'USD',
    description: 'Sum of order amounts',
    window: { start: check.day, end: check.day },
    value: check.value,
    min: check.min,
    max: check.max,
    dagId: ctx.dagId,
    runId: ctx.runId,
    checkName: 'daily_revenue',
  }));
  return { alerted: true };
});

export default d;
