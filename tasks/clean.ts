/**
 * Row cleaning helpers: parse numbers and dates, drop rows that are null or
 * impossible (counting each reason), de-duplicate on a key, stamp `extracted_at`.
 * Every cleaner returns its rows plus a report a task can return as its output.
 *
 * ```ts
 * const { rows, report } = cleanRows(input, {
 *   map: (r) => { const n = parseNumber(r.amount); return n === null ? drop('null_amount') : { id: r.id, amount: n }; },
 *   key: (r) => r.id,
 * });
 * // report: { read: 100, kept: 98, dropped: { null_amount: 1, duplicate: 1 } }
 * ```
 */
import { DateTime } from 'luxon';
import type { RawBar } from './twelve-data.ts';

export interface CleanReport {
  read: number;
  kept: number;
  /** Dropped rows by reason. */
  dropped: Record<string, number>;
}

export interface CleanResult<T> {
  rows: T[];
  report: CleanReport;
}

const DROP = Symbol('weir.drop');

/** Returned by a row mapper to drop the row, counted under `reason`. */
export interface Drop {
  readonly [DROP]: string;
}

/** Drop the current row for `reason` (snake_case: it becomes a report key). */
export function drop(reason: string): Drop {
  return { [DROP]: reason };
}

function isDrop(value: unknown): value is Drop {
  return typeof value === 'object' && value !== null && DROP in value;
}

/**
 * A finite number from a string or number; null for null/undefined/''/'null'/'NaN'
 * and anything that does not parse completely (`'12abc'` is null, not 12).
 */
export function parseNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (text === '' || /^(null|nan|none|n\/a)$/i.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** A `YYYY-MM-DD` date from an ISO date or date-time string (date part taken as written); null if invalid. */
export function parseDate(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const parsed = DateTime.fromISO(value.trim(), { setZone: true });
  return parsed.isValid ? parsed.toISODate() : null;
}

/** True when any of `fields` is null, undefined or a blank string. */
export function hasNull(row: Record<string, unknown>, fields: readonly string[]): boolean {
  return fields.some((f) => row[f] === null || row[f] === undefined || (typeof row[f] === 'string' && (row[f] as string).trim() === ''));
}

export interface CleanRowsOptions<In, Out> {
  /** Parse and validate a row: return the clean row or `drop(reason)`. */
  map: (row: In, index: number) => Out | Drop;
  /** De-duplication key; the first row with a key wins (or the last, see `keep`). Default: no de-duplication. */
  key?: (row: Out) => string;
  /** Which duplicate to keep. Default `first`. */
  keep?: 'first' | 'last';
}

/** Map, drop and de-duplicate rows, counting what was read, dropped by reason, and kept. */
export function cleanRows<In, Out>(input: Iterable<In>, options: CleanRowsOptions<In, Out>): CleanResult<Out> {
  const dropped: Record<string, number> = {};
  const count = (reason: string) => {
    dropped[reason] = (dropped[reason] ?? 0) + 1;
  };
  let read = 0;
  const mapped: Out[] = [];
  for (const row of input) {
    const out = options.map(row, read++);
    if (isDrop(out)) count(out[DROP]);
    else mapped.push(out);
  }
  let rows = mapped;
  if (options.key) {
    const byKey = new Map<string, Out>();
    for (const row of mapped) {
      const k = options.key(row);
      if (byKey.has(k)) {
        count('duplicate');
        if (options.keep === 'last') {
          byKey.delete(k);
          byKey.set(k, row);
        }
      } else byKey.set(k, row);
    }
    rows = [...byKey.values()];
  }
  return { rows, report: { read, kept: rows.length, dropped } };
}

/** Add `extracted_at` (ISO string, so the rows stay JSON) to every row. Default: now. */
export function withExtractedAt<T extends object>(rows: T[], extractedAt: Date | string = new Date()): (T & { extracted_at: string })[] {
  const stamp = typeof extractedAt === 'string' ? extractedAt : extractedAt.toISOString();
  return rows.map((r) => ({ ...r, extracted_at: stamp }));
}

/** A daily bar after cleaning: numbers parsed, date ISO, one row per (symbol, date). */
export interface DailyPrice {
  symbol: string;
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  extracted_at: string;
}

/** A raw bar plus the symbol it belongs to. */
export type SymbolBar = RawBar & { symbol: string };

/** Flatten `{ AAPL: [bars], ... }` into rows carrying their symbol. */
export function flattenBars(bars: Record<string, RawBar[]>): SymbolBar[] {
  return Object.entries(bars).flatMap(([symbol, list]) => list.map((b) => ({ ...b, symbol })));
}

const BAR_FIELDS = ['symbol', 'datetime', 'open', 'high', 'low', 'close', 'volume'] as const;

/**
 * Clean Twelve Data daily bars. Drop reasons: `null_field`, `bad_number`, `bad_date`,
 * `negative_price`, `high_below_low`, `negative_volume`, `duplicate` (same symbol and
 * date: the first seen wins, i.e. the newest response order). `extractedAt` defaults to now.
 */
export function cleanDailyBars(input: Record<string, RawBar[]> | SymbolBar[], options: { extractedAt?: Date | string } = {}): CleanResult<DailyPrice> {
  const rows = Array.isArray(input) ? input : flattenBars(input);
  const stamp = options.extractedAt === undefined ? new Date().toISOString() : typeof options.extractedAt === 'string' ? options.extractedAt : options.extractedAt.toISOString();
  return cleanRows<SymbolBar, DailyPrice>(rows, {
    map: (bar) => {
      if (hasNull(bar as unknown as Record<string, unknown>, BAR_FIELDS)) return drop('null_field');
      const date = parseDate(bar.datetime);
      if (date === null) return drop('bad_date');
      const [open, high, low, close, volume] = [bar.open, bar.high, bar.low, bar.close, bar.volume].map(parseNumber);
      if (open === null || high === null || low === null || close === null || volume === null || volume === undefined) return drop('bad_number');
      if (open < 0 || high < 0 || low < 0 || close < 0) return drop('negative_price');
      if (high < low) return drop('high_below_low');
      if (volume < 0) return drop('negative_volume');
      return { symbol: bar.symbol.trim().toUpperCase(), date, open, high, low, close, volume: Math.round(volume), extracted_at: stamp };
    },
    key: (r) => `${r.symbol}|${r.date}`,
  });
}
