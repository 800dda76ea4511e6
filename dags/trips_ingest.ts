/**
 * trips_ingest — every CSV of trips that lands in the landing folder, once, through
 * bronze → silver → gold in the warehouse, audited step by step, then archived.
 *
 *   bronze → silver → gold → archive        (gold produces warehouse.trips_gold)
 *
 * - Trigger: one run per file matching *.csv in TRIPS_LANDING_DIR (default data/landing/
 *   in the project), once it has stopped growing for 2 s, known by its content: the same
 *   bytes dropped again (under any name) make no second run.
 * - bronze: the file streamed (papaparse) into trips.bronze with COPY, 100,000 rows per
 *   chunk, all in one transaction (a failed try leaves nothing), each row with its file,
 *   row number and inserted_on. Rows with every field empty are dropped and counted; a
 *   row with the wrong number of fields, a point that is not WKT `POINT (lon lat)` or a
 *   time that is not one goes to trips.bronze_rejects with its line and reason. A wrong
 *   header fails the run at once (non-retryable), naming the expected and found columns.
 * - silver (SQL): typed and cleaned, one row per distinct trip (the sample's duplicate goes).
 * - gold (SQL): this file's new trips added to weekly trips per region and to similar-trip
 *   groups (0.01° grid, hour of day): work in proportion to the file, not the table.
 * - archive: the file moves to TRIPS_ARCHIVE_DIR (default data/archive/) only after gold
 *   has committed; a failed run leaves it in landing/, to be cleared and run again.
 * Every step writes a row to audit.step_log (success or failure).
 *
 * Served by `weir server` (a viewer token): GET /stats?region=Turin&week=21&year=2018 and
 * GET /stats/bbox?min_lon=…&min_lat=…&max_lon=…&max_lat=…&week=21&year=2018.
 * Environment: TRIPS_LANDING_DIR, TRIPS_ARCHIVE_DIR, WEIR_CONN_WAREHOUSE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Papa from 'papaparse';
import type pg from 'pg';
import { dag, z, NonRetryableError } from 'weir';
import { applySqlFile, copyRows, sqlFile, withConnection, withTransaction } from 'weir/tasks/postgres';
import { withAudit } from 'weir/tasks/audit';

const HEADER = ['region', 'origin_coord', 'destination_coord', 'datetime', 'datasource'] as const;
const CHUNK_ROWS = 100_000;
const project = (sub: string) => fileURLToPath(new URL(`../data/${sub}/`, import.meta.url));
const landingDir = () => (process.env.TRIPS_LANDING_DIR ? path.resolve(process.env.TRIPS_LANDING_DIR) : project('landing'));
const archiveDir = () => (process.env.TRIPS_ARCHIVE_DIR ? path.resolve(process.env.TRIPS_ARCHIVE_DIR) : project('archive'));

const d = dag({
  id: 'trips_ingest',
  description: 'Each CSV of trips landing in data/landing/ through bronze, silver and gold, audited, then archived',
  tags: ['trips', 'files', 'medallion'],
  owner: 'data-team',
  params: z.object({ file: z.string().min(1).describe('the landed file (set by the file trigger)') }),
  trigger: { files: { folder: landingDir(), pattern: '*.csv', settleMs: 2000, identity: 'content' } },
  // Files are independent; gold's additions commute. A few at once keep the warehouse busy, not swamped.
  maxActiveRuns: 4,
  defaultTaskOptions: { retries: 2, retryDelayMs: 2000, retryExponentialBackoff: true },
});

const warehouse = <T>(fn: (pool: pg.Pool) => Promise<T>) => withConnection('warehouse', fn, { max: 2 });

/** WKT points as silver parses them: spaces (not tabs) around the numbers. */
const WKT = /^ *POINT *\( *(-?\d+(?:\.\d+)?) +(-?\d+(?:\.\d+)?) *\) *$/;
const TIME = /^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** A real calendar time (no 30 February, no 24:00), checked without building a Date per row. */
function validTime(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= (mo === 2 && leap ? 29 : DAYS[mo - 1]!) && h <= 23 && mi <= 59 && s <= 59;
}

