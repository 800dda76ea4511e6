/**
 * qb_backfill — invoices, customers and items from the QuickBooks Online API into the
 * warehouse's raw tables, one daily chunk at a time.
 *
 *   chunks → extract (mapped: one instance per entity and day, pool quickbooks) → volumetry → summary
 *
 * - Params: `entity` (invoices | customers | items, or a list; default all three),
 *   `start_date` / `end_date` (UTC timestamps, start inclusive, end exclusive; default the
 *   calendar month before the run's logical date), `page_size` (1–1000, default 100).
 * - extract: per chunk, pages of `SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= …
 *   AND MetaData.LastUpdatedTime < … STARTPOSITION n MAXRESULTS m` until a page is short or
 *   empty, each page upserted as it arrives into raw.qb_invoices / raw.qb_customers /
 *   raw.qb_items (key: QBO's Id; the entity as `payload`; window, page and run as metadata).
 *   Every call goes through the `quickbooks` pool (4 slots by default: `weir pools set
 *   quickbooks --slots N`), 429s wait their `Retry-After`, 5xx and network errors back off.
 *   A chunk that keeps failing fails alone: `weir clear <run> --failed` re-runs only it.
 * - Access tokens come from the refresh token, kept until they expire; a 401 refreshes once.
 *   QuickBooks rotates refresh tokens: the new one is written to weir's secrets store
 *   (QBO_REFRESH_TOKEN) under its lock, so two chunks refreshing at once never use a
 *   replaced one.
 * - volumetry: per entity, the rows the run saw vs the rows in the table for the window.
 * - Schedule: `@once` on 1 February 2026 14:00 UTC (09:00 America/Guayaquil), for January;
 *   paused on creation (unpause to arm it) and paused again by weir once it succeeds.
 *
 * Secrets (environment variable or `weir secrets set NAME`): QBO_CLIENT_ID,
 * QBO_CLIENT_SECRET, QBO_REFRESH_TOKEN, QBO_REALM_ID. Environment: QBO_ENVIRONMENT
 * (sandbox | production, default sandbox), QBO_BASE_URL and QBO_TOKEN_URL (default Intuit's
 * hosts for that environment), WEIR_CONN_WAREHOUSE.
 */
import type pg from 'pg';
import { dag, z, DateTime, NonRetryableError } from 'weir';
import type { TaskContext } from 'weir';
import { OAuth2Client, createHttpClient } from 'weir/tasks/http';
import { applySqlFile, sqlFile, upsertRows, withConnection } from 'weir/tasks/postgres';

const ENTITIES = { invoices: 'Invoice', customers: 'Customer', items: 'Item' } as const;
type Entity = keyof typeof ENTITIES;
const entity = z.enum(['invoices', 'customers', 'items']);
const timestamp = z.iso.datetime({ offset: true });

const params = z.object({
  entity: z.union([entity, z.array(entity).min(1)]).default(['invoices', 'customers', 'items']).describe('what to load: invoices, customers, items, or a list'),
  start_date: timestamp.optional().describe('window start, inclusive, a UTC timestamp (default: the first day of the month before the logical date)'),
  end_date: timestamp.optional().describe('window end, exclusive (default: the first day of the logical date\'s month)'),
  page_size: z.number().int().min(1).max(1000).default(100).describe('rows per page (QBO allows at most 1000)'),
}).refine((p) => !p.start_date || !p.end_date || Date.parse(p.end_date) > Date.parse(p.start_date), { message: 'end_date must be after start_date', path: ['end_date'] });

const d = dag({
  id: 'qb_backfill',
  description: 'QuickBooks Online invoices, customers and items into raw.qb_* in daily chunks, with a volumetry check',
  tags: ['quickbooks', 'backfill', 'api'],
  owner: 'data-team',
  params,
  schedule: '@once',
  startDate: '2026-02-01T14:00:00',
  timezone: 'UTC',
  pausedOnCreation: true,
  pauseAfterSuccess: true,
  pools: { quickbooks: 4 },
  defaultTaskOptions: { retries: 2, retryDelayMs: 2000, retryExponentialBackoff: true },
});

