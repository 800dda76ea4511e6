/**
 * Opening weir's database: WEIR_DATABASE_URL when set, otherwise the embedded
 * server (whose `weir` database is created and migrated on first use).
 */
import pg from 'pg';
import type { ResolvedConfig } from '../config.ts';
import { ensureEmbeddedPostgres } from './embedded.ts';
import { assertMigrated, migrate } from './migrator.ts';
import { logger } from '../log.ts';
import { WeirError, toError } from '../errors.ts';
import { maskUrl } from '../redact.ts';

// timestamptz as Date, bigint counts as numbers (they are counts, far below 2^53).
pg.types.setTypeParser(20, (v) => Number(v));

export interface Database {
  url: string;
  pool: pg.Pool;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations (default: only for the embedded database). */
  migrate?: boolean;
  /** Pool size. Default 10. */
  poolMax?: number;
  applicationName?: string;
  /** Do not require weir's schema to be current (for `weir db migrate` itself). */
  skipVersionCheck?: boolean;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04' && err.code !== '23505') throw err; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}

/** Resolve the database URL, starting the embedded server when needed. */
export async function resolveDatabaseUrl(config: ResolvedConfig): Promise<{ url: string; embedded: boolean }> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false };
  const server = await ensureEmbeddedPostgres(config.home);
  await ensureDatabase(server.url, 'weir');
  const url = new URL(server.url);
  url.pathname = '/weir';
  return { url: url.toString(), embedded: true };
}

export async function openDatabase(config: ResolvedConfig, options: OpenOptions = {}): Promise<Database> {
  const { url, embedded } = await resolveDatabaseUrl(config);
  return openDatabaseUrl(url, { ...options, migrate: options.migrate ?? embedded }, embedded);
}

export async function openDatabaseUrl(url: string, options: OpenOptions = {}, embedded = false): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: options.poolMax ?? 10, application_name: options.applicationName ?? 'weir' });
  pool.on('error', (err) => logger.warn({ err: toError(err).message }, 'idle database connection failed'));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new WeirError('db_unreachable', `cannot connect to PostgreSQL at ${maskUrl(url)}: ${toError(err).message}`, { exitCode: 2, cause: err });
  }
  if (options.migrate) await migrate(pool);
  else if (!options.skipVersionCheck) await assertMigrated(pool);
  let closed = false;
  return {
    url,
    pool,
    embedded,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Say at start-up how many connections this process may open and what the server
 * allows, so running out of connections is foreseen rather than met under load.
 * `parts` names each pool's maximum (e.g. `{ pool: 10, 'pg-boss': 6, LISTEN: 1 }`).
 */
export async function reportConnectionBudget(pool: pg.Pool, role: string, parts: Record<string, number>): Promise<void> {
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const described = Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', ');
  try {
    const { rows } = await pool.query<{ max: number; used: number; reserved: number }>(
      "SELECT current_setting('max_connections')::int AS max, (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS used, current_setting('superuser_reserved_connections')::int AS reserved",
    );
    const { max, used, reserved } = rows[0]!;
    const free = max - reserved - used;
    const fields = { role, connections_max: total, parts: described, server_max_connections: max, in_use: used, free };
    if (free < total) logger.warn(fields, `this ${role} may open up to ${total} database connections (${described}) but the server has ${free} free: raise max_connections or run fewer processes`);
    else logger.info(fields, `this ${role} may open up to ${total} database connections (${described}); the server allows ${max}, ${used} in use`);
  } catch (err) {
    logger.warn({ err: toError(err).message }, 'could not read the server\'s connection limit');
  }
}