/** Why a row cannot go to bronze, or undefined when it can. */
export function rowProblem(fields: string[]): string | undefined {
  if (fields.length !== HEADER.length) return `expected ${HEADER.length} fields, found ${fields.length}`;
  if (!fields[0]!.trim()) return 'region is empty';
  for (const i of [1, 2]) {
    const m = WKT.exec(fields[i]!);
    if (!m || Math.abs(Number(m[1])) > 180 || Math.abs(Number(m[2])) > 90) return `${HEADER[i]} is not a WKT point POINT (lon lat): ${JSON.stringify(fields[i]!.slice(0, 60))}`;
  }
  const t = TIME.exec(fields[3]!);
  if (!t || !validTime(+t[1]!, +t[2]!, +t[3]!, +t[4]!, +t[5]!, t[6] === undefined ? 0 : +t[6])) return `datetime is not a time (YYYY-MM-DD hh:mm:ss): ${JSON.stringify(fields[3]!.slice(0, 40))}`;
  if (!fields[4]!.trim()) return 'datasource is empty';
  return undefined;
}

interface BronzeRow {
  source_file: string;
  row_number: number;
  region: string;
  origin_coord: string;
  destination_coord: string;
  datetime: string;
  datasource: string;
  batch_id: number;
}
const BRONZE_COLUMNS = ['source_file', 'row_number', ...HEADER, 'batch_id'] as const;

interface BronzeCounts {
  file: string;
  rows: number;
  kept: number;
  empty: number;
  rejected: number;
  chunks: number;
}

/**
 * Stream the file into bronze in one transaction, CHUNK_ROWS rows per COPY, one chunk in
 * flight: the next chunk is parsed while PostgreSQL takes the last (parsing and COPY
 * overlap on two cores), and at most two chunks are held, so memory stays flat.
 */
async function loadBronze(client: pg.PoolClient, file: string, batch: { id: number; runId: string }, signal: AbortSignal): Promise<BronzeCounts> {
  const name = path.basename(file);
  const counts: BronzeCounts = { file, rows: 0, kept: 0, empty: 0, rejected: 0, chunks: 0 };
  let chunk: BronzeRow[] = [];
  let rejects: { line: number; reason: string; raw: string }[] = [];
  let inFlight: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    await inFlight; // the previous chunk's COPY (its error, if any, surfaces here)
    signal.throwIfAborted();
    const [rows, bad] = [chunk, rejects];
    chunk = [];
    rejects = [];
    if (!rows.length && !bad.length) return;
    counts.chunks++;
    inFlight = (async () => {
      if (rows.length) await copyRows(client, { table: 'trips.bronze', columns: BRONZE_COLUMNS, rows });
      if (bad.length) await client.query(sqlFile('warehouse/trips/reject.sql'), [name, bad.map((r) => r.line), bad.map((r) => r.reason), bad.map((r) => r.raw), batch.runId]);
    })();
    inFlight.catch(() => {}); // awaited at the next flush; not unhandled meanwhile
  };
  // papaparse: RFC 4180 quotes, streamed, 4-5× csv-parse's speed on these rows (0.8 s vs 3.8 s
  // per million). A record's line is its index + 1, exact while no quoted field holds a line
  // break; empty lines are records too, so they count.
  const source = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  let index = 0;
  const take = (record: string[]) => {
    index++;
    if (index === 1) {
      const found = record.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
      if (found.join(',') !== HEADER.join(',')) throw new NonRetryableError(`${name}: wrong header: expected ${HEADER.join(',')}, found ${found.join(',') || '(nothing)'}`);
      return;
    }
    counts.rows++;
    if (record.every((f) => !f.trim())) {
      counts.empty++;
      return;
    }
    const problem = rowProblem(record);
    if (problem) {
      counts.rejected++;
      rejects.push({ line: index, reason: problem, raw: record.join(',').slice(0, 2000) });
    } else {
      counts.kept++;
      chunk.push({ source_file: name, row_number: index - 1, region: record[0]!, origin_coord: record[1]!, destination_coord: record[2]!, datetime: record[3]!, datasource: record[4]!, batch_id: batch.id });
    }
  };
  // Rows a megabyte of input at a time (papaparse's `chunk`). A full chunk pauses the file
  // (papaparse's own pause stops parsing but not reading: the file would pile up in memory)
  // until the chunk before it has been copied.
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown, parser?: Papa.Parser) => {
        if (failed) return;
        failed = true;
        parser?.abort();
        source.destroy();
        reject(err);
      };
      source.on('error', (err) => fail(err));
      Papa.parse(source as unknown as File, {
        skipEmptyLines: false,
        chunk: (results: Papa.ParseResult<string[]>, parser: Papa.Parser) => {
          try {
            for (const record of results.data) take(record);
          } catch (err) {
            return fail(err, parser);
          }
          if (chunk.length + rejects.length >= CHUNK_ROWS) {
            source.pause();
            parser.pause();
            flush().then(() => {
              parser.resume();
              source.resume();
            }, (err) => fail(err, parser));
          }
        },
        complete: () => {
          if (!failed) resolve();
        },
        error: (err: Error) => fail(err),
      });
    });
  } catch (err) {
    await inFlight.catch(() => {});
    throw err;
  }
  if (index === 0) throw new NonRetryableError(`${name} is empty: expected the header ${HEADER.join(',')}`);
  await flush();
  await inFlight;
  return counts;
}

