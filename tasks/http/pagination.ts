/**
 * Pagination helpers for HTTP extraction: offset pages (QuickBooks' STARTPOSITION /
 * MAXRESULTS) and cursor pages, each with a safety stop, and a loop guard for cursors.
 */
import { WeirError } from '../../runtime/errors.ts';
import { redact } from '../../runtime/redact.ts';

export interface OffsetPaginationOptions<T> {
  /** Rows asked for per page. */
  pageSize: number;
  /** First position; QuickBooks' STARTPOSITION is 1-based. Default 1. */
  start?: number;
  /** Fetch `size` rows starting at `position`. */
  fetchPage: (position: number, size: number) => Promise<T[]>;
  /** Safety stop. Default 10 000 pages. */
  maxPages?: number;
  signal?: AbortSignal;
}

/**
 * Pages of an offset/start-position API, until a page comes back shorter than asked.
 * A short page ends the walk even when the API's own counters disagree (the QuickBooks
 * sample holds 20 invoices under `maxResults: 31`).
 */
export async function* paginateOffset<T>(options: OffsetPaginationOptions<T>): AsyncGenerator<T[], void, undefined> {
  if (!(options.pageSize > 0)) throw new WeirError('bad_option', `paginateOffset: pageSize must be positive, got ${options.pageSize}`);
  const maxPages = options.maxPages ?? 10_000;
  let position = options.start ?? 1;
  for (let page = 0; page < maxPages; page++) {
    options.signal?.throwIfAborted();
    const rows = await options.fetchPage(position, options.pageSize);
    if (rows.length > 0) yield rows;
    if (rows.length < options.pageSize) return;
    position += rows.length;
  }
  throw new WeirError('too_many_pages', `paginateOffset stopped after maxPages=${maxPages} pages; raise maxPages if the data really is that large`);
}

export interface CursorPage<T> {
  items: T[];
  /** Cursor or next-page URL; null/undefined/'' when this was the last page. */
  next?: string | null;
}

export interface CursorPaginationOptions<T> {
  /** Fetch a page; `cursor` is undefined for the first page, then the previous page's `next`. */
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<T>>;
  /** Safety stop. Default 10 000 pages. */
  maxPages?: number;
  signal?: AbortSignal;
}

/** Pages of a cursor or next-link API, until `next` is empty. A cursor seen twice is an error, not a loop. */
export async function* paginateCursor<T>(options: CursorPaginationOptions<T>): AsyncGenerator<T[], void, undefined> {
  const maxPages = options.maxPages ?? 10_000;
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    options.signal?.throwIfAborted();
    const { items, next } = await options.fetchPage(cursor);
    if (items.length > 0) yield items;
    if (!next) return;
    if (seen.has(next)) throw new WeirError('pagination_loop', redact(`paginateCursor: the API returned cursor "${next}" twice; stopping instead of looping`));
    seen.add(next);
    cursor = next;
  }
  throw new WeirError('too_many_pages', `paginateCursor stopped after maxPages=${maxPages} pages; raise maxPages if the data really is that large`);
}
