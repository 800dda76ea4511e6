/**
 * Data-quality checks, declared and run as one step (after dbt tests, Great Expectations,
 * Soda and Dagster's asset checks): not null, unique, accepted values, numeric range, row
 * count, referential integrity, freshness, and custom SQL returning failing rows. Each has
 * a severity: a failing `error` check fails the task for good, with a one-line summary; a
 * failing `warn` check passes with a warning. Results (with a few failing rows) are stored
 * per run and try in weir's database and shown by `weir runs show`, `weir tasks checks`
 * and the server's pages.
 *
 * Checks compile to SQL with parameters: table and column names are quoted identifiers,
 * values (accepted values, bounds, ages, the `where` filter's) are bound, never interpolated.
 *
 * ```ts
 * import { check, runChecks } from 'weir/tasks/quality';
 * await withConnection('warehouse', (pool) => runChecks(pool, ctx, [
 *   check.notNull('sales.orders', 'customer_id'),
 *   check.unique('sales.orders', ['order_id']),
 *   check.acceptedValues('sales.orders', 'channel', ['web', 'store', 'phone']),
 *   check.range('sales.orders', 'quantity', { min: 1 }),
 *   check.rowCount('sales.orders', { min: 1 }),
 *   check.references('sales.orders', 'customer_id', 'sales.customers', 'id', { severity: 'warn' }),
 *   check.freshness('sales.orders', 'loaded_at', { maxAgeMinutes: 60 }),
 *   check.sql('no orders from the future', 'SELECT order_id FROM sales.orders WHERE order_date > now()'),
 * ], { where: { sql: 'order_date = $1', params: [day] } }));   // every table check on that day
 * ```
 */
import pg from 'pg';
import { NonRetryableError } from '../runtime/errors.ts';
import type { TaskContext } from '../runtime/authoring/dag.ts';
import { sql } from '../runtime/database/sql.ts';
import { qualifiedName, withWeirDatabase } from './postgres.ts';

export type Severity = 'warn' | 'error';

export interface CheckOptions {
  /** Default `error`. */
  severity?: Severity;
  /** A name for messages; default describes the check (`orders.customer_id not null`). */
  name?: string;
  /** Restrict this check's rows (overrides runChecks' `where`). */
  where?: RowFilter;
}

/** A SQL condition on the checked table's rows, with its own `$1…` parameters. */
export interface RowFilter {
  sql: string;
  params?: readonly unknown[];
}

/** A check compiled: what it is called, and a statement returning its failing rows. */
export interface Check {
  readonly name: string;
  readonly severity: Severity;
  /** Builds the failing rows' SELECT; `bind` adds a parameter and returns its placeholder. */
  readonly failing: (bind: (value: unknown) => string, where: string) => string;
  readonly table?: string;
  readonly where?: RowFilter;
  /** How failing rows are counted in messages. */
  readonly unit: 'row' | 'duplicate key' | 'time';
}

export interface CheckOutcome {
  name: string;
  severity: Severity;
  passed: boolean;
  /** Failing rows (duplicate keys for unique; 1 for a failed row count or freshness). */
  failing: number;
  /** At most SAMPLE_ROWS failing rows, as JSON objects. */
  sample: Record<string, unknown>[];
}

export interface ChecksReport {
  checks: CheckOutcome[];
  passed: number;
  warned: number;
  failed: number;
  /** One line: `2 of 9 checks failed: orders.customer_id not null (3 rows), …`, or `9 checks passed`. */
  summary: string;
}

/** Failing rows kept as a sample per check. */
export const SAMPLE_ROWS = 5;

const shortName = (table: string) => table.split('.').pop()!;
const col = (c: string) => pg.escapeIdentifier(c);

/** SQL text with its own `$1…` placeholders, its parameters bound into the whole statement's numbering. */
function rebind(text: string, params: readonly unknown[], bind: (value: unknown) => string): string {
  const placeholders = params.map((p) => bind(p));
  return text.replace(/\$(\d+)/g, (m, n: string) => placeholders[Number(n) - 1] ?? m);
}

function make(defaults: { name: string; table?: string; unit?: Check['unit'] }, options: CheckOptions, failing: Check['failing']): Check {
  return { name: options.name ?? defaults.name, severity: options.severity ?? 'error', failing, table: defaults.table, where: options.where, unit: defaults.unit ?? 'row' };
}

