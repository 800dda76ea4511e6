/**
 * The decider: every state change of runs and task instances, each a guarded
 * statement from sql/queries. Creating a run, admitting it under maxActiveRuns,
 * ending a try, and propagating outcomes to successors through trigger rules all
 * happen here, in the transaction that commits them. Zero rows from a guarded
 * statement means another process got there first: not an error.
 */
import crypto from 'node:crypto';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { evaluateTriggerRule } from '../authoring/trigger-rules.ts';
import type { DagGraph } from '../loader/graph.ts';
import { sql } from '../database/sql.ts';
import { ALERT_QUEUE, CANCEL_CHANNEL, TASK_QUEUE, enqueueTries, ensureQueue, bossDb } from '../queue.ts';
import { withTransaction } from './transaction.ts';
import { retryDelayMs } from './retry-delay.ts';
import { logger } from '../log.ts';
import type { TaskState, RunState } from '../states.ts';
import type { LogLine } from '../authoring/dag.ts';

export interface Engine {
  pool: pg.Pool;
  boss: PgBoss;
}

export type RunType = 'manual' | 'scheduled' | 'backfill' | 'test';

export interface RunSpec {
  runType: RunType;
  /** Validated params (defaults applied). */
  conf: Record<string, unknown>;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  /** Deterministic for scheduled runs; generated for manual ones. */
  runId?: string;
  queue?: string;
}

/** `manual__2026-11-23T13:20:00.123Z_1a2b`: Airflow's shape, with a suffix so two triggers in one millisecond differ. */
export function manualRunId(at: Date): string {
  return `manual__${at.toISOString()}_${crypto.randomBytes(2).toString('hex')}`;
}

function admissionLock(client: pg.PoolClient, dagId: string) {
  return client.query("SELECT pg_advisory_xact_lock(hashtext('weir.admit'), hashtext($1))", [dagId]);
}

/**
 * Create a run and its task instances; start its root tasks if the DAG has a free
 * slot under maxActiveRuns. Returns undefined when a scheduled/backfill run for
 * that logical date exists already.
 */
export async function createRun(engine: Engine, graph: DagGraph, spec: RunSpec): Promise<{ runId: string; admitted: boolean } | undefined> {
  const queue = spec.queue ?? TASK_QUEUE;
  await ensureQueue(engine.boss, queue);
  const runId = spec.runId ?? manualRunId(new Date());
  const tasks = graph.order.map((id) => graph.tasks.get(id)!);
  return withTransaction(engine.pool, async (client) => {
    const inserted = await client.query(sql('insert_run'), [
      runId, graph.dag.id, spec.runType, spec.logicalDate, spec.dataIntervalStart, spec.dataIntervalEnd,
      JSON.stringify(spec.conf), queue, tasks.length, graph.leaves,
    ]);
    if (!inserted.rowCount) return undefined;
    await client.query(sql('insert_task_instances'), [
      runId,
      tasks.map((t) => t.id),
      tasks.map((t) => t.retries),
      tasks.map((t) => t.triggerRule),
      tasks.map((t) => t.upstream.length),
    ]);
    const admitted = await admitRuns(engine, client, graph);
    return { runId, admitted: admitted.includes(runId) };
  });
}

/** Start queued runs of the DAG while it has free slots. Returns the run ids admitted. */
export async function admitRuns(engine: Engine, client: pg.PoolClient, graph: DagGraph): Promise<string[]> {
  await admissionLock(client, graph.dag.id);
  const { rows } = await client.query<{ run_id: string; queue: string }>(sql('admittable_runs'), [graph.dag.id, graph.dag.options.maxActiveRuns ?? 16]);
  const admitted: string[] = [];
  for (const row of rows) {
    const ok = await client.query(sql('admit_run'), [row.run_id]);
    if (!ok.rowCount) continue;
    admitted.push(row.run_id);
    // Roots, and `always` tasks which wait for nothing.
    const startNow = graph.order.filter((id) => {
      const t = graph.tasks.get(id)!;
      return t.upstream.length === 0 || t.triggerRule === 'always';
    });
    await queueTasks(engine, client, row.run_id, row.queue, startNow);
  }
  return admitted;
}

