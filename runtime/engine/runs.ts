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
import type { TriggerDecision } from '../authoring/trigger-rules.ts';
import { parseInstanceId, taskOf, type DagGraph } from '../loader/graph.ts';
import { sql, sqlText } from '../database/sql.ts';
import { ALERT_QUEUE, DEFAULT_TASK_QUEUE, TASK_QUEUE, enqueueTries, ensureQueue, bossDb, jobQueue, type TaskJobData } from '../queue.ts';
import { withTransaction } from './transaction.ts';
import { writeDagState } from './state.ts';
import { retryDelayMs } from './retry-delay.ts';
import { logger } from '../log.ts';
import { RUN_FINISHED, RUN_UNFINISHED, TASK_FAILED, TASK_FINISHED, TASK_UNFINISHED, stateList, type TaskState, type RunState } from '../states.ts';
import { InputError, toError } from '../errors.ts';
import { retryTransient } from '../database/transient.ts';
import type { LogLine, QueuedEmail, QueuedNotification } from '../authoring/dag.ts';

export interface Engine {
  pool: pg.Pool;
  boss: PgBoss;
  /** First retry delay of an alert that could not be sent (ResolvedConfig.alertRetryDelayS). */
  alertRetryDelayS: number;
}

export type RunType = 'manual' | 'scheduled' | 'backfill' | 'test' | 'file' | 'asset';

export interface RunSpec {
  runType: RunType;
  /** Validated params (defaults applied). */
  conf: Record<string, unknown>;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  /** Deterministic for scheduled runs; generated for manual ones unless given. */
  runId?: string;
  queue?: string;
  /** A note on the run (Airflow's `note`), e.g. why it was triggered. */
  note?: string;
}

