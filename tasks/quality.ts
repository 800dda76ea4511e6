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

async function recordResults(target: CheckTarget, outcomes: CheckOutcome[], resultsDb?: pg.Pool): Promise<void> {
  await withWeirDatabase('checks', (pool) => pool.query(sql('record_check_results'), [
    target.runId, target.taskId, target.tryNumber,
    outcomes.map((_, i) => i + 1), outcomes.map((o) => o.name), outcomes.map((o) => o.severity), outcomes.map((o) => o.passed),
    outcomes.map((o) => o.failing), outcomes.map((o) => JSON.stringify(o.sample)),
  ]), resultsDb);
}