async function queueTasks(engine: Engine, client: pg.PoolClient, runId: string, queue: string, taskIds: string[]): Promise<void> {
  if (!taskIds.length) return;
  const { rows } = await client.query<{ task_id: string; try_number: number }>(sql('queue_task_instances'), [runId, taskIds]);
  await enqueueTries(engine.boss, client, queue, rows.map((r) => ({ runId, taskId: r.task_id, tryNumber: r.try_number + 1 })));
}

/**
 * Feed finished task instances to their successors, settle those whose trigger
 * rule is decided (queue, skip, upstream_failed) — transitively — and end the run
 * when nothing is left. Runs inside the caller's transaction.
 */
export async function propagate(
  engine: Engine,
  client: pg.PoolClient,
  graph: DagGraph,
  runId: string,
  queue: string,
  finished: { taskId: string; state: TaskState }[],
): Promise<RunState | undefined> {
  let frontier = finished;
  let finishedCount = finished.length;
  while (frontier.length) {
    const successors: string[] = [];
    const states: string[] = [];
    for (const f of frontier) {
      for (const down of graph.downstream.get(f.taskId) ?? []) {
        successors.push(down);
        states.push(f.state);
      }
    }
    if (!successors.length) break;
    const { rows } = await client.query<{
      task_id: string; trigger_rule: string; up_total: number; up_success: number; up_failed: number; up_skipped: number; up_upstream_failed: number;
    }>(sql('count_upstream_outcomes'), [runId, successors, states]);
    const toQueue: string[] = [];
    const toSkip: string[] = [];
    const toFail: string[] = [];
    for (const r of rows) {
      const decision = evaluateTriggerRule(r.trigger_rule as never, {
        total: r.up_total, success: r.up_success, failed: r.up_failed, skipped: r.up_skipped, upstreamFailed: r.up_upstream_failed,
      });
      if (decision === 'run') toQueue.push(r.task_id);
      else if (decision === 'skip') toSkip.push(r.task_id);
      else if (decision === 'upstream_failed') toFail.push(r.task_id);
    }
    await queueTasks(engine, client, runId, queue, toQueue);
    const next: { taskId: string; state: TaskState }[] = [];
    for (const [ids, state] of [[toSkip, 'skipped'], [toFail, 'upstream_failed']] as const) {
      if (!ids.length) continue;
      const settled = await client.query<{ task_id: string }>(sql('settle_without_running'), [runId, ids, state]);
      for (const r of settled.rows) next.push({ taskId: r.task_id, state });
    }
    finishedCount += next.length;
    frontier = next;
  }
  return countFinished(engine, client, graph, runId, finishedCount);
}

async function countFinished(engine: Engine, client: pg.PoolClient, graph: DagGraph, runId: string, n: number): Promise<RunState | undefined> {
  if (n === 0) return undefined;
  const { rows } = await client.query<{ unfinished: number }>(sql('count_finished'), [runId, n]);
  if (!rows.length || rows[0]!.unfinished > 0) return undefined;
  const ended = await client.query<{ state: RunState }>(sql('finish_run'), [runId]);
  if (!ended.rowCount) return undefined;
  const state = ended.rows[0]!.state;
  await client.query('SELECT pg_notify($1, $2)', ['weir_run', `${runId}:${state}`]);
  await admitRuns(engine, client, graph);
  return state;
}

export type TryOutcome =
  | { kind: 'success'; output: unknown }
  | { kind: 'skipped'; message: string }
  | { kind: 'failed'; error: Error; retryable: boolean };

export interface EndTryInput {
  runId: string;
  taskId: string;
  tryNumber: number;
  maxTries: number;
  queue: string;
  outcome: TryOutcome;
  logs: LogLine[];
}

export interface EndTryResult {
  /** False when the try had been cancelled, cleared or declared lost meanwhile. */
  recorded: boolean;
  state?: TaskState;
  runState?: RunState;
  retryInMs?: number;
}

