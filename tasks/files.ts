/**
 * Reading data files as streams, with typed columns and the rows that do not fit
 * collected as errors (line, column, reason) rather than failing the file: CSV (through
 * csv-parse) and JSON — an array, or NDJSON one object per line. Each read reports how
 * many rows were read, kept and rejected. Rows go to `onBatch` in batches (default
 * 100,000), so memory stays flat on big files; without it they are returned.
 *
 * ```ts
 * import { column, readCsv } from 'weir/tasks/files';
 * const sales = await readCsv(file, {
 *   columns: {
 *     order_id: column.string(),
 *     order_date: column.date(),
 *     customer_id: column.int({ nullable: true }),
 *     quantity: column.int(),
 *     unit_price: column.number(),
 *     channel: column.enum(['web', 'store', 'phone']),
 *   },
 *   onBatch: (rows) => withConnection('warehouse', (pool) => upsertRows(pool, { table: 'raw.sales', key: ['order_id'], rows })),
 * });
 * // { read: 20, kept: 17, rejected: 3, errors: [{ line: 5, column: 'order_date', reason: 'not a date (YYYY-MM-DD)', value: '2024-13-01' }, …] }
 * ```
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { parse } from 'csv-parse';
import type { z } from 'zod';
import { NonRetryableError } from '../runtime/errors.ts';

/** One column: how its text becomes a value, or why it cannot. */
export interface Column<T> {
  readonly kind: string;
  readonly nullable: boolean;
  /** The value, or throws a ColumnError with the reason. */
  parse(text: string): T;
}

class ColumnError extends Error {}

const fail = (reason: string): never => {
  throw new ColumnError(reason);
};

type Nullable<T, N> = N extends true ? T | null : T;

function define<T, N extends boolean>(kind: string, nullable: N | undefined, parseText: (text: string) => T): Column<Nullable<T, N>> {
  return {
    kind,
    nullable: Boolean(nullable),
    parse(text) {
      const t = text.trim();
      if (t === '') return (nullable ? null : fail('missing')) as Nullable<T, N>;
      return parseText(t) as Nullable<T, N>;
    },
  };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export const column = {
  string<N extends boolean = false>(o: { nullable?: N; pattern?: RegExp; maxLength?: number } = {}) {
    return define('string', o.nullable, (t) => {
      if (o.maxLength !== undefined && t.length > o.maxLength) fail(`longer than ${o.maxLength} characters`);
      if (o.pattern && !o.pattern.test(t)) fail(`does not match ${o.pattern}`);
      return t;
    });
  },
  int<N extends boolean = false>(o: { nullable?: N; min?: number; max?: number } = {}) {
    return define('int', o.nullable, (t) => {
      if (!/^[+-]?\d+$/.test(t)) fail('not a whole number');
      const n = Number(t);
      if (!Number.isSafeInteger(n)) fail('out of range');
      if (o.min !== undefined && n < o.min) fail(`below ${o.min}`);
      if (o.max !== undefined && n > o.max) fail(`above ${o.max}`);
      return n;
    });
  },
  number<N extends boolean = false>(o: { nullable?: N; min?: number; max?: number } = {}) {
    return define('number', o.nullable, (t) => {
      const n = Number(t);
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) || !Number.isFinite(n)) fail('not a number');
      if (o.min !== undefined && n < o.min) fail(`below ${o.min}`);
      if (o.max !== undefined && n > o.max) fail(`above ${o.max}`);
      return n;
    });
  },
  /** A calendar date as YYYY-MM-DD (kept as that text), checked to exist. */
  date<N extends boolean = false>(o: { nullable?: N } = {}) {
    return define('date', o.nullable, (t) => {
      const m = DATE.exec(t);
      const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
      if (!m || !d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) fail('not a date (YYYY-MM-DD)');
      return t;
    });
  },
  /** A timestamp with a zone (ISO 8601), as an ISO string in UTC. */
  timestamp<N extends boolean = false>(o: { nullable?: N } = {}) {
    return define('timestamp', o.nullable, (t) => {
      const ms = Date.parse(t);
      if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(t) || Number.isNaN(ms)) fail('not a timestamp (ISO 8601)');
      return new Date(ms).toISOString();
    });
  },
  bool<N extends boolean = false>(o: { nullable?: N } = {}) {
    return define('bool', o.nullable, (t) => {
      const v = t.toLowerCase();
      if (['true', '1', 'yes', 't', 'y'].includes(v)) return true;
      if (['false', '0', 'no', 'f', 'n'].includes(v)) return false;
      return fail('not true/false');
    });
  },
  enum<const V extends string, N extends boolean = false>(values: readonly V[], o: { nullable?: N } = {}) {
    return define('enum', o.nullable, (t) => (values.includes(t as V) ? (t as V) : fail(`not one of ${values.join(', ')}`)));
  },
};