/** The run's batch id (the same on every try). */
async function batchId(db: pg.Pool, runId: string, file: string): Promise<number> {
  const { rows } = await db.query<{ batch_id: number }>(sqlFile('warehouse/trips/batch.sql'), [runId, path.basename(file)]);
  return rows[0]!.batch_id;
}

const bronze = d.task({ id: 'bronze', description: 'the file into trips.bronze (COPY, 100,000-row chunks); unreadable rows to bronze_rejects', timeoutMs: 3_600_000 }, async (ctx) => {
  const file = ctx.params.file;
  if (!fs.existsSync(file)) throw new NonRetryableError(`${file} is not there any more (moved or deleted before its run started)`);
  return warehouse(async (pool) => {
    await applySqlFile(pool, 'warehouse/trips/schema.sql');
    const batch = { id: await batchId(pool, ctx.runId, file), runId: ctx.runId };
    const counts = await withAudit(pool, ctx, { step: 'bronze', source: file, target: 'trips.bronze' }, async () => {
      const c = await withTransaction(pool, async (client) => {
        await client.query(sqlFile('warehouse/trips/purge_bronze.sql'), [batch.id, ctx.runId]);
        return loadBronze(client, file, batch, ctx.signal);
      });
      return { result: c, rowsIn: c.rows, rowsOut: c.kept, rowsAffected: c.kept + c.rejected };
    });
    await pool.query(sqlFile('warehouse/trips/analyze_bronze.sql'));
    ctx.log.info('bronze loaded', { ...counts, batch_id: batch.id });
    return { ...counts, batch_id: batch.id };
  });
});

const silver = d.task({ id: 'silver', upstream: [bronze], description: 'typed, cleaned and de-duplicated into trips.silver (SQL)' }, async (ctx) => {
  const { kept, file, batch_id } = ctx.output(bronze);
  return warehouse(async (pool) => {
    const added = await withAudit(pool, ctx, { step: 'silver', source: 'trips.bronze', target: 'trips.silver' }, async () => {
      const { rows } = await pool.query<{ added: string }>(sqlFile('warehouse/trips/silver.sql'), [batch_id]);
      const n = Number(rows[0]!.added);
      return { result: n, rowsIn: kept, rowsOut: n, rowsAffected: n };
    });
    ctx.log.info('silver loaded', { file, added, duplicates: kept - added });
    return { added, duplicates: kept - added, batch_id };
  });
});

