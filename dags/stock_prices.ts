/**
 * stock_prices — the flagship DAG: daily prices from Twelve Data into a warehouse
 * table, then the average of (high + low) / 2 for one symbol over a window, and an
 * HTML email when it falls outside [th_min, th_max].
 *
 *   extract → clean → load → threshold_check → email_alert
 *
 * Declaring only: importing this file does no I/O. Dates are a closed window
 * [start_date, end_date]; by default the run's data interval (its end is exclusive,
 * so end_date is the day before data_interval_end).
 * Environment: TWELVE_DATA_BASE_URL, TWELVE_DATA_API_KEY, WEIR_CONN_WAREHOUSE
 * (default: weir's own database), WEIR_SMTP_URL / WEIR_MAIL_FROM.
 */
import { dag, z, DateTime, SkipTask, NonRetryableError, WeirError } from 'weir';
import type { TaskContext } from 'weir';
import { createTwelveDataClient } from 'weir/tasks/twelve-data';
import { cleanDailyBars } from 'weir/tasks/clean';
import { applySqlFile, sqlFile, upsertRows, withConnection } from 'weir/tasks/postgres';
import { runSqlCheck } from 'weir/tasks/checks';
import { thresholdAlertEmail, type AlertColumn } from 'weir/tasks/email-alert';

/** The alert's table of the latest prices. */
const PRICE_COLUMNS: AlertColumn[] = [
  { key: 'date', label: 'Date' }, { key: 'open', label: 'Open', format: 'fixed' }, { key: 'high', label: 'High', format: 'fixed' },
  { key: 'low', label: 'Low', format: 'fixed' }, { key: 'close', label: 'Close', format: 'fixed' }, { key: 'volume', label: 'Volume', format: 'thousands' },
];

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

const params = z.object({
  symbols: z.array(z.string().regex(/^[A-Za-z0-9.\-:]{1,20}$/)).min(1).default(['AAPL', 'AMZN', 'DIS']).describe('symbols to extract and load'),
  symbol: z.string().regex(/^[A-Za-z0-9.\-:]{1,20}$/).default('AMZN').describe('symbol whose average price is checked'),
  start_date: isoDate.optional().describe('first day of the window, inclusive (default: data_interval_start)'),
  end_date: isoDate.optional().describe('last day of the window, inclusive (default: the day before data_interval_end)'),
  th_min: z.number().default(130).describe('lower bound of the average, inclusive'),
  th_max: z.number().default(150).describe('upper bound of the average, inclusive'),
  recipients: z.array(z.email()).min(1).default(['data-team@example.com']).describe('who gets the threshold alert'),
});
type Params = z.output<typeof params>;

const d = dag({
  id: 'stock_prices',
  description: 'Daily stock prices from Twelve Data into stocks.daily_prices, with an average-price threshold check and an email alert',
  tags: ['flagship', 'etl'],
  owner: 'data-team',
  params,
  schedule: '@daily',
  timezone: 'UTC',
  startDate: '2024-01-01',
  catchup: false,
  maxActiveRuns: 1,
  defaultTaskOptions: { retries: 2, retryDelayMs: 2000, retryExponentialBackoff: true, maxRetryDelayMs: 60_000 },
});

/** The closed window [start, end] of this run. */
function windowOf(ctx: TaskContext<Params>): { start: string; end: string } {
  const start = ctx.params.start_date ?? ctx.dataIntervalStart.toISODate()!;
  const lastDay = ctx.dataIntervalEnd.minus({ days: 1 }).toISODate()!;
  const end = ctx.params.end_date ?? (lastDay < start ? start : lastDay);
  if (end < start) throw new NonRetryableError(`end_date ${end} is before start_date ${start}`);
  return { start, end };
}

