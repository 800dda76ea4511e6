/**
 * Loading into PostgreSQL: named connections (`WEIR_CONN_<NAME>`), SQL files from
 * `sql/` read once, an idempotent batched upsert that reports inserted / updated /
 * unchanged rows, and a COPY path for large loads (COPY into a temp staging table,
 * then one merge statement).
 *
 * ```ts
 * const pool = new pg.Pool({ connectionString: connectionUrl('warehouse', weirDatabaseUrl) });
 * await applySqlFile(pool, 'warehouse/stocks.sql');
 * const counts = await upsertRows(pool, { table: 'stocks.daily_prices', key: ['symbol', 'date'], rows, ignoreChangesIn: ['extracted_at'] });
 * ```
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SQL_DIR } from '../runtime/database/sql.ts';
import { NonRetryableError, WeirError } from '../runtime/errors.ts';
import { envSetting } from '../runtime/env.ts';
import { withTransaction, type Queryable } from '../runtime/engine/transaction.ts';

export { SQL_DIR, withTransaction };

/** The variable that holds a named connection's URL: `warehouse` → `WEIR_CONN_WAREHOUSE`. */
function connectionVariable(name: string): string {
  return `WEIR_CONN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * The URL of a named connection: `WEIR_CONN_<NAME>` (name upper-cased, non-alphanumerics
 * as `_`, so `warehouse` reads `WEIR_CONN_WAREHOUSE`), else `fallback`. Throws naming the
 * variable when neither is set.
 */
export function connectionUrl(name: string, fallback?: string, env: NodeJS.ProcessEnv = process.env): string {
  const variable = connectionVariable(name);
  const value = envSetting(variable, env);
  if (value) return value;
  if (fallback) return fallback;
  throw new WeirError('no_connection', `connection "${name}" is not configured: set ${variable} to a postgres:// URL`, { exitCode: 2 });
}

const fileCache = new Map<string, string>();

/**
 * Where a SQL file is: a path inside weir's `sql/` (`'warehouse/stocks.sql'`), or a file
 * URL for one beside your DAG (`new URL('./checks/revenue.sql', import.meta.url)`).
 */
export type SqlFileRef = string | URL;

/** How a SQL file is named in messages: `sql/<path>`, or its own path. */
export function sqlFileName(ref: SqlFileRef): string {
  return ref instanceof URL || ref.startsWith('file:') ? fileURLToPath(ref) : `sql/${ref}`;
}

/**
 * The text of a SQL file, read once and cached. A path inside `sql/` may not leave it; a
 * file that does not exist fails at once, not retried (retrying cannot create it).
 */
export function sqlFile(ref: SqlFileRef): string {
  let full: string;
  if (ref instanceof URL || ref.startsWith('file:')) full = fileURLToPath(ref);
  else {
    full = path.resolve(SQL_DIR, ref);
    if (!full.startsWith(SQL_DIR + path.sep)) {
      throw new NonRetryableError(`SQL file "${ref}" is outside sql/ (weir's own SQL folder); for a file beside your DAG pass new URL('./${path.basename(ref)}', import.meta.url)`);
    }
  }
  let text = fileCache.get(full);
  if (text === undefined) {
    try {
      text = readFileSync(full, 'utf8');
    } catch {
      throw new NonRetryableError(`SQL file ${sqlFileName(ref)} not found`);
    }
    fileCache.set(full, text);
  }
  return text;
}

/**
 * Apply an idempotent schema file (`CREATE ... IF NOT EXISTS`) such as
 * `warehouse/stocks.sql`, under an advisory lock so two tasks creating the same schema
 * at once do not collide on the catalog's unique indexes.
 */
export async function applySqlFile(db: Queryable, ref: SqlFileRef): Promise<void> {
  const text = sqlFile(ref);
  await withTransaction(db, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`weir:sql:${sqlFileName(ref)}`]);
    await client.query(text);
  });
}

/** `schema.table` or `table`, each part escaped. */
export function qualifiedName(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new WeirError('bad_identifier', `table name "${table}" must be "table" or "schema.table"`);
  return parts.map((p) => pg.escapeIdentifier(p)).join('.');
}

export interface UpsertOptions<Row extends object> {
  /** Target table, `schema.table`. */
  table: string;
  /** Conflict key (a primary key or unique index of the table). */
  key: readonly (keyof Row & string)[];
  rows: readonly Row[];
  /** Columns to write. Default: the keys of the first row. */
  columns?: readonly (keyof Row & string)[];
  /**
   * Columns ignored when deciding whether a row changed (e.g. `extracted_at`): re-loading
   * the same data changes nothing, while a row whose values changed gets them rewritten
   * too. Default none.
   */
  ignoreChangesIn?: readonly (keyof Row & string)[];
  /** Rows per statement; clamped so a statement stays under PostgreSQL's 65 535 parameters. Default 500. */
  batchSize?: number;
}

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