const gold = d.task({ id: 'gold', upstream: [silver], produces: ['warehouse.trips_gold'], description: 'the new trips added to weekly and similar-trip aggregates (SQL), once' }, async (ctx) => {
  const { added, batch_id } = ctx.output(silver);
  return warehouse(async (pool) => {
    const out = await withAudit(pool, ctx, { step: 'gold', source: 'trips.silver', target: 'trips.gold_weekly, trips.gold_similar' }, async () => {
      const { rows } = await pool.query<{ applied: number; trips: string; weekly_rows: number; similar_rows: number }>(sqlFile('warehouse/trips/gold.sql'), [batch_id]);
      const r = { applied: rows[0]!.applied === 1, trips: Number(rows[0]!.trips), weekly_rows: rows[0]!.weekly_rows, similar_rows: rows[0]!.similar_rows };
      return { result: r, rowsIn: added, rowsOut: r.trips, rowsAffected: r.weekly_rows + r.similar_rows };
    });
    ctx.log.info(out.applied ? 'gold updated' : 'gold had this batch already', out);
    return out;
  });
});

d.task({ id: 'archive', upstream: [gold], description: 'the file moved from landing/ to archive/ (after gold committed)' }, async (ctx) => {
  const file = ctx.params.file;
  const dir = archiveDir();
  return warehouse((pool) => withAudit(pool, ctx, { step: 'archive', source: file, target: dir }, async () => {
    fs.mkdirSync(dir, { recursive: true });
    const name = path.basename(file);
    let target = path.join(dir, name);
    if (!fs.existsSync(file)) {
      // A retry after the move: done already.
      if (fs.existsSync(target)) return { result: { archived: target }, rowsAffected: 0 };
      throw new NonRetryableError(`${file} is gone from the landing folder and not in ${dir}`);
    }
    if (fs.existsSync(target)) target = path.join(dir, `${path.parse(name).name}.${ctx.runId.slice(-12)}${path.extname(name)}`);
    try {
      fs.renameSync(file, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      fs.copyFileSync(file, target); // another file system: copy, then remove
      fs.rmSync(file);
    }
    ctx.log.info('archived', { from: file, to: target });
    return { result: { archived: target }, rowsAffected: 1 };
  }));
});

const isoWeek = { year: z.coerce.number().int().min(1970).max(9999), week: z.coerce.number().int().min(1).max(53) };

// GET /stats?region=Turin&week=21&year=2018: trips in that ISO week, and the region's weekly average.
d.route({
  path: '/stats',
  params: z.object({ region: z.string().trim().min(1, 'a region is required').max(100), ...isoWeek }),
  sql: 'warehouse/trips/stats.sql',
  args: ['region', 'year', 'week'],
  returns: 'one',
  notFound: 'no trips in that region',
  description: 'trips of a region in one ISO week, and its weekly average (trips_ingest gold)',
});

// GET /stats/bbox?min_lon=7.6&min_lat=45&max_lon=7.8&max_lat=45.1&week=21&year=2018: the same for a bounding box.
const lon = z.coerce.number().min(-180).max(180);
const lat = z.coerce.number().min(-90).max(90);
d.route({
  path: '/stats/bbox',
  params: z.object({ min_lon: lon, min_lat: lat, max_lon: lon, max_lat: lat, ...isoWeek }).refine((p) => p.min_lon <= p.max_lon && p.min_lat <= p.max_lat, { message: 'min_lon/min_lat must not exceed max_lon/max_lat', path: ['max_lon'] }),
  sql: 'warehouse/trips/stats_bbox.sql',
  args: ['min_lon', 'min_lat', 'max_lon', 'max_lat', 'year', 'week'],
  returns: 'one',
  description: 'trips starting inside a bounding box in one ISO week, and its weekly average (trips_ingest silver)',
});

export default d;