export const check = {
  notNull(table: string, column: string, options: CheckOptions = {}): Check {
    return make({ name: `${shortName(table)}.${column} not null`, table }, options, (_bind, where) =>
      `SELECT * FROM ${qualifiedName(table)} t WHERE (${where}) AND t.${col(column)} IS NULL`);
  },

  unique(table: string, columns: readonly string[], options: CheckOptions = {}): Check {
    if (!columns.length) throw new Error('check.unique needs at least one column');
    const cols = columns.map((c) => `t.${col(c)}`).join(', ');
    return make({ name: `${shortName(table)}.(${columns.join(', ')}) unique`, table, unit: 'duplicate key' }, options, (_bind, where) =>
      `SELECT ${cols}, count(*) AS copies FROM ${qualifiedName(table)} t WHERE (${where}) GROUP BY ${cols} HAVING count(*) > 1`);
  },

  acceptedValues(table: string, column: string, values: readonly (string | number | boolean)[], options: CheckOptions = {}): Check {
    return make({ name: `${shortName(table)}.${column} in (${values.join(', ')})`, table }, options, (bind, where) =>
      `SELECT * FROM ${qualifiedName(table)} t WHERE (${where}) AND t.${col(column)} IS NOT NULL AND NOT (t.${col(column)}::text = ANY(${bind(values.map(String))}::text[]))`);
  },

  range(table: string, column: string, bounds: { min?: number; max?: number }, options: CheckOptions = {}): Check {
    if (bounds.min === undefined && bounds.max === undefined) throw new Error('check.range needs min, max or both');
    const label = bounds.min !== undefined && bounds.max !== undefined ? `in [${bounds.min}, ${bounds.max}]` : bounds.min !== undefined ? `>= ${bounds.min}` : `<= ${bounds.max}`;
    return make({ name: `${shortName(table)}.${column} ${label}`, table }, options, (bind, where) => {
      const out = [
        ...(bounds.min !== undefined ? [`t.${col(column)} < ${bind(bounds.min)}::numeric`] : []),
        ...(bounds.max !== undefined ? [`t.${col(column)} > ${bind(bounds.max)}::numeric`] : []),
      ];
      return `SELECT * FROM ${qualifiedName(table)} t WHERE (${where}) AND (${out.join(' OR ')})`;
    });
  },

  rowCount(table: string, bounds: { min?: number; max?: number }, options: CheckOptions = {}): Check {
    const label = `${bounds.min ?? 0}..${bounds.max ?? '∞'}`;
    return make({ name: `${shortName(table)} has ${label} rows`, table }, options, (bind, where) =>
      `SELECT n AS rows FROM (SELECT count(*) AS n FROM ${qualifiedName(table)} t WHERE (${where})) c WHERE n < ${bind(bounds.min ?? 0)}::bigint OR n > ${bind(bounds.max ?? Number.MAX_SAFE_INTEGER)}::bigint`);
  },

  references(table: string, column: string, refTable: string, refColumn: string, options: CheckOptions = {}): Check {
    return make({ name: `${shortName(table)}.${column} references ${shortName(refTable)}.${refColumn}`, table }, options, (_bind, where) =>
      `SELECT * FROM ${qualifiedName(table)} t WHERE (${where}) AND t.${col(column)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${qualifiedName(refTable)} r WHERE r.${col(refColumn)} = t.${col(column)})`);
  },

  freshness(table: string, column: string, limit: { maxAgeMinutes: number }, options: CheckOptions = {}): Check {
    return make({ name: `${shortName(table)}.${column} newer than ${limit.maxAgeMinutes} min`, table, unit: 'time' }, options, (bind, where) =>
      `SELECT latest FROM (SELECT max(t.${col(column)}) AS latest FROM ${qualifiedName(table)} t WHERE (${where})) m WHERE latest IS NULL OR latest < now() - make_interval(mins => ${bind(limit.maxAgeMinutes)}::int)`);
  },

  /** Custom SQL whose rows are the failing ones (none: the check passes). `$1…` are `params`. */
  sql(name: string, text: string, params: readonly unknown[] = [], options: Omit<CheckOptions, 'name' | 'where'> = {}): Check {
    return make({ name }, options, (bind) => `SELECT * FROM (${rebind(text, params, bind)}) q`);
  },
};