function resolveColumns<Row extends object>(options: UpsertOptions<Row>, sample: Row | undefined) {
  const columns = [...(options.columns ?? (sample ? (Object.keys(sample) as (keyof Row & string)[]) : []))];
  if (options.key.length === 0) throw new WeirError('bad_option', 'upsert: key must name at least one column');
  for (const k of options.key) {
    if (!columns.includes(k)) throw new WeirError('bad_option', `upsert: key column "${k}" is not among the columns (${columns.join(', ')})`);
  }
  const ignore = new Set<string>(options.ignoreChangesIn ?? []);
  const updated = columns.filter((c) => !options.key.includes(c));
  const compared = updated.filter((c) => !ignore.has(c));
  return { columns, updated, compared };
}

/** `ON CONFLICT ... DO UPDATE ... WHERE changed RETURNING (xmax = 0)` for a target aliased `t`: xmax is 0 only for a freshly inserted tuple. */
function conflictClause(key: readonly string[], updated: readonly string[], compared: readonly string[]): string {
  const k = key.map((c) => pg.escapeIdentifier(c)).join(', ');
  if (compared.length === 0) return `ON CONFLICT (${k}) DO NOTHING RETURNING (xmax = 0) AS inserted`;
  const set = updated.map((c) => `${pg.escapeIdentifier(c)} = EXCLUDED.${pg.escapeIdentifier(c)}`).join(', ');
  const mine = compared.map((c) => `t.${pg.escapeIdentifier(c)}`).join(', ');
  const theirs = compared.map((c) => `EXCLUDED.${pg.escapeIdentifier(c)}`).join(', ');
  return `ON CONFLICT (${k}) DO UPDATE SET ${set} WHERE (${mine}) IS DISTINCT FROM (${theirs}) RETURNING (xmax = 0) AS inserted`;
}

function tally(result: pg.QueryResult<{ inserted: boolean }>, sent: number, into: UpsertCounts): void {
  const inserted = result.rows.filter((r) => r.inserted).length;
  into.inserted += inserted;
  into.updated += result.rows.length - inserted;
  into.unchanged += sent - result.rows.length;
}

/**
 * Idempotent upsert in batches, all in one transaction: inserts new keys, updates rows
 * whose compared columns differ, leaves identical rows alone (no dead tuples, no
 * trigger noise). Values are always `$n` parameters; identifiers go through
 * `pg.escapeIdentifier`. Rows must be unique on `key` (a row twice in one statement is
 * an error in PostgreSQL; de-duplicate first, e.g. with `cleanRows`).
 */
export async function upsertRows<Row extends object>(db: Queryable, options: UpsertOptions<Row>): Promise<UpsertCounts> {
  const counts: UpsertCounts = { inserted: 0, updated: 0, unchanged: 0 };
  if (options.rows.length === 0) return counts;
  const { columns, updated, compared } = resolveColumns(options, options.rows[0]);
  const seen = new Set<string>();
  for (const row of options.rows) {
    const k = JSON.stringify(options.key.map((c) => (row as Record<string, unknown>)[c]));
    if (seen.has(k)) throw new WeirError('duplicate_key', `upsert into ${options.table}: two rows share the key ${options.key.join(', ')} = ${k}; de-duplicate before loading`);
    seen.add(k);
  }
  const table = qualifiedName(options.table);
  const maxRows = Math.floor(65_535 / columns.length);
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, maxRows));
  const columnList = columns.map((c) => pg.escapeIdentifier(c)).join(', ');
  const conflict = conflictClause(options.key, updated, compared);
  await withTransaction(db, async (client) => {
    for (let i = 0; i < options.rows.length; i += batchSize) {
      const batch = options.rows.slice(i, i + batchSize);
      const values: unknown[] = [];
      const tuples = batch.map((row) => {
        const placeholders = columns.map((c) => {
          values.push((row as Record<string, unknown>)[c] ?? null);
          return `$${values.length}`;
        });
        return `(${placeholders.join(', ')})`;
      });
      const text = `INSERT INTO ${table} AS t (${columnList}) VALUES ${tuples.join(', ')} ${conflict}`;
      tally(await client.query<{ inserted: boolean }>(text, values), batch.length, counts);
    }
  });
  return counts;
}