interface Chunk {
  entity: Entity;
  start: string;
  end: string;
}

const HOSTS = {
  sandbox: 'https://sandbox-quickbooks.api.intuit.com',
  production: 'https://quickbooks.api.intuit.com',
};
const INTUIT_TOKEN_URL = 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer';

function endpoints(): { baseUrl: string; tokenUrl: string } {
  const environment = process.env.QBO_ENVIRONMENT ?? 'sandbox';
  if (environment !== 'sandbox' && environment !== 'production') throw new NonRetryableError(`QBO_ENVIRONMENT must be sandbox or production, got "${environment}"`);
  return { baseUrl: process.env.QBO_BASE_URL ?? HOSTS[environment], tokenUrl: process.env.QBO_TOKEN_URL ?? INTUIT_TOKEN_URL };
}

/** QBO's timestamp form: `2026-01-01T00:00:00+00:00`. */
const qboTime = (t: DateTime) => t.toUTC().toFormat("yyyy-MM-dd'T'HH:mm:ss'+00:00'");

/** The window cut into UTC days (the last one ends at the window's end), for each entity. */
export function dailyChunks(entities: Entity[], start: DateTime, end: DateTime): Chunk[] {
  const out: Chunk[] = [];
  for (const e of entities) {
    for (let day = start.toUTC(); day < end; day = day.startOf('day').plus({ days: 1 })) {
      const next = DateTime.min(day.startOf('day').plus({ days: 1 }), end.toUTC());
      out.push({ entity: e, start: qboTime(day), end: qboTime(next) });
    }
  }
  return out;
}

function windowOf(ctx: TaskContext<z.output<typeof params>>): { start: DateTime; end: DateTime } {
  const month = ctx.logicalDate.toUTC().startOf('month');
  const start = ctx.params.start_date ? DateTime.fromISO(ctx.params.start_date, { zone: 'utc' }) : month.minus({ months: 1 });
  const end = ctx.params.end_date ? DateTime.fromISO(ctx.params.end_date, { zone: 'utc' }) : month;
  if (end <= start) throw new NonRetryableError(`end_date ${end.toISO()} is not after start_date ${start.toISO()}`);
  return { start, end };
}

const chunks = d.task({ id: 'chunks', description: 'the window in daily chunks per entity' }, async (ctx) => {
  const { start, end } = windowOf(ctx);
  const entities = [...new Set(Array.isArray(ctx.params.entity) ? ctx.params.entity : [ctx.params.entity])];
  await withConnection('warehouse', (db) => applySqlFile(db, 'warehouse/quickbooks/schema.sql'), { max: 1 });
  const list = dailyChunks(entities, start, end);
  ctx.log.info('chunks', { entities, start: start.toISO(), end: end.toISO(), chunks: list.length });
  return list;
});

/** Kept per isolate thread: the chunks that run in it reuse an access token until it expires. */
const tokenCache: { accessToken?: string; expiresAt?: number } = {};

interface QueryPage {
  QueryResponse?: Record<string, unknown> & { startPosition?: number; maxResults?: number };
}

