/**
 * Pools declared in DAG code (`pools: { quickbooks: 4 }`): created when missing by the
 * scheduler and by workers as they load the DAGs; an existing pool keeps its size (set by
 * `weir pools set`). Slots are counted where tries are claimed (claim_pooled.sql).
 */
import type pg from 'pg';
import type { DagGraph } from '../loader/graph.ts';
import { sql } from '../database/sql.ts';

export async function declarePools(db: pg.Pool, graphs: Iterable<DagGraph>): Promise<void> {
  const pools = new Map<string, number>();
  for (const g of graphs) for (const [name, slots] of Object.entries(g.dag.options.pools ?? {})) if (!pools.has(name)) pools.set(name, slots);
  if (pools.size) await db.query(sql('declare_pools'), [[...pools.keys()], [...pools.values()]]);
}