/** What makes a CSV field need quotes (or be the end-of-data marker). */
const NEEDS_QUOTES = /[",\r\n]|^\\\.$/;

function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''; // unquoted empty = NULL in CSV format
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  // Quoted only when it must be (an empty string, a quote, comma or line break): COPY of
  // millions of rows spends less time escaping what needs none.
  if (text === '' || NEEDS_QUOTES.test(text)) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

/** Rows as CSV text for COPY, ~64 kB per chunk (a write per row costs more than the row); `count` is the rows read so far. */
function csvChunks<Row extends object>(rows: Iterable<Row> | AsyncIterable<Row>, columns: readonly string[]): AsyncGenerator<string> & { count: number } {
  const state = { count: 0 };
  async function* chunks() {
    let chunk = '';
    for await (const row of rows as AsyncIterable<Row>) {
      state.count++;
      chunk += `${columns.map((c) => csvField((row as Record<string, unknown>)[c])).join(',')}\n`;
      if (chunk.length >= 65_536) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
  return Object.defineProperty(chunks(), 'count', { get: () => state.count }) as AsyncGenerator<string> & { count: number };
}

/**
 * Append rows with COPY, nothing merged: the fast path into staging tables (a million
 * rows in seconds). Accepts any (async) iterable; values are sent as CSV fields, never
 * as SQL. Returns the rows copied. On a pool it runs in a transaction of its own; on a
 * client, inside the caller's.
 */
export async function copyRows<Row extends object>(
  db: Queryable,
  options: { table: string; columns: readonly (keyof Row & string)[]; rows: Iterable<Row> | AsyncIterable<Row> },
): Promise<number> {
  const columnList = options.columns.map((c) => pg.escapeIdentifier(c)).join(', ');
  const copy = async (client: pg.ClientBase) => {
    const rows = csvChunks(options.rows, options.columns);
    await pipeline(Readable.from(rows), client.query(copyFrom(`COPY ${qualifiedName(options.table)} (${columnList}) FROM STDIN (FORMAT csv)`)));
    return rows.count;
  };
  return db instanceof pg.Pool ? withTransaction(db, copy) : copy(db);
}

/**
 * Large loads: COPY rows into a temp table shaped like the target, then merge with the
 * same `ON CONFLICT ... WHERE changed` rule as `upsertRows`, in one transaction.
 * Accepts any (async) iterable, so rows can stream from a file without being held in
 * memory. Duplicate keys in the input are collapsed (last one wins).
 */
export async function copyUpsert<Row extends object>(
  db: Queryable,
  options: Omit<UpsertOptions<Row>, 'rows' | 'batchSize'> & { rows: Iterable<Row> | AsyncIterable<Row>; columns: readonly (keyof Row & string)[] },
): Promise<UpsertCounts & { copied: number }> {
  const { columns, updated, compared } = resolveColumns({ ...options, rows: [] }, undefined);
  const table = qualifiedName(options.table);
  const columnList = columns.map((c) => pg.escapeIdentifier(c)).join(', ');
  const keyList = options.key.map((c) => pg.escapeIdentifier(c)).join(', ');
  return withTransaction(db, async (client) => {
    await client.query(`CREATE TEMP TABLE weir_staging (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
    await client.query('ALTER TABLE weir_staging ADD COLUMN weir_seq bigserial');
    const lines = csvChunks(options.rows, columns);
    await pipeline(Readable.from(lines), client.query(copyFrom(`COPY weir_staging (${columnList}) FROM STDIN (FORMAT csv)`)));
    const copied = lines.count;
    const merged = await client.query<{ inserted: boolean }>(
      `INSERT INTO ${table} AS t (${columnList})
       SELECT ${columnList} FROM (SELECT DISTINCT ON (${keyList}) * FROM weir_staging ORDER BY ${keyList}, weir_seq DESC) AS s
       ${conflictClause(options.key, updated, compared)}`,
    );
    const distinct = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM (SELECT DISTINCT ${keyList} FROM weir_staging) AS d`);
    const counts: UpsertCounts = { inserted: 0, updated: 0, unchanged: 0 };
    tally(merged, Number(distinct.rows[0]!.n), counts);
    return { ...counts, copied };
  });
}

/**
 * weir's own database URL (WEIR_DATABASE_URL, else the embedded server, started if
 * needed): the default for named connections such as the warehouse. Loaded lazily so
 * that importing this module from a DAG file does no I/O.
 */
export async function weirDatabaseUrl(): Promise<string> {
  const [{ loadConfig }, { resolveDatabaseUrl }] = await Promise.all([import('../runtime/config.ts'), import('../runtime/database/connect.ts')]);
  return (await resolveDatabaseUrl(loadConfig())).url;
}

/**
 * Run `fn` on weir's own database (where building blocks record check results and
 * artifacts): on `given` when the caller has a pool, else on a one-connection pool closed
 * afterwards.
 */
export async function withWeirDatabase<T>(name: string, fn: (pool: pg.Pool) => Promise<T>, given?: pg.Pool): Promise<T> {
  if (given) return fn(given);
  const pool = new pg.Pool({ connectionString: await weirDatabaseUrl(), max: 1, application_name: `weir:${name}` });
  pool.on('error', () => {});
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Run `fn` with a small pool on the named connection (`WEIR_CONN_<NAME>`, default weir's
 * own database), closing it afterwards whatever happens. Pool size default 2.
 */
export async function withConnection<T>(name: string, fn: (pool: pg.Pool) => Promise<T>, options: { max?: number; env?: NodeJS.ProcessEnv } = {}): Promise<T> {
  const env = options.env ?? process.env;
  const url = envSetting(connectionVariable(name), env) ? connectionUrl(name, undefined, env) : await weirDatabaseUrl();
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 2, application_name: `weir:${name}` });
  // An idle client dropped by the server must not crash the worker; the next query reports it.
  pool.on('error', () => {});
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