/**
 * Record the end of a try and everything that follows from it, in one transaction:
 * the task's state (success, skipped, up_for_retry with the next try enqueued after
 * its backoff, or failed), its successors, the run's end, and a failure alert.
 */
export async function endTry(engine: Engine, graph: DagGraph, input: EndTryInput): Promise<EndTryResult> {
  const task = graph.tasks.get(input.taskId)!;
  const { outcome } = input;
  let state: TaskState;
  let output: string | null = null;
  let error: string | null = null;
  let stack: string | null = null;
  if (outcome.kind === 'success') {
    state = 'success';
    output = JSON.stringify(outcome.output ?? null);
  } else if (outcome.kind === 'skipped') {
    state = 'skipped';
    error = outcome.message;
  } else {
    // Airflow's rule: retry while try_number <= max_tries (max_tries = retries).
    state = outcome.retryable && input.tryNumber <= input.maxTries ? 'up_for_retry' : 'failed';
    error = outcome.error.message;
    stack = outcome.error.stack ?? null;
  }
  return withTransaction(engine.pool, async (client) => {
    const ended = await client.query(sql('end_try'), [
      input.runId, input.taskId, input.tryNumber, state, output, error, stack, JSON.stringify(input.logs),
    ]);
    if (!ended.rowCount) {
      logger.info({ dag_id: graph.dag.id, run_id: input.runId, task_id: input.taskId, try_number: input.tryNumber }, 'try result dropped: the task instance moved on (cancelled, cleared or declared lost)');
      return { recorded: false };
    }
    if (state === 'up_for_retry') {
      const delay = retryDelayMs(task, input.tryNumber + 1);
      await enqueueTries(engine.boss, client, input.queue, [{ runId: input.runId, taskId: input.taskId, tryNumber: input.tryNumber + 1 }], new Date(Date.now() + delay));
      if (task.emailOnRetry) await enqueueAlert(engine, client, graph, input, 'task_retry', error);
      return { recorded: true, state, retryInMs: delay };
    }
    if (state === 'failed' && (graph.dag.options.emailOnFailure ?? true) && graph.dag.options.alertRecipients?.length) {
      await enqueueAlert(engine, client, graph, input, 'task_failure', error);
    }
    const runState = await propagate(engine, client, graph, input.runId, input.queue, [{ taskId: input.taskId, state }]);
    return { recorded: true, state, runState };
  });
}

/** Alerts travel through their own queue with retries, so an SMTP outage delays an alert but never drops it. */
async function enqueueAlert(engine: Engine, client: pg.PoolClient, graph: DagGraph, input: EndTryInput, kind: 'task_failure' | 'task_retry', error: string | null): Promise<void> {
  await ensureQueue(engine.boss, ALERT_QUEUE);
  await engine.boss.send(
    ALERT_QUEUE,
    {
      kind,
      dagId: graph.dag.id,
      runId: input.runId,
      taskId: input.taskId,
      tryNumber: input.tryNumber,
      error,
      logTail: input.logs.slice(-20),
      recipients: graph.dag.options.alertRecipients ?? [],
    },
    { db: bossDb(client), retryLimit: 20, retryDelay: 30, retryBackoff: true, retryDelayMax: 900 },
  );
}

/**
 * Cancel a run (Airflow's "mark failed"): running tries fail and are aborted
 * through their signal, tasks not started yet are skipped, the run is failed.
 */
export async function cancelRun(engine: Engine, graph: DagGraph | undefined, runId: string): Promise<boolean> {
  return withTransaction(engine.pool, async (client) => {
    const run = await client.query("UPDATE weir.dag_run SET state = 'failed', end_date = now(), note = 'cancelled' WHERE run_id = $1 AND state IN ('queued', 'running') RETURNING dag_id", [runId]);
    if (!run.rowCount) return false;
    await client.query(
      `UPDATE weir.task_instance SET
         state = CASE WHEN state = 'running' THEN 'failed'::weir.ti_state ELSE 'skipped'::weir.ti_state END,
         end_date = now(), heartbeat_at = NULL
       WHERE run_id = $1 AND state IN ('none', 'scheduled', 'queued', 'running', 'up_for_retry')`,
      [runId],
    );
    await client.query('UPDATE weir.dag_run SET unfinished = 0 WHERE run_id = $1', [runId]);
    await client.query('SELECT pg_notify($1, $2)', [CANCEL_CHANNEL, runId]);
    await client.query('SELECT pg_notify($1, $2)', ['weir_run', `${runId}:failed`]);
    if (graph) await admitRuns(engine, client, graph);
    return true;
  });
}