const extract = d.map({ id: 'extract', over: chunks, pool: 'quickbooks', timeoutMs: 30 * 60_000, description: 'one chunk, page by page, upserted as it arrives' }, async (ctx, chunk) => {
  const { baseUrl, tokenUrl } = endpoints();
  const [clientId, clientSecret, realmId] = await Promise.all([ctx.secret('QBO_CLIENT_ID'), ctx.secret('QBO_CLIENT_SECRET'), ctx.secret('QBO_REALM_ID')]);
  const http = createHttpClient({ log: ctx.log, baseDelayMs: Number(process.env.QBO_RETRY_BASE_MS ?? 500) });
  const qbo = new OAuth2Client({ tokenUrl, clientId, clientSecret, refreshTokenSecret: { name: 'QBO_REFRESH_TOKEN', ctx }, tokenCache, http, log: ctx.log });
  const name = ENTITIES[chunk.entity];
  const table = `raw.qb_${chunk.entity}`;
  const pageSize = ctx.params.page_size;
  let rows = 0;
  let pages = 0;
  const counts = { inserted: 0, updated: 0, unchanged: 0 };
  await withConnection('warehouse', async (db: pg.Pool) => {
    for (let page = 1; ; page++) {
      const startPosition = (page - 1) * pageSize + 1;
      const query = `SELECT * FROM ${name} WHERE MetaData.LastUpdatedTime >= '${chunk.start}' AND MetaData.LastUpdatedTime < '${chunk.end}' STARTPOSITION ${startPosition} MAXRESULTS ${pageSize}`;
      const { data } = await qbo.get<QueryPage>(`${baseUrl}/v3/company/${encodeURIComponent(realmId)}/query`, {
        params: { query, minorversion: 75 }, headers: { accept: 'application/json' }, signal: ctx.signal,
      });
      const found = data?.QueryResponse?.[name];
      const entities = Array.isArray(found) ? (found as { Id: string; MetaData: { LastUpdatedTime: string } }[]) : [];
      pages = page;
      if (entities.length) {
        const now = new Date();
        const c = await upsertRows(db, {
          table, key: ['id'],
          rows: entities.map((e) => ({
            id: String(e.Id), payload: JSON.stringify(e), last_updated_utc: new Date(e.MetaData.LastUpdatedTime), ingested_at_utc: now,
            extract_window_start_utc: chunk.start, extract_window_end_utc: chunk.end, page_number: page, page_size: pageSize, run_id: ctx.runId,
          })),
          // Loading the same entity again changes nothing; a changed payload rewrites the row with this load's metadata.
          ignoreChangesIn: ['ingested_at_utc', 'extract_window_start_utc', 'extract_window_end_utc', 'page_number', 'page_size', 'run_id'],
        });
        counts.inserted += c.inserted;
        counts.updated += c.updated;
        counts.unchanged += c.unchanged;
        rows += entities.length;
      }
      ctx.log.info('page', { entity: chunk.entity, chunk_start: chunk.start, page, start_position: startPosition, rows: entities.length, ...counts });
      if (entities.length < pageSize) break;
    }
  }, { max: 1 });
  ctx.log.info('chunk done', { entity: chunk.entity, chunk_start: chunk.start, chunk_end: chunk.end, pages, rows });
  return { ...chunk, pages, rows, ...counts };
});

const volumetry = d.task({ id: 'volumetry', upstream: [extract], description: 'per entity: rows the run saw vs rows in the table for the window' }, async (ctx) => {
  const done = ctx.output(extract);
  const { start, end } = windowOf(ctx);
  const byEntity = new Map<Entity, number>();
  for (const c of done) byEntity.set(c.entity, (byEntity.get(c.entity) ?? 0) + c.rows);
  const results = await withConnection('warehouse', async (db) => Promise.all([...byEntity].map(async ([e, seen]) => {
    const { rows } = await db.query<{ n: number }>(sqlFile('warehouse/quickbooks/window_count.sql'), [start.toJSDate(), end.toJSDate(), e]);
    return { entity: e, seen_by_run: seen, in_table: rows[0]!.n, ok: rows[0]!.n === seen };
  })), { max: 1 });
  for (const r of results) ctx.log.info('volumetry', r);
  const off = results.filter((r) => !r.ok);
  if (off.length) throw new NonRetryableError(`volumetry: ${off.map((r) => `${r.entity}: the run saw ${r.seen_by_run} rows, the table has ${r.in_table} for the window`).join('; ')}`);
  return results;
});

d.task({ id: 'summary', upstream: [extract, volumetry] }, (ctx) => {
  const done = ctx.output(extract);
  const summary = {
    chunks: done.length,
    pages: done.reduce((a, c) => a + c.pages, 0),
    rows: done.reduce((a, c) => a + c.rows, 0),
    inserted: done.reduce((a, c) => a + c.inserted, 0),
    updated: done.reduce((a, c) => a + c.updated, 0),
    volumetry: ctx.output(volumetry),
  };
  ctx.log.info('summary', summary);
  return summary;
});

export default d;