/** The statement for one check: its failing count and a sample, one round trip. */
export function compileCheck(c: Check, defaultWhere?: RowFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const bind = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const filter = c.where ?? defaultWhere;
  let where = 'true';
  if (filter && c.table) where = rebind(filter.sql, filter.params ?? [], bind);
  const failing = c.failing(bind, where);
  const text = `WITH failing AS (${failing}) SELECT (SELECT count(*) FROM failing)::bigint AS failing, (SELECT coalesce(jsonb_agg(to_jsonb(f)), '[]'::jsonb) FROM (SELECT * FROM failing LIMIT ${SAMPLE_ROWS}) f) AS sample`;
  return { text, values };
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

function describe(o: CheckOutcome, unit: Check['unit']): string {
  return unit === 'time' ? o.name : `${o.name} (${plural(o.failing, unit)})`;
}

/** Where a task's check results are kept: its run, task and try. */
export interface CheckTarget {
  runId: string;
  taskId: string;
  tryNumber: number;
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/**
 * Run the checks against `db`, store the results for this try in weir's database, and
 * return the report; throws NonRetryableError with the summary when an `error` check fails.
 */
export async function runChecks(db: pg.Pool | pg.ClientBase, target: CheckTarget, checks: readonly Check[], options: { where?: RowFilter; signal?: AbortSignal; resultsDb?: pg.Pool } = {}): Promise<ChecksReport> {
  const outcomes: CheckOutcome[] = [];
  for (const c of checks) {
    options.signal?.throwIfAborted();
    const { text, values } = compileCheck(c, options.where);
    const { rows } = await db.query<{ failing: string; sample: Record<string, unknown>[] }>(text, values);
    const failing = Number(rows[0]!.failing);
    outcomes.push({ name: c.name, severity: c.severity, passed: failing === 0, failing, sample: rows[0]!.sample });
  }
  await recordResults(target, outcomes, options.resultsDb);
  const failed = outcomes.filter((o) => !o.passed && o.severity === 'error');
  const warned = outcomes.filter((o) => !o.passed && o.severity === 'warn');
  const units = new Map(checks.map((c, i) => [i, c.unit]));
  const line = (list: CheckOutcome[]) => list.map((o) => describe(o, units.get(outcomes.indexOf(o))!)).join(', ');
  const summary = failed.length
    ? `${failed.length} of ${outcomes.length} checks failed: ${line(failed)}${warned.length ? `; ${warned.length} warned: ${line(warned)}` : ''}`
    : warned.length ? `${outcomes.length - warned.length} of ${outcomes.length} checks passed; ${warned.length} warned: ${line(warned)}` : `${outcomes.length} checks passed`;
  for (const w of warned) target.log?.warn(`check warned: ${describe(w, units.get(outcomes.indexOf(w))!)}`, { sample: w.sample });
  if (failed.length) throw new NonRetryableError(summary);
  return { checks: outcomes, passed: outcomes.length - failed.length - warned.length, warned: warned.length, failed: 0, summary };
}

/** `positions`: where each outcome is kept in the try's results (runChecks: 1…n). */
async function recordResults(target: CheckTarget, outcomes: CheckOutcome[], resultsDb?: pg.Pool, positions = outcomes.map((_, i) => i + 1)): Promise<void> {
  await withWeirDatabase('checks', (pool) => pool.query(sql('record_check_results'), [
    target.runId, target.taskId, target.tryNumber,
    positions, outcomes.map((o) => o.name), outcomes.map((o) => o.severity), outcomes.map((o) => o.passed),
    outcomes.map((o) => o.failing), outcomes.map((o) => JSON.stringify(o.sample)),
  ]), resultsDb);
}

/** A volume check: this interval's count against the rolling median of the last successful runs. */
export interface VolumeOptions {
  /** What is counted, for messages and the state key (`volume:<name>`): `events loaded`. */
  name: string;
  /** This interval's count. */
  count: number;
  /** How many earlier successful runs make the baseline. Default 10. */
  window?: number;
  /** Below this many earlier counts the check only learns (passes). Default 3. */
  minHistory?: number;
  /** The band around the median: alert below `below` × median or above `above` × median. Defaults 0.5 and 2. */
  below?: number;
  above?: number;
  /** `warn` (default): the task passes and the alert goes out; `error`: the task fails for good. */
  severity?: Severity;
  /** Where the alert goes (queued with the try's success; an `error` failure goes through the DAG's failure alerts instead). */
  alert?: { to?: string[]; webhook?: string };
}

export interface VolumeOutcome {
  name: string;
  count: number;
  /** null while learning (fewer than minHistory earlier counts). */
  median: number | null;
  lower: number | null;
  upper: number | null;
  history: number[];
  passed: boolean;
  /** One line with the numbers: `events loaded: 120 is below 500 (0.5 × the median 1,000 of the last 10 runs)`. */
  message: string;
}

export const VOLUME_DEFAULTS = { window: 10, minHistory: 3, below: 0.5, above: 2 } as const;

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const n = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 2 });
/** Where a volume check keeps its result among the try's: after runChecks' 1…n, by name. */
const volumePosition = (name: string) => 1000 + ([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 9000);

/**
 * Compare `count` with the median of the counts of the last `window` successful runs
 * (kept in the DAG's state, written with this try's success: a failed try leaves the
 * baseline alone). Outside [below × median, above × median]: alert with the numbers
 * (`alert`), log a warning, and with `severity: 'error'` fail the task for good. The
 * result is stored with the try's check results (`weir tasks checks`, `weir runs show`).
 */
export async function checkVolume(ctx: Pick<TaskContext, 'runId' | 'taskId' | 'tryNumber' | 'dagId' | 'state' | 'log' | 'queueEmail' | 'queueWebhook'>, options: VolumeOptions, db: { resultsDb?: pg.Pool } = {}): Promise<VolumeOutcome> {
  const o = { ...VOLUME_DEFAULTS, severity: 'warn' as Severity, ...options };
  if (!Number.isFinite(o.count) || o.count < 0) throw new NonRetryableError(`volume check "${o.name}": count must be a number >= 0, got ${o.count}`);
  const key = `volume:${o.name}`;
  const history = ((await ctx.state.get<number[]>(key)) ?? []).slice(-o.window);
  let outcome: VolumeOutcome;
  if (history.length < o.minHistory) {
    outcome = { name: o.name, count: o.count, median: null, lower: null, upper: null, history, passed: true, message: `${o.name}: ${n(o.count)} (learning: ${history.length} of ${o.minHistory} earlier runs)` };
  } else {
    const m = median(history);
    const lower = o.below * m;
    const upper = o.above * m;
    const basis = `the median ${n(m)} of the last ${history.length} runs`;
    const passed = o.count >= lower && o.count <= upper;
    const message = passed
      ? `${o.name}: ${n(o.count)} is within [${n(lower)}, ${n(upper)}] (${o.below}–${o.above} × ${basis})`
      : o.count < lower ? `${o.name}: ${n(o.count)} is below ${n(lower)} (${o.below} × ${basis})` : `${o.name}: ${n(o.count)} is above ${n(upper)} (${o.above} × ${basis})`;
    outcome = { name: o.name, count: o.count, median: m, lower, upper, history, passed, message };
  }
  const sample = [{ count: outcome.count, median: outcome.median, lower: outcome.lower, upper: outcome.upper, history }];
  await recordResults(ctx, [{ name: `volume of ${o.name}`, severity: o.severity, passed: outcome.passed, failing: outcome.passed ? 0 : 1, sample }], db.resultsDb, [volumePosition(o.name)]);
  if (outcome.passed) {
    ctx.state.set(key, [...history, o.count].slice(-o.window));
    return outcome;
  }
  ctx.log.warn(`volume check: ${outcome.message}`, sample[0]);
  if (o.severity === 'error') throw new NonRetryableError(`volume check failed: ${outcome.message}`);
  // A warned count still joins the baseline: a lasting change becomes the new normal.
  ctx.state.set(key, [...history, o.count].slice(-o.window));
  const text = `weir: ${ctx.dagId} run ${ctx.runId}: volume alert: ${outcome.message}`;
  if (o.alert?.webhook) ctx.queueWebhook({ webhook: o.alert.webhook, text });
  if (o.alert?.to?.length) {
    ctx.queueEmail({
      to: o.alert.to,
      subject: `[weir] Volume alert: ${o.name} in ${ctx.dagId}`,
      template: 'report',
      context: {
        title: `Volume alert: ${o.name}`,
        subtitle: outcome.message,
        kpis: [
          { label: 'This run', value: n(outcome.count) },
          { label: 'Median', value: n(outcome.median!) },
          { label: 'Band', value: `[${n(outcome.lower!)}, ${n(outcome.upper!)}]` },
        ],
        tables: [{ title: 'Earlier runs', columns: ['#', 'Count'], rows: history.map((c, i) => [i + 1, n(c)]) }],
        charts: [],
        dagId: ctx.dagId,
        runId: ctx.runId,
      },
    });
  }
  return outcome;
}