/**
 * Clear a run (`weir clear`): the failed tasks (or all, without `onlyFailed`) and
 * everything downstream of them go back to `none` and run again, with their retries
 * renewed; the run is running again.
 */
export async function clearRun(engine: Engine, graph: DagGraph, runId: string, onlyFailed: boolean): Promise<string[]> {
  return withTransaction(engine.pool, async (client) => {
    const run = await client.query<{ queue: string; state: RunState }>('SELECT queue, state FROM weir.dag_run WHERE run_id = $1 FOR UPDATE', [runId]);
    if (!run.rowCount) return [];
    const { rows } = await client.query<{ task_id: string; state: TaskState }>('SELECT task_id, state FROM weir.task_instance WHERE run_id = $1', [runId]);
    const states = new Map(rows.map((r) => [r.task_id, r.state]));
    if ([...states.values()].some((s) => s === 'running' || s === 'queued' || s === 'up_for_retry')) {
      throw new (await import('../errors.ts')).InputError('run_active', `run ${runId} still has tasks queued or running; wait for it to finish or cancel it first (weir runs cancel ${runId})`);
    }
    const reset = new Set<string>();
    const addWithDownstream = (id: string) => {
      if (reset.has(id)) return;
      reset.add(id);
      for (const d of graph.downstream.get(id) ?? []) addWithDownstream(d);
    };
    for (const [id, s] of states) {
      if (!onlyFailed || s === 'failed' || s === 'upstream_failed') addWithDownstream(id);
    }
    if (!reset.size) return [];
    const ids = [...reset];
    await client.query(
      `UPDATE weir.task_instance t SET state = 'none', output = NULL, start_date = NULL, end_date = NULL, duration_ms = NULL,
         max_tries = t.try_number + t2.retries, up_success = 0, up_failed = 0, up_skipped = 0, up_upstream_failed = 0
       FROM unnest($2::text[], $3::int[]) AS t2(task_id, retries)
       WHERE t.run_id = $1 AND t.task_id = t2.task_id`,
      [runId, ids, ids.map((id) => graph.tasks.get(id)?.retries ?? 0)],
    );
    await client.query("UPDATE weir.dag_run SET state = 'running', end_date = NULL, note = NULL, admitted = true, unfinished = $2 WHERE run_id = $1", [runId, ids.length]);
    // Outcomes of upstream tasks that stay as they were count again for the cleared ones.
    const kept: { taskId: string; state: TaskState }[] = [];
    for (const [id, s] of states) {
      if (!reset.has(id) && (graph.downstream.get(id) ?? []).some((d) => reset.has(d))) kept.push({ taskId: id, state: s });
    }
    const roots = ids.filter((id) => {
      const t = graph.tasks.get(id);
      return t && (t.upstream.length === 0 || t.triggerRule === 'always');
    });
    await queueTasks(engine, client, runId, run.rows[0]!.queue, roots);
    // The kept upstream tasks are already counted as finished: feed them without counting again.
    await propagateWithoutCounting(engine, client, graph, runId, run.rows[0]!.queue, kept);
    return ids;
  });
}

async function propagateWithoutCounting(engine: Engine, client: pg.PoolClient, graph: DagGraph, runId: string, queue: string, kept: { taskId: string; state: TaskState }[]): Promise<void> {
  if (!kept.length) return;
  // propagate() counts `finished.length` as newly finished; compensate for the kept ones.
  await client.query('UPDATE weir.dag_run SET unfinished = unfinished + $2 WHERE run_id = $1', [runId, kept.length]);
  await propagate(engine, client, graph, runId, queue, kept);
}