/** `manual__2026-11-23T13:20:00.123Z_1a2b`: Airflow's shape, with a suffix so two triggers in one millisecond differ. */
export function manualRunId(at: Date): string {
  return `manual__${at.toISOString()}_${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * Admission is exact because it runs under the DAG's advisory lock, and no transaction
 * ever waits for that lock while holding anything else. A trigger, a run's end or a
 * cancel admits inside its own transaction only if the lock is free. Its snapshot cannot
 * see what commits concurrently (another trigger's waiting run, another end's freed
 * slot), so after its commit it asks admission_needed (no lock) when it may have left a
 * waiting run and a free slot side by side: a trigger whose runs are not all admitted, an
 * end or cancel that found the lock busy or left slots free. Whichever of two concurrent
 * commits comes second sees both, and admits under the lock (admitAfterCommit).
 */
/** Admit under the lock if it is free. The DAG goes to `later` when the lock was busy or slots stay free. */
async function admitIfFree(engine: Engine, client: pg.PoolClient, graph: DagGraph, later: Map<string, DagGraph>, slots?: LocalClaim, claimed?: LocallyClaimed[]): Promise<string[]> {
  const { rows } = await client.query<{ got: boolean }>(sql('try_admission_lock'), [graph.dag.id]);
  if (!rows[0]!.got) {
    later.set(graph.dag.id, graph);
    return [];
  }
  const { admitted, free } = await admitLocked(engine, client, graph, slots, claimed);
  if (free > 0) later.set(graph.dag.id, graph);
  return admitted;
}

/**
 * Start queued runs of the DAG while it has free slots (the caller holds the DAG's
 * admission lock). Their first tasks go to the finishing worker while it has room
 * (`slots`, claimed into `claimed`), to the queue otherwise.
 */
async function admitLocked(engine: Engine, client: pg.PoolClient, graph: DagGraph, slots?: LocalClaim, claimed?: LocallyClaimed[]): Promise<{ admitted: string[]; free: number }> {
  // Each admitted run comes with the tasks it starts with (roots and `always` tasks), from its own shape.
  const { rows } = await client.query<{ run_id: string | null; queue: string; task_id: string; free: number | null }>(sqlText('admit_runs'), [graph.dag.id, graph.options.maxActiveRuns, stateList(RUN_UNFINISHED)]);
  const tasks = rows.filter((r) => r.run_id !== null) as { run_id: string; queue: string; task_id: string }[];
  const free = rows.find((r) => r.run_id === null)?.free ?? 0;
  if (!tasks.length) return { admitted: [], free };
  const runs = new Map(tasks.map((r) => [r.run_id, { graph, queue: r.queue }]));
  await startTasks(engine, client, runs, tasks.map((r) => ({ runId: r.run_id, taskId: r.task_id })), slots, claimed ?? []);
  return { admitted: [...runs.keys()], free };
}

/**
 * After a commit: for each DAG that now has a run waiting and a slot free (admission_needed,
 * read without the lock), admit in a transaction of its own that waits for the lock, one
 * DAG at a time in a fixed order. Never throws: transient errors are retried, and if
 * admission still fails, the runs wait until the next trigger or run end of that DAG
 * admits them (logged). The admitted runs' first tasks go to the caller while it has room
 * (`slots`, claimed into `claimed`), to the queue otherwise. Returns the run ids admitted.
 */
export async function admitAfterCommit(engine: Engine, later: Map<string, DagGraph>, slots?: LocalClaim, claimed?: LocallyClaimed[]): Promise<string[]> {
  const admitted: string[] = [];
  for (const dagId of [...later.keys()].sort()) {
    const graph = later.get(dagId)!;
    const params = [dagId, graph.options.maxActiveRuns, stateList(RUN_UNFINISHED)];
    try {
      admitted.push(...await retryTransient('admit runs', async () => {
        const { rows } = await engine.pool.query<{ needed: boolean }>(sqlText('admission_needed'), params);
        if (!rows[0]!.needed) return [];
        // Claimed into a list of its own first: a rolled-back attempt claimed nothing.
        const mine: LocallyClaimed[] = [];
        const capacity = slots?.capacity;
        try {
          const got = await withTransaction(engine.pool, async (tx) => {
            await tx.query(sql('admission_lock'), [dagId]);
            return (await admitLocked(engine, tx, graph, slots, mine)).admitted;
          });
          claimed?.push(...mine);
          return got;
        } catch (err) {
          if (slots && capacity !== undefined) slots.capacity = capacity;
          throw err;
        }
      }));
    } catch (err) {
      logger.error({ dag_id: dagId, err: toError(err).message }, 'admitting queued runs failed; they wait until the next trigger or run end of this DAG admits them');
    }
  }
  return admitted;
}

/**
 * Create a run and its task instances; start its root tasks if the DAG has a free
 * slot under maxActiveRuns. Returns undefined when a scheduled/backfill run for
 * that logical date exists already.
 */
export async function createRun(engine: Engine, graph: DagGraph, spec: RunSpec): Promise<{ runId: string; admitted: boolean } | undefined> {
  const { created, admitted } = await createRuns(engine, graph, [spec]);
  const runId = created[0];
  return runId ? { runId, admitted: admitted.includes(runId) } : undefined;
}

/** Runs created at once (one call, or one backfill) past which dag_run's statistics are refreshed. */
export const BULK_RUNS = 1000;

/**
 * ANALYZE dag_run and task_instance, as PostgreSQL advises after a bulk load. Plans made
 * for the tables as they were before are cached by every connection until statistics
 * change: before 50,000 new runs, admission sorted all of them on every call (65 ms
 * instead of 0.1 ms, measured); before 2,500 new task instances on a new database, each
 * step's statement scanned task_instance whole for every successor (55 ms instead of
 * 1 ms), until autovacuum caught up a minute later.
 */
export async function refreshRunStatistics(engine: Engine): Promise<void> {
  await engine.pool.query('ANALYZE weir.dag_run, weir.task_instance');
}

/** A creation adding at least this share of the task instances the statistics know of refreshes them (and at least 100). */
const STATISTICS_GROWTH = 0.2;

/** After creating runs: refresh the statistics if they are bulk (BULK_RUNS), or large next to what the statistics know. */
async function refreshStatisticsAfter(engine: Engine, runs: number, instances: number): Promise<void> {
  if (runs < BULK_RUNS) {
    if (instances < 100) return;
    const { rows } = await engine.pool.query<{ known: number }>(sql('known_task_instances'));
    if (instances < STATISTICS_GROWTH * rows[0]!.known) return;
  }
  await refreshRunStatistics(engine);
}

/**
 * Create many runs of one DAG in one transaction (backfill, bulk triggers). Runs
 * whose logical date is taken already (scheduled/backfill) are skipped; the rest
 * are admitted oldest first while the DAG has free slots.
 */
export async function createRuns(engine: Engine, graph: DagGraph, specs: RunSpec[]): Promise<{ created: string[]; admitted: string[] }> {
  if (!specs.length) return { created: [], admitted: [] };
  return createRunsWith(engine, graph, async () => specs);
}

/**
 * createRuns with the runs decided inside its transaction: `decide` reads (and may
 * change) what the runs come from under the same commit, such as the asset events a
 * run consumes; it returns no specs when no run is due.
 */
export async function createRunsWith(engine: Engine, graph: DagGraph, decide: (tx: pg.PoolClient) => Promise<RunSpec[]>): Promise<{ created: string[]; admitted: string[] }> {
  const now = new Date();
  const tasks = graph.order.map((id) => graph.tasks.get(id)!);
  const result = await withTransaction(engine.pool, async (tx) => {
    const specs = await decide(tx);
    if (!specs.length) return { created: [] as string[], admitted: [] as string[] };
    const queues = new Set(specs.map((s) => s.queue ?? TASK_QUEUE));
    if (queues.size > 1) throw new Error('createRuns: all runs of one call share a queue');
    const queue = [...queues][0]!;
    const runType = specs[0]!.runType;
    await ensureQueue(engine.boss, queue);
    const ids = specs.map((s) => s.runId ?? manualRunId(now));
    const inserted = await tx.query<{ run_id: string }>(sql('insert_runs'), [
      graph.dag.id, runType, queue, tasks.length, graph.leaves, graph.hash, graph.relativeFile,
      ids, specs.map((s) => s.logicalDate), specs.map((s) => s.dataIntervalStart), specs.map((s) => s.dataIntervalEnd), specs.map((s) => JSON.stringify(s.conf)),
      tasks.map((t) => t.id), tasks.map((t) => t.retries), tasks.map((t) => t.triggerRule), tasks.map((t) => t.upstream.length),
      tasks.map((t) => JSON.stringify(graph.downstream.get(t.id) ?? [])), specs.map((s) => s.note ?? null),
      tasks.map((t) => t.mapOver ?? null),
    ]);
    const created = inserted.rows.map((r) => r.run_id);
    if (!created.length) return { created, admitted: [] as string[] };
    // Whether the lock was busy or not, runs left waiting are looked at again after the commit.
    return { created, admitted: await admitIfFree(engine, tx, graph, new Map()) };
  });
  await refreshStatisticsAfter(engine, result.created.length, result.created.length * tasks.length);
  // Runs left waiting may meet a slot freed by an end that committed meanwhile; another
  // transaction's admission may have taken them too, so the answer is read back.
  if (result.admitted.length < result.created.length) {
    await admitAfterCommit(engine, new Map([[graph.dag.id, graph]]));
    const { rows } = await engine.pool.query<{ run_id: string }>(sql('admitted_of'), [result.created]);
    result.admitted = rows.map((r) => r.run_id);
  }
  return result;
}

interface RunRef {
  graph: DagGraph;
  queue: string;
}
interface Finished {
  runId: string;
  taskId: string;
  state: TaskState;
  /** The task instance's successors in its run (the run's own shape). */
  downstream: string[];
}
interface CounterRow {
  run_id: string;
  task_id: string;
  trigger_rule: string;
  up_total: number;
  up_success: number;
  up_failed: number;
  up_skipped: number;
  up_upstream_failed: number;
  /** The trigger rule's decision on these counters (weir.trigger_decision, the rule table's one home). */
  decision: TriggerDecision;
}

/** The finishing worker takes up to `capacity` tasks itself (eager dispatch), of runs on the queue it works. */
export interface LocalClaim {
  capacity: number;
  hostname: string;
  queue: string;
  /** The task queues the finishing worker works (`weir worker --queues`): it takes only their tasks itself. */
  taskQueues: ReadonlySet<string>;
}

/** A task claimed by the finishing worker (a successor, or the first task of a run its end admitted): `running` already, on this try. */
export interface LocallyClaimed {
  runId: string;
  taskId: string;
  tryNumber: number;
  maxTries: number;
  /** What running it needs from its run. */
  run: { dagId: string; conf: Record<string, unknown>; logicalDate: Date; dataIntervalStart: Date; dataIntervalEnd: Date; queue: string };
}

interface ClaimLocalRow {
  run_id: string;
  task_id: string;
  try_number: number;
  max_tries: number;
  dag_id: string;
  conf: Record<string, unknown>;
  logical_date: Date;
  data_interval_start: Date;
  data_interval_end: Date;
  queue: string;
}

/**
 * Whether the finishing worker may take this task of this run itself. Pooled tasks go
 * through the queue: their slots are counted where tries are claimed (claim_pooled.sql).
 * So do tasks of a queue the finishing worker does not work, and tasks of runs on
 * another run queue (a `dags test` run has a private one).
 */
function mayClaimLocally(run: RunRef, taskId: string, slots: LocalClaim): boolean {
  const task = taskOf(run.graph, taskId);
  return run.queue === slots.queue && !task?.pool && slots.taskQueues.has(task?.queue ?? DEFAULT_TASK_QUEUE);
}

function toLocallyClaimed(g: ClaimLocalRow): LocallyClaimed {
  return {
    runId: g.run_id, taskId: g.task_id, tryNumber: g.try_number, maxTries: g.max_tries,
    run: { dagId: g.dag_id, conf: g.conf, logicalDate: g.logical_date, dataIntervalStart: g.data_interval_start, dataIntervalEnd: g.data_interval_end, queue: g.queue },
  };
}

/** none -> running on the finishing worker for up to `local.capacity` of `pairs`; returns what it got (claim_local.sql). */
async function claimLocally(client: pg.PoolClient, local: LocalClaim, pairs: { runId: string; taskId: string }[]): Promise<LocallyClaimed[]> {
  const mine = pairs.slice(0, Math.max(0, local.capacity));
  if (!mine.length) return [];
  const { rows } = await client.query<ClaimLocalRow>(sql('claim_local'), [mine.map((m) => m.runId), mine.map((m) => m.taskId), local.hostname]);
  local.capacity -= rows.length;
  return rows.map(toLocallyClaimed);
}

/**
 * Start (run, task) pairs that may run: the finishing worker takes what it has room for
 * (`slots`, claimed into `claimed`), of runs on its own queue (a `dags test` run has a
 * private one); the rest are queued.
 */
async function startTasks(engine: Engine, client: pg.PoolClient, runs: Map<string, RunRef>, pairs: { runId: string; taskId: string }[], slots: LocalClaim | undefined, claimed: LocallyClaimed[]): Promise<void> {
  const local = (p: { runId: string; taskId: string }) => mayClaimLocally(runs.get(p.runId)!, p.taskId, slots!);
  const mine = slots ? await claimLocally(client, slots, pairs.filter(local)) : [];
  claimed.push(...mine);
  const taken = new Set(mine.map((m) => `${m.runId}\u0000${m.taskId}`));
  await queuePairs(engine, client, runs, pairs.filter((p) => !taken.has(`${p.runId}\u0000${p.taskId}`)));
}

/** The pg-boss queue a try of this task instance goes to: its run's, or its task's own (TaskOptions.queue). */
function pairQueue(runs: Map<string, RunRef>, p: { runId: string; taskId: string }): string {
  const run = runs.get(p.runId)!;
  return jobQueue(run.queue, taskOf(run.graph, p.taskId)?.queue);
}

/** none -> queued for (run, task) pairs, with one pg-boss job per try, per queue. */
async function queuePairs(engine: Engine, client: pg.PoolClient, runs: Map<string, RunRef>, pairs: { runId: string; taskId: string }[]): Promise<void> {
  if (!pairs.length) return;
  const byQueue = new Map<string, { runId: string; taskId: string }[]>();
  for (const p of pairs) {
    const queue = pairQueue(runs, p);
    byQueue.set(queue, [...(byQueue.get(queue) ?? []), p]);
  }
  for (const [queue, mine] of byQueue) {
    await ensureQueue(engine.boss, queue);
    const { rows } = await client.query<{ run_id: string; task_id: string; try_number: number }>(sql('queue_task_instances'), [mine.map((p) => p.runId), mine.map((p) => p.taskId), queue]);
    await enqueueTries(engine.boss, client, queue, rows.map((r) => ({ dagId: runs.get(r.run_id)!.graph.dag.id, runId: r.run_id, taskId: r.task_id, tryNumber: r.try_number + 1 })), undefined, false);
  }
}

export interface PropagateResult {
  /** Runs that ended in this transaction. */
  ended: Map<string, RunState>;
  claimed: LocallyClaimed[];
}

/**
 * Feed finished task instances (of any runs) to their successors, settle those
 * whose trigger rule is decided (run, skip, upstream_failed) — transitively — and
 * end runs with nothing left, admitting queued runs into the freed slots. Runs in
 * the caller's transaction. Successors to run go to the finishing worker while it
 * has room (`local`), to the queue otherwise.
 */
export async function propagate(
  engine: Engine,
  client: pg.PoolClient,
  runs: Map<string, RunRef>,
  finished: Finished[],
  local: LocalClaim | undefined,
  counted: { counters: CounterRow[]; unfinished: Map<string, number> } | undefined,
  later: Map<string, DagGraph>,
): Promise<PropagateResult> {
  let frontier = finished;
  let precounted = counted?.counters;
  const finishedPerRun = new Map<string, number>();
  const countFinished = (list: Finished[]) => {
    for (const f of list) finishedPerRun.set(f.runId, (finishedPerRun.get(f.runId) ?? 0) + 1);
  };
  // end_tries already counted its own tries (and their successors' counters).
  if (!counted) countFinished(finished);
  // Consumed by successors first, then by the first tasks of runs admitted into freed slots.
  const slots = local ? { ...local } : undefined;
  const claimed: LocallyClaimed[] = [];
  while (frontier.length || precounted) {
    const runIds: string[] = [];
    const successors: string[] = [];
    const states: string[] = [];
    for (const f of frontier) {
      for (const down of f.downstream) {
        runIds.push(f.runId);
        successors.push(down);
        states.push(f.state);
      }
    }
    let rows: CounterRow[];
    if (precounted) {
      rows = precounted;
      precounted = undefined;
    } else {
      if (!successors.length) break;
      rows = (await client.query<CounterRow>(sql('count_upstream_outcomes'), [runIds, successors, states])).rows;
    }
    const toRun: { runId: string; taskId: string }[] = [];
    const toSettle: { runId: string; taskId: string; state: TaskState }[] = [];
    for (const r of rows) {
      const decision = r.decision;
      if (decision === 'run') toRun.push({ runId: r.run_id, taskId: r.task_id });
      else if (decision === 'skip') toSettle.push({ runId: r.run_id, taskId: r.task_id, state: 'skipped' });
      else if (decision === 'upstream_failed') toSettle.push({ runId: r.run_id, taskId: r.task_id, state: 'upstream_failed' });
    }
    const { ready, empty } = await expandMapped(client, runs, toRun);
    toSettle.push(...empty.map((e) => ({ ...e, state: 'skipped' as const })));
    await startTasks(engine, client, runs, ready, slots, claimed);
    let next: Finished[] = [];
    if (toSettle.length) {
      const settled = await client.query<{ run_id: string; task_id: string; state: TaskState; downstream: string[] }>(sql('settle_without_running'), [
        toSettle.map((t) => t.runId), toSettle.map((t) => t.taskId), toSettle.map((t) => t.state),
      ]);
      next = settled.rows.map((r) => ({ runId: r.run_id, taskId: r.task_id, state: r.state, downstream: r.downstream }));
    }
    countFinished(next);
    frontier = next;
  }
  const ended = await finishRuns(engine, client, runs, finishedPerRun, counted?.unfinished, later, slots, claimed);
  return { ended, claimed };
}

/**
 * Ready mapped tasks become their instances (expand_mapped.sql), which start at once: they
 * inherit the counters that made their template ready. A template whose list is empty is
 * returned to be skipped. Only runs of DAGs with a mapped task pay the round trip.
 */
async function expandMapped(client: pg.PoolClient, runs: Map<string, RunRef>, toRun: { runId: string; taskId: string }[]): Promise<{ ready: { runId: string; taskId: string }[]; empty: { runId: string; taskId: string }[] }> {
  const candidates = toRun.filter((p) => taskOf(runs.get(p.runId)!.graph, p.taskId)?.mapOver !== undefined);
  if (!candidates.length) return { ready: toRun, empty: [] };
  const { rows } = await client.query<{ kind: 'instance' | 'empty'; run_id: string; task_id: string }>(sql('expand_mapped'), [candidates.map((c) => c.runId), candidates.map((c) => c.taskId)]);
  const instances = rows.filter((r) => r.kind === 'instance').map((r) => ({ runId: r.run_id, taskId: r.task_id }));
  const empty = rows.filter((r) => r.kind === 'empty').map((r) => ({ runId: r.run_id, taskId: r.task_id }));
  // What the statement did not expand or skip starts as it is: tasks that are not mapped, and
  // candidates that are not templates (an instance made ready again by a clear, a run of an older shape).
  const expanded = new Set(rows.map((r) => `${r.run_id}\u0000${parseInstanceId(r.task_id).taskId}`));
  const plain = toRun.filter((p) => !expanded.has(`${p.runId}\u0000${p.taskId}`));
  return { ready: [...plain, ...instances], empty };
}

async function finishRuns(
  engine: Engine, client: pg.PoolClient, runs: Map<string, RunRef>, finishedPerRun: Map<string, number>, known: Map<string, number> | undefined,
  later: Map<string, DagGraph>, slots: LocalClaim | undefined, claimed: LocallyClaimed[],
): Promise<Map<string, RunState>> {
  const ended = new Map<string, RunState>();
  const unfinished = new Map(known ?? []);
  if (finishedPerRun.size) {
    const ids = [...finishedPerRun.keys()];
    const { rows } = await client.query<{ run_id: string; unfinished: number }>(sql('count_finished'), [ids, ids.map((id) => finishedPerRun.get(id)!)]);
    for (const r of rows) unfinished.set(r.run_id, r.unfinished);
  }
  const done = [...unfinished].filter(([, n]) => n <= 0).map(([id]) => id);
  if (!done.length) return ended;
  const finishedRows = await client.query<{ run_id: string; state: RunState; run_type: RunType }>(sql('finish_run'), [done, stateList(TASK_FAILED), stateList(RUN_UNFINISHED)]);
  for (const r of finishedRows.rows) ended.set(r.run_id, r.state);
  // A one-shot DAG (pauseAfterSuccess) is paused in the transaction its success commits in (a `dags test` run leaves it alone).
  const oneShot = new Set(finishedRows.rows.filter((r) => r.state === 'success' && r.run_type !== 'test' && runs.get(r.run_id)?.graph.options.pauseAfterSuccess).map((r) => runs.get(r.run_id)!.graph.dag.id));
  for (const dagId of oneShot) await client.query(sql('set_paused'), [dagId, true]);
  // Freed slots go to queued runs; one DAG at a time, in a fixed order (no lock-order deadlocks).
  const graphs = new Map([...ended.keys()].map((id) => [runs.get(id)!.graph.dag.id, runs.get(id)!.graph]));
  for (const dagId of [...graphs.keys()].sort()) await admitIfFree(engine, client, graphs.get(dagId)!, later, slots, claimed);
  return ended;
}

export type TryOutcome =
  | { kind: 'success'; output: unknown; notifications?: QueuedNotification[]; stateWrites?: [string, string | null][] }
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
  /** Set when this try's run ended in the same transaction. */
  runState?: RunState;
  retryInMs?: number;
}

export interface EndTriesResult {
  results: EndTryResult[];
  /** Successors the caller claimed to run itself (see LocalClaim). */
  claimed: LocallyClaimed[];
}

function storedOutcome(outcome: TryOutcome): { kind: TryOutcome['kind']; output: string | null; error: string | null; stack: string | null; retryable: boolean } {
  if (outcome.kind === 'success') return { kind: 'success', output: JSON.stringify(outcome.output ?? null), error: null, stack: null, retryable: false };
  if (outcome.kind === 'skipped') return { kind: 'skipped', output: null, error: outcome.message, stack: null, retryable: false };
  return { kind: 'failed', output: null, error: outcome.error.message, stack: outcome.error.stack ?? null, retryable: outcome.retryable };
}

function endTriesParams(items: (EndTryInput & { dagId: string })[], graphs: Map<string, DagGraph>, stored = items.map((item) => storedOutcome(item.outcome))): unknown[] {
  return [
    items.map((i) => i.runId),
    items.map((i) => i.taskId),
    items.map((i) => i.tryNumber),
    stored.map((d) => d.kind),
    stored.map((d) => d.output),
    stored.map((d) => d.error),
    stored.map((d) => d.stack),
    items.map((i) => JSON.stringify(i.logs)),
    stored.map((d) => d.retryable),
    items.map((i) => graphs.get(i.dagId)?.hash ?? null),
  ];
}

/** A try whose task instance moved on meanwhile (cancelled, cleared or declared lost): its result counts nowhere. */
function logDropped(item: EndTryInput & { dagId: string }): void {
  logger.info({ dag_id: item.dagId, run_id: item.runId, task_id: item.taskId, try_number: item.tryNumber }, 'try result dropped: the task instance moved on (cancelled, cleared or declared lost)');
}

type EndTriesRow = CounterRow & ClaimLocalRow & { kind: 'ended' | 'successor' | 'run' | 'claimed' | 'deferred'; state: TaskState | RunState | null; unfinished: number };

export interface FastEndResult {
  /** Per item: its result, or undefined when it is left to endTries (its run's step needs more than one statement). */
  results: (EndTryResult | undefined)[];
  /** Successors claimed for the caller (they are `running` on this try already). */
  claimed: LocallyClaimed[];
}

/**
 * The hot path of a step, in one autocommit statement (end_tries.sql without $15, or
 * end_try.sql when the batch is one try): the tries of runs whose step needs nothing
 * more are recorded, and their successors that may run are claimed for the caller
 * within `local.capacity`. That is every run whose tries all succeeded (queuing
 * nothing, writing no state, producing no asset, holding no pool slot), and whose
 * successors either wait or may run here. A run whose last
 * task this records ends in the statement too (unless its DAG pauses after a success,
 * which endTries does), and queued runs of its DAG are admitted after (admitAfterCommit,
 * their first tasks claimed for the caller while it has room). The rest are returned
 * undefined, untouched, for endTries.
 */
export async function endTriesFast(engine: Engine, graphs: Map<string, DagGraph>, items: (EndTryInput & { dagId: string })[], local?: LocalClaim): Promise<FastEndResult> {
  const results: (EndTryResult | undefined)[] = items.map(() => undefined);
  const simple = items.flatMap((item, i) => {
    const graph = graphs.get(item.dagId);
    const task = taskOf(graph, item.taskId);
    const o = item.outcome;
    if (!graph || !task || o.kind !== 'success' || o.notifications?.length || o.stateWrites?.length || task.pool || task.produces.length) return [];
    return [i];
  });
  if (!simple.length) return { results, claimed: [] };
  const chosen = simple.map((i) => items[i]!);
  // What the caller may claim: the successors in the current code that it may take itself (not mapped: they expand first).
  const claimRuns: string[] = [];
  const claimTasks: string[] = [];
  if (local && local.capacity > 0) {
    for (const item of chosen) {
      const graph = graphs.get(item.dagId)!;
      const run = { graph, queue: item.queue };
      for (const down of graph.downstream.get(taskOf(graph, item.taskId)!.id) ?? []) {
        if (graph.tasks.get(down)?.mapOver === undefined && mayClaimLocally(run, down, local)) {
          claimRuns.push(item.runId);
          claimTasks.push(down);
        }
      }
    }
  }
  // A one-shot DAG (pauseAfterSuccess) is paused where its run ends: in endTries.
  const mayEnd = [...new Set(chosen.filter((i) => !graphs.get(i.dagId)!.options.pauseAfterSuccess).map((i) => i.runId))];
  const one = chosen.length === 1 ? chosen[0]! : undefined;
  // One try (a linear step): the same step in a smaller statement than a batch's (end_try.sql).
  const { rows } = one
    ? await engine.pool.query<EndTriesRow>(sql('end_try'), [
      one.runId, one.taskId, one.tryNumber, storedOutcome(one.outcome).output, JSON.stringify(one.logs), graphs.get(one.dagId)?.hash ?? null,
      claimTasks, local?.capacity ?? 0, local?.hostname ?? '', mayEnd.length > 0, stateList(TASK_FAILED),
    ])
    : await engine.pool.query<EndTriesRow>(sql('end_tries'), [
      ...endTriesParams(chosen, graphs), claimRuns, claimTasks, local?.capacity ?? 0, local?.hostname ?? '', false, mayEnd, stateList(TASK_FAILED),
    ]);
  const deferred = new Set(rows.filter((r) => r.kind === 'deferred').map((r) => r.run_id));
  const endedState = new Map(rows.filter((r) => r.kind === 'ended').map((r) => [`${r.run_id}\u0000${r.task_id}`, r.state as TaskState]));
  const endedRuns = rows.filter((r) => r.kind === 'run' && r.state);
  const runEnds = new Map(endedRuns.map((r) => [r.run_id, r.state as RunState]));
  for (const [k, i] of simple.entries()) {
    const item = chosen[k]!;
    if (deferred.has(item.runId)) continue;
    const state = endedState.get(`${item.runId}\u0000${item.taskId}`);
    if (!state) logDropped(item);
    const runState = runEnds.get(item.runId);
    results[i] = state ? { recorded: true, state, ...(runState ? { runState } : {}) } : { recorded: false };
  }
  const claimed = rows.filter((r) => r.kind === 'claimed').map(toLocallyClaimed);
  if (local) local.capacity -= claimed.length;
  // Freed slots go to queued runs of the DAGs whose runs ended (never throws).
  const later = new Map(endedRuns.map((r) => [r.dag_id, graphs.get(r.dag_id)!]));
  if (later.size) await admitAfterCommit(engine, later, local, claimed);
  return { results, claimed };
}

/**
 * Record the end of a batch of tries and everything that follows, in one
 * transaction: each task's state (success, skipped, up_for_retry with its next try
 * enqueued after the backoff, or failed: decided in end_tries.sql), their
 * successors along each run's own edges, the runs that end, and failure alerts.
 * Batching is what lets parallel branches and many runs finish without one commit
 * per task. `graphs` gives the current code's options (retry delays, alerts); a task
 * missing from it (removed from its file) gets the defaults.
 */
export async function endTries(engine: Engine, graphs: Map<string, DagGraph>, items: (EndTryInput & { dagId: string })[], local?: LocalClaim): Promise<EndTriesResult> {
  const stored = items.map((item) => storedOutcome(item.outcome));
  const later = new Map<string, DagGraph>();
  const ended = await withTransaction(engine.pool, async (client) => {
    // Every run recorded; what follows is decided below, in this transaction.
    const { rows } = await client.query<EndTriesRow>(sql('end_tries'), [...endTriesParams(items, graphs, stored), [], [], 0, '', true, [], stateList(TASK_FAILED)]);
    const endedState = new Map(rows.filter((r) => r.kind === 'ended').map((r) => [`${r.run_id}\u0000${r.task_id}`, r.state]));
    const counters = rows.filter((r) => r.kind === 'successor');
    const unfinished = new Map(rows.filter((r) => r.kind === 'run').map((r) => [r.run_id, r.unfinished]));
    const results: EndTryResult[] = [];
    const runs = new Map<string, RunRef>();
    const pools = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const graph = graphs.get(item.dagId)!;
      const state = endedState.get(`${item.runId}\u0000${item.taskId}`);
      if (!state) {
        logDropped(item);
        results.push({ recorded: false });
        continue;
      }
      const task = taskOf(graph, item.taskId);
      // A slot of its pool is free (whatever the outcome): wake the workers whose tries wait for one.
      if (task?.pool) pools.add(task.pool);
      if (state === 'up_for_retry') {
        const delay = retryDelayMs(task ?? DEFAULT_RETRY, item.tryNumber + 1);
        const queue = jobQueue(item.queue, task?.queue);
        await ensureQueue(engine.boss, queue);
        await enqueueTries(engine.boss, client, queue, [{ dagId: item.dagId, runId: item.runId, taskId: item.taskId, tryNumber: item.tryNumber + 1 }], new Date(Date.now() + delay));
        if (task?.emailOnRetry) await enqueueAlert(engine, client, graph, item, 'task_retry', stored[i]!.error);
        results.push({ recorded: true, state, retryInMs: delay });
        continue;
      }
      // What the try queued, and its ctx.state writes, land with its success or not at all.
      if (state === 'success' && item.outcome.kind === 'success') {
        const { notifications, stateWrites } = item.outcome;
        if (notifications?.length) await enqueueNotifications(engine, client, { dagId: item.dagId, runId: item.runId, taskId: item.taskId, tryNumber: item.tryNumber }, notifications);
        if (stateWrites?.length) await writeDagState(client, item.dagId, stateWrites, `${item.runId}/${item.taskId}/${item.tryNumber}`);
        if (task?.produces.length) await client.query(sql('record_asset_events'), [item.dagId, item.runId, item.taskId, item.tryNumber, task.produces]);
      }
      if (state === 'failed' && graph.options.emailOnFailure && graph.options.alertRecipients.length) {
        await enqueueAlert(engine, client, graph, item, 'task_failure', stored[i]!.error);
      }
      if (state === 'failed' && graph.options.webhookOnFailure && graph.options.alertWebhooks.length) {
        await enqueueWebhookAlerts(engine, client, graph, item, stored[i]!.error);
      }
      runs.set(item.runId, { graph, queue: item.queue });
      results.push({ recorded: true, state });
    }
    if (pools.size) await client.query(sql('pool_freed'), [[...pools]]);
    // end_tries counted the successors of these tries already; propagate goes on from its counters.
    const { ended, claimed } = await propagate(engine, client, runs, [], local, { counters, unfinished }, later);
    for (let i = 0; i < items.length; i++) {
      const runState = ended.get(items[i]!.runId);
      if (runState && results[i]!.recorded && results[i]!.state !== 'up_for_retry') results[i]!.runState = runState;
    }
    return { results, claimed };
  });
  // Never throws: a try that ended is recorded, whatever happens to admission.
  if (later.size) await admitAfterCommit(engine, later);
  return ended;
}

/** Retry options of a task that is no longer in its DAG file (used when the reaper ends such a task's lost try). */
const DEFAULT_RETRY = { retryDelayMs: 1000, retryExponentialBackoff: false, maxRetryDelayMs: 3_600_000 };

/** Record the end of one try (see endTries). */
export async function endTry(engine: Engine, graph: DagGraph, input: EndTryInput, local?: LocalClaim): Promise<EndTryResult & { claimed: LocallyClaimed[] }> {
  const { results, claimed } = await endTries(engine, new Map([[graph.dag.id, graph]]), [{ ...input, dagId: graph.dag.id }], local);
  return { ...results[0]!, claimed };
}

/**
 * Alerts are retried with backoff up to 15 minutes between tries, 1,000 times: about ten
 * days of outage before pg-boss would give up on one (each failed send is logged).
 */
const alertRetry = (engine: Engine) => ({ retryLimit: 1000, retryDelay: engine.alertRetryDelayS, retryBackoff: true, retryDelayMax: 900 });

/**
 * Emails and webhook posts onto the alert queue, in the caller's transaction: what a
 * successful try queued (`ctx.queueEmail`, `ctx.queueWebhook`), or a run's own alert (a
 * missed deadline: no task, no try).
 */
export async function enqueueNotifications(engine: Engine, client: pg.PoolClient, from: { dagId: string; runId: string; taskId?: string; tryNumber?: number }, notifications: QueuedNotification[]): Promise<void> {
  await ensureQueue(engine.boss, ALERT_QUEUE);
  for (const n of notifications) {
    const job = 'webhook' in n ? { kind: 'webhook', ...from, webhook: n.webhook, text: n.text } : { kind: 'email', ...from, email: n };
    await engine.boss.send(ALERT_QUEUE, job, { db: bossDb(client), ...alertRetry(engine) });
  }
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
      recipients: graph.options.alertRecipients,
    },
    { db: bossDb(client), ...alertRetry(engine) },
  );
}

/** A failure alert per webhook, each a job of its own so one channel's outage never holds back another. */
async function enqueueWebhookAlerts(engine: Engine, client: pg.PoolClient, graph: DagGraph, input: EndTryInput, error: string | null): Promise<void> {
  await ensureQueue(engine.boss, ALERT_QUEUE);
  for (const webhook of graph.options.alertWebhooks) {
    await engine.boss.send(
      ALERT_QUEUE,
      { kind: 'webhook_failure', webhook, dagId: graph.dag.id, runId: input.runId, taskId: input.taskId, tryNumber: input.tryNumber, error },
      { db: bossDb(client), ...alertRetry(engine) },
    );
  }
}

/**
 * Cancel a run (Airflow's "mark failed"): one guarded statement (cancel_run.sql).
 * Running tries fail with `note` as their reason and are aborted by their workers,
 * tasks not started are skipped, and freed slots go to queued runs.
 */
export async function cancelRun(engine: Engine, graph: DagGraph | undefined, runId: string, note = 'cancelled by weir runs cancel'): Promise<boolean> {
  const later = new Map<string, DagGraph>();
  const cancelled = await withTransaction(engine.pool, async (client) => {
    const { rowCount } = await client.query(sql('cancel_run'), [runId, note, stateList(RUN_UNFINISHED), stateList(TASK_UNFINISHED)]);
    if (!rowCount) return false;
    if (graph) await admitIfFree(engine, client, graph, later);
    return true;
  });
  if (later.size) await admitAfterCommit(engine, later);
  return cancelled;
}

function clearParams(graph: DagGraph, runId: string, onlyFailed: boolean): unknown[] {
  const tasks = [...graph.tasks.values()];
  return [runId, onlyFailed, stateList(RUN_FINISHED), stateList(TASK_FINISHED), stateList(TASK_FAILED), tasks.map((t) => t.id), tasks.map((t) => t.retries)];
}

/**
 * What clearRun would reset, without resetting it: the same statement in a transaction
 * that is rolled back (a clear's dry run, as Airflow's). Empty when the run is not finished.
 */
export async function previewClear(pool: pg.Pool, graph: DagGraph, runId: string, onlyFailed: boolean): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ task_id: string }>(sql('clear_run'), clearParams(graph, runId, onlyFailed));
    return rows.map((r) => r.task_id);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}

/**
 * Mark one finished task instance of a finished run success or failed (Airflow's "mark
 * success/failed", downstream untouched): one guarded statement (mark_task_instance.sql)
 * that also decides the run's state again by the leaf rule. InputError `run_active` for
 * a run not finished; undefined when the run has no such finished task.
 */
export async function markTaskInstance(pool: pg.Pool, runId: string, taskId: string, state: 'success' | 'failed'): Promise<{ state: TaskState; run_state: RunState } | undefined> {
  const { rows } = await pool.query<{ state: TaskState; run_state: RunState }>(sql('mark_task_instance'), [
    runId, taskId, state, stateList(TASK_FINISHED), stateList(TASK_FAILED), stateList(RUN_FINISHED),
  ]);
  if (rows[0]) return rows[0];
  const { rows: run } = await pool.query<{ state: RunState }>(sql('get_run'), [runId]);
  if (run[0] && !RUN_FINISHED.has(run[0].state)) {
    throw new InputError('run_active', `run ${runId} is still ${run[0].state}; a task instance is marked once its run has finished (cancel the run first: weir runs cancel ${runId})`);
  }
  return undefined;
}

/**
 * Clear a finished run (`weir clear`): its failed tasks (all, without `onlyFailed`) and
 * everything downstream of them run again with their retries renewed, in one guarded
 * statement (clear_run.sql). The cleared tasks' trigger rules then decide, from the
 * outcomes kept upstream, which of them run at once. Returns the cleared task ids (none
 * when nothing failed); a run still queued or running is refused.
 */
export async function clearRun(engine: Engine, graph: DagGraph, runId: string, onlyFailed: boolean): Promise<string[]> {
  const later = new Map<string, DagGraph>();
  const cleared = await withTransaction(engine.pool, async (client) => {
    const { rows } = await client.query<CounterRow & { queue: string; unfinished: number }>(sql('clear_run'), clearParams(graph, runId, onlyFailed));
    if (!rows.length) {
      const { rows: run } = await client.query<{ state: RunState }>(sql('get_run'), [runId]);
      if (run[0] && !RUN_FINISHED.has(run[0].state)) {
        throw new InputError('run_active', `run ${runId} still has tasks queued or running; wait for it to finish or cancel it first (weir runs cancel ${runId})`);
      }
      return [];
    }
    const runs = new Map([[runId, { graph, queue: rows[0]!.queue }]]);
    await propagate(engine, client, runs, [], undefined, { counters: rows, unfinished: new Map([[runId, rows[0]!.unfinished]]) }, later);
    return rows.map((r) => r.task_id);
  });
  if (later.size) await admitAfterCommit(engine, later);
  return cleared;
}