export type RowOf<C extends Record<string, Column<unknown>>> = { [K in keyof C]: C[K] extends Column<infer T> ? T : never };

export interface RowError {
  /** 1-based line in the file (CSV: the record's last line; NDJSON: its line; a JSON array: the element's index + 1). */
  line: number;
  column: string | null;
  reason: string;
  value?: string;
}

export interface ReadReport<Row> {
  file: string;
  read: number;
  kept: number;
  rejected: number;
  /** The first MAX_ERRORS errors (all are counted in `rejected`). */
  errors: RowError[];
  /** The kept rows, when no `onBatch` took them. */
  rows: Row[];
}

/** Row errors kept in a report (the rest are only counted). */
export const MAX_ERRORS = 1000;

/** Takes a batch of kept rows, with each row's line in the file (as RowError counts lines). */
export type OnBatch<Row> = (rows: Row[], lines: number[]) => Promise<unknown>;
const DEFAULT_BATCH = 100_000;

interface Sink<Row> {
  report: ReadReport<Row>;
  add(row: Row, line: number): Promise<void>;
  reject(e: RowError): void;
  finish(): Promise<ReadReport<Row>>;
}

function sink<Row>(file: string, onBatch: OnBatch<Row> | undefined, batchSize: number): Sink<Row> {
  const report: ReadReport<Row> = { file, read: 0, kept: 0, rejected: 0, errors: [], rows: [] };
  let batch: Row[] = [];
  let lines: number[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const [rows, at] = [batch, lines];
    batch = [];
    lines = [];
    await onBatch!(rows, at);
  };
  return {
    report,
    async add(row, line) {
      report.kept++;
      if (!onBatch) return void report.rows.push(row);
      batch.push(row);
      lines.push(line);
      if (batch.length >= batchSize) await flush();
    },
    reject(e) {
      report.rejected++;
      if (report.errors.length < MAX_ERRORS) report.errors.push(e);
    },
    async finish() {
      if (onBatch) await flush();
      return report;
    },
  };
}

/** A data file that does not exist fails at once: retrying cannot create it. */
function requireFile(file: string): string {
  if (!fs.existsSync(file)) throw new NonRetryableError(`data file ${file} not found`);
  return file;
}

const openFile = (file: string) => fs.createReadStream(requireFile(file));

export interface CsvOptions<C extends Record<string, Column<unknown>>> {
  columns: C;
  /** Field delimiter. Default `,`. */
  delimiter?: string;
  onBatch?: OnBatch<RowOf<C>>;
  batchSize?: number;
}

/**
 * Read a CSV file with a header line. Empty lines are skipped; a row whose fields do not
 * fit its columns is rejected with its line, column and reason; a header missing a
 * declared column fails at once (non-retryable), naming it. Extra columns are ignored.
 */
