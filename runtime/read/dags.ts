/** The read model of DAGs' own state in weir's database: whether each is paused. */
import type pg from 'pg';
import { sql } from '../database/sql.ts';

/** dag_id → paused, for every DAG weir has a row for (no row: not paused). */
export async function pausedDags(db: pg.Pool | pg.ClientBase): Promise<Map<string, boolean>> {
  const { rows } = await db.query<{ dag_id: string; is_paused: boolean }>(sql('paused_dags'));
  return new Map(rows.map((r) => [r.dag_id, r.is_paused]));
}
