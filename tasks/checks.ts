/**
 * SQL check tasks with bounds: run a parameterised query from `sql/` that returns one
 * row with a `value` column, and compare it with [min, max]. The file's header names
 * its parameters (`-- $1 symbol text ...`), so callers pass them by name and a
 * missing or unknown one fails before the query runs.
 *
 * ```ts
 * const result = await runSqlCheck(pool, {
 *   file: 'checks/average_price.sql',
 *   params: { symbol: 'AMZN', start_date: '2020-01-01', end_date: '2020-12-31' },
 *   min: 130, max: 150,
 * });
 * // { value: 133.86, min: 130, max: 150, breached: false, rows: 252 }
 * ```
 */
import type pg from 'pg';
import { NonRetryableError, SkipTask, WeirError } from '../runtime/errors.ts';
import { sqlFile, sqlFileName, type SqlFileRef } from './postgres.ts';

export interface CheckResult {
  /** The query's `value`, as a number; null when it returned NULL (e.g. no rows in the window). */
  value: number | null;
  min: number | null;
  max: number | null;
  /** True when value < min or value > max (bounds inclusive); see `onNull` for a NULL value. */
  breached: boolean;
  /** The query's `rows` column when it has one (how many rows the value summarises). */
  rows?: number;
}

export interface SqlCheckOptions {
  /** Path under weir's `sql/` (`checks/average_price.sql`), or a file URL beside your DAG (`new URL('./revenue.sql', import.meta.url)`). */
  file: SqlFileRef;
  /** Values by the names in the file header, or positionally. */
  params: Record<string, unknown> | readonly unknown[];
  /** Lower bound, inclusive. Default: none. */
  min?: number | null;
  /** Upper bound, inclusive. Default: none. */
  max?: number | null;
  /**
   * What a NULL value means: `fail` throws NonRetryableError, `skip` throws SkipTask
   * (downstream alerting is skipped, e.g. a weekend with no prices), `breach` reports a
   * breach. Default `fail`.
   */
  onNull?: 'fail' | 'skip' | 'breach';
  signal?: AbortSignal;
}

/** The `$n name` parameters declared in a SQL file's leading comment lines, in order. */
export function sqlParameterNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('--')) break;
    const match = /^--\s*\$(\d+)\s+([a-z_][a-z0-9_]*)/i.exec(line);
    if (match) names[Number(match[1]) - 1] = match[2]!;
  }
  return names;
}

function bindParams(file: SqlFileRef, text: string, params: SqlCheckOptions['params']): unknown[] {
  const names = sqlParameterNames(text);
  if (Array.isArray(params)) {
    if (names.length > 0 && params.length !== names.length) {
      throw new NonRetryableError(`${sqlFileName(file)} declares ${names.length} parameters (${names.join(', ')}) but ${params.length} were given`);
    }
    return [...params];
  }
  const given = params as Record<string, unknown>;
  if (names.length === 0) throw new NonRetryableError(`${sqlFileName(file)} has no "-- $1 name" header lines; pass its parameters as an array`);
  const unknown = Object.keys(given).filter((k) => !names.includes(k));
  const missing = names.filter((n) => given[n] === undefined);
  if (unknown.length || missing.length) {
    throw new NonRetryableError(
      `${sqlFileName(file)} takes ${names.join(', ')}` + (missing.length ? `; missing: ${missing.join(', ')}` : '') + (unknown.length ? `; unknown: ${unknown.join(', ')}` : ''),
    );
  }
  return names.map((n) => given[n]);
}

/** Whether `value` lies outside [min, max]; a missing bound is open. */
export function isBreached(value: number, min: number | null | undefined, max: number | null | undefined): boolean {
  return (min !== null && min !== undefined && value < min) || (max !== null && max !== undefined && value > max);
}

/** Run a check query and compare its `value` with the bounds. See `SqlCheckOptions` for defaults. */
export async function runSqlCheck(db: pg.Pool | pg.ClientBase, options: SqlCheckOptions): Promise<CheckResult> {
  const text = sqlFile(options.file);
  const values = bindParams(options.file, text, options.params);
  options.signal?.throwIfAborted();
  const result = await db.query<{ value: unknown; rows?: unknown }>(text, values);
  if (result.rows.length !== 1 || !('value' in result.rows[0]!)) {
    throw new WeirError('bad_check_query', `${sqlFileName(options.file)} must return exactly one row with a "value" column; it returned ${result.rows.length} row(s)`);
  }
  const row = result.rows[0]!;
  const min = options.min ?? null;
  const max = options.max ?? null;
  const rows = row.rows === undefined ? undefined : Number(row.rows);
  if (row.value === null) {
    const onNull = options.onNull ?? 'fail';
    const why = `${sqlFileName(options.file)} returned no value (no rows match the parameters)`;
    if (onNull === 'skip') throw new SkipTask(why);
    if (onNull === 'fail') throw new NonRetryableError(`${why}; load data for the window first, or choose onNull: 'skip' | 'breach'`);
    return { value: null, min, max, breached: true, rows };
  }
  const value = Number(row.value);
  if (!Number.isFinite(value)) throw new WeirError('bad_check_query', `${sqlFileName(options.file)} returned a non-numeric value: ${String(row.value)}`);
  return { value, min, max, breached: isBreached(value, min, max), ...(rows === undefined ? {} : { rows }) };
}