export async function readCsv<C extends Record<string, Column<unknown>>>(file: string, options: CsvOptions<C>): Promise<ReadReport<RowOf<C>>> {
  const out = sink<RowOf<C>>(file, options.onBatch, options.batchSize ?? DEFAULT_BATCH);
  const parser = openFile(file).pipe(parse({ delimiter: options.delimiter ?? ',', skip_empty_lines: true, relax_column_count: true, bom: true, info: true, trim: false }));
  let index: [string, number][] | undefined;
  const names = Object.keys(options.columns);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!index) {
        const header = record.map((h) => h.trim());
        const missing = names.filter((n) => !header.includes(n));
        if (missing.length) throw new NonRetryableError(`${file}: the header has no column ${missing.map((m) => `"${m}"`).join(', ')} (it has ${header.join(', ')})`);
        index = names.map((n) => [n, header.indexOf(n)]);
        continue;
      }
      out.report.read++;
      const row: Record<string, unknown> = {};
      let error: RowError | undefined;
      for (const [name, i] of index) {
        const text = record[i];
        if (text === undefined) {
          error = { line: info.lines, column: name, reason: 'missing (the line has too few fields)' };
          break;
        }
        try {
          row[name] = options.columns[name]!.parse(text);
        } catch (err) {
          if (!(err instanceof ColumnError)) throw err;
          error = { line: info.lines, column: name, reason: err.message, value: text.slice(0, 200) };
          break;
        }
      }
      if (error) out.reject(error);
      else await out.add(row as RowOf<C>, info.lines);
    }
  } catch (err) {
    if (err instanceof NonRetryableError) throw err;
    const e = err as { code?: string; lines?: number; message: string };
    if (e.code?.startsWith('CSV_')) throw new NonRetryableError(`${file}: not valid CSV near line ${e.lines ?? '?'}: ${e.message}`);
    throw err;
  }
  if (!index) throw new NonRetryableError(`${file} is empty: no header line`);
  return out.finish();
}

export interface JsonOptions<S extends z.ZodType> {
  /** Each row's schema; a row that fails it is rejected with the first issue's path and message. */
  schema: S;
  /** `array`: one JSON array; `ndjson`: one object per line; `auto` (default): by the first character. */
  format?: 'array' | 'ndjson' | 'auto';
  onBatch?: OnBatch<z.output<S>>;
  batchSize?: number;
  /** A JSON array file larger than this is refused (NDJSON streams). Default 256 MB. */
  maxArrayBytes?: number;
}

/** Read JSON rows: an array of objects, or NDJSON (streamed line by line). */
export async function readJson<S extends z.ZodType>(file: string, options: JsonOptions<S>): Promise<ReadReport<z.output<S>>> {
  const out = sink<z.output<S>>(file, options.onBatch, options.batchSize ?? DEFAULT_BATCH);
  const take = async (value: unknown, line: number) => {
    out.report.read++;
    const result = options.schema.safeParse(value);
    if (result.success) return out.add(result.data, line);
    const issue = result.error.issues[0]!;
    out.reject({ line, column: issue.path.length ? issue.path.join('.') : null, reason: issue.message });
  };
  let format = options.format ?? 'auto';
  if (format === 'auto') {
    const fd = fs.openSync(requireFile(file), 'r');
    const head = Buffer.alloc(64);
    const n = fs.readSync(fd, head, 0, 64, 0);
    fs.closeSync(fd);
    format = head.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '').trimStart().startsWith('[') ? 'array' : 'ndjson';
  }
  if (format === 'array') {
    const size = fs.statSync(requireFile(file)).size;
    const max = options.maxArrayBytes ?? 256 * 1024 * 1024;
    if (size > max) throw new NonRetryableError(`${file} is ${size} bytes, over the ${max} a JSON array is read whole; write it as NDJSON to stream it`);
    let value: unknown;
    try {
      value = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
    } catch (err) {
      throw new NonRetryableError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(value)) throw new NonRetryableError(`${file} must hold a JSON array of rows`);
    for (let i = 0; i < value.length; i++) await take(value[i], i + 1);
    return out.finish();
  }
  const lines = readline.createInterface({ input: openFile(file), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      out.report.read++;
      out.reject({ line: n, column: null, reason: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    await take(value, n);
  }
  return out.finish();
}