const extract = d.task({ id: 'extract', retries: 4, description: 'GET /time_series for all symbols (batch)' }, async (ctx) => {
  const { start, end } = windowOf(ctx);
  const client = createTwelveDataClient({ log: ctx.log });
  // Twelve Data's end_date is exclusive for daily bars; our window is closed.
  const endExclusive = DateTime.fromISO(end, { zone: 'UTC' }).plus({ days: 1 }).toISODate()!;
  const result = await client.timeSeries({ symbols: ctx.params.symbols, startDate: start, endDate: endExclusive, signal: ctx.signal });
  const failed = Object.entries(result.errors);
  for (const [symbol, error] of failed) ctx.log.warn('symbol failed', { symbol, code: error.code, message: error.message });
  // A per-symbol 429/5xx is the API's trouble, not the symbol's: try the whole task again.
  const transient = failed.filter(([, e]) => e.code === 429 || e.code >= 500);
  if (transient.length) throw new WeirError('twelve_data_partial', `Twelve Data failed for ${transient.map(([s, e]) => `${s} (${e.code})`).join(', ')}; retrying`);
  if (failed.length === ctx.params.symbols.length) {
    throw new NonRetryableError(`Twelve Data returned no data for any symbol: ${failed.map(([s, e]) => `${s}: ${e.message}`).join('; ')}`);
  }
  const counts = Object.fromEntries(Object.entries(result.bars).map(([s, b]) => [s, b.length]));
  ctx.log.info('extracted', { start, end, bars: counts });
  // 3 symbols x 252 bars is ~90 KB of JSON: small enough to pass as an output.
  return { start_date: start, end_date: end, bars: result.bars, errors: result.errors };
});

const clean = d.task({ id: 'clean', upstream: [extract] }, async (ctx) => {
  const { bars } = ctx.output(extract);
  const { rows, report } = cleanDailyBars(bars);
  ctx.log.info('cleaned', { ...report });
  return { rows, report };
});

const load = d.task({ id: 'load', upstream: [clean], description: 'idempotent upsert into stocks.daily_prices' }, async (ctx) => {
  const { rows, report } = ctx.output(clean);
  const counts = await withConnection('warehouse', async (pool) => {
    await applySqlFile(pool, 'warehouse/stocks.sql');
    return upsertRows(pool, { table: 'stocks.daily_prices', key: ['symbol', 'date'], rows, ignoreChangesIn: ['extracted_at'] });
  });
  ctx.log.info('loaded', { ...counts });
  return { table: 'stocks.daily_prices', ...counts, clean: report };
});

const threshold_check = d.task({ id: 'threshold_check', upstream: [load], description: 'avg((high+low)/2) within [th_min, th_max]' }, async (ctx) => {
  const { start, end } = windowOf(ctx);
  const symbol = ctx.params.symbol.toUpperCase();
  const result = await withConnection('warehouse', (pool) =>
    runSqlCheck(pool, {
      file: 'checks/average_price.sql',
      params: { symbol, start_date: start, end_date: end },
      min: ctx.params.th_min,
      max: ctx.params.th_max,
      // No prices in the window (a weekend, a holiday): nothing to alert about.
      onNull: 'skip',
      signal: ctx.signal,
    }),
  );
  ctx.log.info('checked', { symbol, ...result });
  return { symbol, start_date: start, end_date: end, ...result };
});

d.task({ id: 'email_alert', upstream: [threshold_check], retries: 5, description: 'HTML email when the check breached' }, async (ctx) => {
  const check = ctx.output(threshold_check);
  if (!check.breached || check.value === null) throw new SkipTask(`${check.symbol} average ${check.value?.toFixed(2)} is within [${check.min}, ${check.max}]`);
  const recent = await withConnection('warehouse', async (pool) => {
    const { rows } = await pool.query(sqlFile('warehouse/recent_prices.sql'), [check.symbol, check.start_date, check.end_date, 10]);
    return rows.map((r) => ({ date: String(r.date), open: Number(r.open), high: Number(r.high), low: Number(r.low), close: Number(r.close), volume: Number(r.volume) }));
  });
  // Queued with this task's success and sent by a worker's alerter: an SMTP outage delays the alert, never drops it.
  const email = thresholdAlertEmail({
    to: ctx.params.recipients,
    metric: `${check.symbol} average price`,
    description: 'Average (H+L)/2',
    window: { start: check.start_date, end: check.end_date },
    value: check.value,
    min: check.min,
    max: check.max,
    rows: recent,
    columns: PRICE_COLUMNS,
    rowsTitle: 'Most recent prices',
    dagId: ctx.dagId,
    runId: ctx.runId,
    checkName: 'average_price',
  });
  ctx.queueEmail(email);
  ctx.log.info('alert queued', { subject: email.subject });
  return { queued: true, subject: email.subject, to: ctx.params.recipients };
});

export default d;
