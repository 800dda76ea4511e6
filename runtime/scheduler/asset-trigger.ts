/**
 * Data-aware runs (a DAG's `trigger.assets`, Airflow's asset schedules): the schedulers
 * register which DAG waits for which asset; a successful try of a task that `produces` an
 * asset queues an event for each consumer (engine/runs.ts endTries, in its commit); and a
 * consumer's queue becomes one run when every asset it waits for has an event in it. The
 * queue rows are deleted in the transaction that creates the run, locked against a second
 * scheduler, so each event starts at most one run of each consumer and none is lost.
 */
import type pg from 'pg';
import type { DagGraph } from '../loader/graph.ts';
import { createRunsWith, type Engine } from '../engine/runs.ts';
import { validateParams } from '../engine/params.ts';
import { sql } from '../database/sql.ts';

/** Record which of `graphs` consume which assets (replacing what these DAGs registered before). */
export async function registerAssetConsumers(pool: pg.Pool, graphs: DagGraph[]): Promise<void> {
  const pairs = graphs.flatMap((g) => (g.options.assetTrigger ?? []).map((a) => [g.dag.id, a] as const));
  await pool.query(sql('register_asset_consumers'), [graphs.map((g) => g.dag.id), pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
}

interface Consumed {
  asset: string;
  event_id: string;
  producer_dag_id: string;
  producer_run_id: string;
  producer_task_id: string;
}

/** The run id of an asset run: from the oldest event it consumed, which no other run of the DAG consumes. */
export const assetRunId = (dagId: string, firstEventId: string) => `asset__${dagId}__${firstEventId}`;

/** Create the DAG's asset run if every asset it waits for has a queued event; returns its id. */
export async function createAssetRun(engine: Engine, graph: DagGraph): Promise<string | undefined> {
  const assets = graph.options.assetTrigger;
  if (!assets?.length) return undefined;
  const { created } = await createRunsWith(engine, graph, async (tx) => {
    const { rows } = await tx.query<Consumed>(sql('consume_asset_queue'), [graph.dag.id, assets]);
    if (!rows.length) return [];
    const at = new Date();
    // Per asset: its newest event's producer, and how many events the run takes.
    const byAsset = new Map<string, { last: Consumed; events: number }>();
    for (const r of rows) byAsset.set(r.asset, { last: r, events: (byAsset.get(r.asset)?.events ?? 0) + 1 });
    const note = `assets ${[...byAsset.values()].map(({ last, events }) => `${last.asset} (from ${last.producer_dag_id} ${last.producer_run_id}${events > 1 ? `, ${events} events` : ''})`).join(', ')}`;
    return [{ runType: 'asset', runId: assetRunId(graph.dag.id, rows[0]!.event_id), conf: validateParams(graph.dag, {}), logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, note }];
  });
  return created[0];
}
