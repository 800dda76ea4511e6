/**
 * A DAG's state between runs (weir.dag_state): read by `ctx.state.get` from task code and
 * by `weir state`; written with a try's success (engine/runs.ts endTries) or by
 * `weir state set`.
 */
import type pg from 'pg';
import { sql } from '../database/sql.ts';
import { findUnstorable } from '../storable.ts';

/** The largest state value kept, as JSON text. */
export const MAX_STATE_BYTES = 64 * 1024;

/**
 * A state write as stored: the key checked, the value as JSON text (null: `undefined`,
 * which deletes the key); or why it cannot be stored. Task code and `weir state set` both
 * go through it.
 */
export function stateEntry(key: unknown, value: unknown): { key: string; text: string | null } | { problem: string } {
  if (typeof key !== 'string' || !/^[^\u0000]{1,200}$/.test(key)) return { problem: 'a state key must be a string of 1 to 200 characters without NUL' };
  if (value === undefined) return { key, text: null };
  const unstorable = findUnstorable(value);
  if (unstorable) return { problem: `state "${key}": the value holds ${unstorable}` };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    return { problem: `state "${key}": the value is not JSON (${(err as Error).message})` };
  }
  if (text === undefined) return { problem: `state "${key}": the value is not JSON` };
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_STATE_BYTES) return { problem: `state "${key}" is ${bytes} bytes of JSON, over the ${MAX_STATE_BYTES} a state value may hold; keep large data in a table` };
  return { key, text };
}

export interface StateRow {
  key: string;
  value: unknown;
  updated_at: Date;
  updated_by: string;
}

export async function listDagState(pool: pg.Pool, dagId: string, key?: string): Promise<StateRow[]> {
  return (await pool.query<StateRow>(sql('get_dag_state'), [dagId, key ?? null])).rows;
}

/** One key as task code reads it, on weir's own database (a one-connection pool for the call). */
export async function readDagState(dagId: string, key: string): Promise<StateRow | undefined> {
  const { withWeirDatabase } = await import('../../tasks/postgres.ts');
  return withWeirDatabase('state', async (pool) => (await listDagState(pool, dagId, key))[0]);
}

/** Write keys (JSON text; null deletes): with a try's success (in its transaction), or by `weir state set`. */
export async function writeDagState(db: pg.Pool | pg.ClientBase, dagId: string, writes: [string, string | null][], by: string): Promise<void> {
  await db.query(sql('set_dag_state'), [dagId, writes.map((w) => w[0]), writes.map((w) => w[1]), by]);
}
