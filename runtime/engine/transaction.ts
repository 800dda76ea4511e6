import type pg from 'pg';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';

/** A pool (a client is borrowed for the transaction) or a client already held. */
export type Queryable = pg.Pool | pg.ClientBase;

export function isPool(db: Queryable): db is pg.Pool {
  // instanceof alone fails when two copies of pg are loaded; a pool is the one with totalCount.
  return 'totalCount' in db;
}

/**
 * Run `fn` in a transaction; rolls back on any throw. On a pool, a client is
 * borrowed for it and released afterwards; on a client, it runs on that client.
 */
export async function withTransaction<T>(db: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
export async function withTransaction<T>(db: Queryable, fn: (client: pg.ClientBase) => Promise<T>): Promise<T>;
export async function withTransaction<T>(db: Queryable, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const pooled = isPool(db);
  const client = (pooled ? await db.connect() : db) as pg.PoolClient;
  // pg-pool removes its own 'error' listener while a client is checked out: without this
  // one, a connection dropped mid-transaction (a database restart) crashes the process.
  const onError = (err: Error) => logger.warn({ err: toError(err).message }, 'database connection lost during a transaction');
  if (pooled) client.on('error', onError);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection-level error (no SQLSTATE) leaves the client unusable: it is destroyed, not pooled.
    if (typeof (err as { code?: unknown }).code !== 'string') broken = toError(err);
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    if (pooled) {
      client.off('error', onError);
      client.release(broken);
    }
  }
}
