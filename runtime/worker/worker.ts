/**
 * The worker: claims task tries from pg-boss, runs them, and records their end.
 * It only executes; what runs next is decided in the transaction that ends a try
 * (runtime/engine/runs.ts). It is woken by LISTEN/NOTIFY the moment work is
 * enqueued, and at once by its own completions, so no polling interval sits
 * between two tasks; polling remains only as a backstop.
 */
import os from 'node:os';
import { EventEmitter } from 'node:events';
import type { PgBoss, Job } from 'pg-boss';
import type { LoadedDags } from '../loader/loader.ts';
import type { LogLine } from '../authoring/dag.ts';
import { endTry, endTries, type Engine, type EndTryResult, type EndTriesResult, type TryOutcome } from '../engine/runs.ts';
import type { DagGraph } from '../loader/graph.ts';
import { sql } from '../database/sql.ts';
import { CANCEL_CHANNEL, TASK_QUEUE, WORK_CHANNEL, ensureQueue, type TaskJobData } from '../queue.ts';
import { logger } from '../log.ts';
import { Listener } from '../database/listener.ts';
import { toError } from '../errors.ts';
import { createTaskContext, createTaskLogger } from './context.ts';
import { runTry } from './execute.ts';

export interface WorkerOptions {
  /** Tries run at once by this worker. Default 16. */
  concurrency?: number;
  /** pg-boss queue to work. Default `weir_task`. */
  queue?: string;
  /** How often running tries prove they are alive. Default 5000 ms. */
  heartbeatIntervalMs?: number;
  /** A running try silent this long is declared lost and retried. Default 30000 ms. */
  lostAfterMs?: number;
  /** How often to look for lost tries. Default 10000 ms. */
  reapIntervalMs?: number;
  /** Backstop poll when no notification arrives. Default 2000 ms. */
  pollIntervalMs?: number;
  /** On stop, how long in-flight tries may finish before they are aborted. Default 30000 ms. */
  shutdownGraceMs?: number;
  hostname?: string;
}

export type ResolvedWorkerOptions = Required<WorkerOptions>;

export function resolveWorkerOptions(options: WorkerOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedWorkerOptions {
  const num = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const raw = value ?? (env[`WEIR_${name}`] !== undefined ? Number(env[`WEIR_${name}`]) : undefined);
    const v = raw ?? fallback;
    if (!Number.isFinite(v) || v < min) throw new Error(`worker option ${name} must be a number >= ${min}, got ${String(raw)}`);
    return v;
  };
  const resolved = {
    concurrency: num('WORKER_CONCURRENCY', options.concurrency, 16, 1),
    queue: options.queue ?? TASK_QUEUE,
    heartbeatIntervalMs: num('HEARTBEAT_INTERVAL_MS', options.heartbeatIntervalMs, 5000, 50),
    lostAfterMs: num('TASK_LOST_AFTER_MS', options.lostAfterMs, 30000, 100),
    reapIntervalMs: num('REAP_INTERVAL_MS', options.reapIntervalMs, 10000, 50),
    pollIntervalMs: num('POLL_INTERVAL_MS', options.pollIntervalMs, 2000, 10),
    shutdownGraceMs: num('SHUTDOWN_GRACE_MS', options.shutdownGraceMs, 30000, 0),
    hostname: options.hostname ?? `${os.hostname()}:${process.pid}`,
  };
  if (resolved.lostAfterMs <= resolved.heartbeatIntervalMs) throw new Error('worker option TASK_LOST_AFTER_MS must be larger than HEARTBEAT_INTERVAL_MS');
  return resolved;
}

interface InFlight {
  runId: string;
  taskId: string;
  tryNumber: number;
  controller: AbortController;
  done: Promise<void>;
}

interface ClaimedRow {
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

type WorkerState = 'idle' | 'running' | 'stopping' | 'stopped';

interface PendingEnd {
  row: ClaimedRow;
  outcome: TryOutcome;
  logs: LogLine[];
  resolve: (result: EndTryResult) => void;
  reject: (err: unknown) => void;
}

export class Worker extends EventEmitter {
  readonly options: ResolvedWorkerOptions;
  private state: WorkerState = 'idle';
  private readonly inflight = new Map<string, InFlight>();
  private listener: Listener | undefined;
  private wake: (() => void) | undefined;
  private wakePending = false;
  private loopDone: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  /** Slots promised to successors being claimed locally, so concurrent completions do not overbook. */
  private reserved = 0;
  private pendingEnds: PendingEnd[] = [];
  private flushing = false;

  constructor(
    private readonly engine: Engine & { url: string },
    private readonly dags: LoadedDags,
    options: WorkerOptions = {},
  ) {
    super();
    this.options = resolveWorkerOptions(options);
  }

  get boss(): PgBoss {
    return this.engine.boss;
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    await ensureQueue(this.boss, this.options.queue);
    await this.listen();
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs));
    this.timers.push(setInterval(() => void this.reapLostTries(), this.options.reapIntervalMs));
    this.loopDone = this.loop();
    logger.info({ queue: this.options.queue, concurrency: this.options.concurrency, hostname: this.options.hostname, dags: this.dags.dags.size }, 'worker started');
  }

  private async listen(): Promise<void> {
    this.listener = await Listener.open({
      url: this.engine.url,
      channels: [WORK_CHANNEL, CANCEL_CHANNEL],
      applicationName: 'weir-worker-listen',
      name: 'worker',
      onNotification: (msg) => {
        if (msg.channel === WORK_CHANNEL && (!msg.payload || msg.payload === this.options.queue)) this.signalWork();
        else if (msg.channel === CANCEL_CHANNEL && msg.payload) this.abortRun(msg.payload);
      },
      // Work queued while disconnected sent its notification to nobody; polling would find it, this is sooner.
      onReconnect: () => this.signalWork(),
    });
    this.signalWork();
  }

  private signalWork(): void {
    this.wakePending = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private waitForWork(ms: number): Promise<void> {
    if (this.wakePending) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    while (this.state === 'running') {
      const free = this.options.concurrency - this.inflight.size - this.reserved;
      if (free <= 0) {
        await this.waitForWork(this.options.pollIntervalMs);
        this.wakePending = false;
        continue;
      }
      this.wakePending = false;
      let jobs: Job<TaskJobData>[];
      try {
        jobs = await this.boss.fetch<TaskJobData>(this.options.queue, { batchSize: free });
      } catch (err) {
        logger.warn({ err: toError(err).message }, 'fetching tasks failed; retrying');
        await this.waitForWork(1000);
        continue;
      }
      if (!jobs.length) {
        await this.waitForWork(this.options.pollIntervalMs);
        continue;
      }
      try {
        await this.claimAndStart(jobs);
      } catch (err) {
        // The fetched jobs stay active in pg-boss and are re-delivered after they expire.
        logger.warn({ err: toError(err).message }, 'claiming tasks failed; pg-boss will re-deliver them');
        await this.waitForWork(1000);
      }
    }
  }

  private async claimAndStart(fetched: Job<TaskJobData>[]): Promise<void> {
    // A job of a DAG this worker does not have (file missing or broken here) goes back to
    // pg-boss for a worker that has it, instead of being claimed and failed.
    const jobs = fetched.filter((j) => this.dags.dags.has(j.data.dagId));
    const foreign = fetched.filter((j) => !this.dags.dags.has(j.data.dagId));
    if (foreign.length) {
      logger.error({ dag_ids: [...new Set(foreign.map((j) => j.data.dagId))], hostname: this.options.hostname }, 'tasks of DAGs not loaded on this worker handed back (see `weir dags list` for broken files)');
      await this.boss.fail(this.options.queue, foreign.map((j) => j.id), { error: `DAG not loaded on ${this.options.hostname}` });
    }
    if (!jobs.length) return;
    // One autocommit statement: the try is ours once it is `running`.
    const { rows } = await this.engine.pool.query<ClaimedRow>(sql('claim_task_instances'), [
      jobs.map((j) => j.data.runId),
      jobs.map((j) => j.data.taskId),
      jobs.map((j) => j.data.tryNumber),
      this.options.hostname,
    ]);
    // Settling the jobs is off the hot path: if this process dies first, pg-boss expires and
    // re-delivers them, and the guarded claim turns the duplicate away. A job that claimed
    // nothing was stale (cleared, cancelled, or a duplicate).
    void this.boss.complete(this.options.queue, jobs.map((j) => j.id)).catch((err) => logger.warn({ err: toError(err).message }, 'settling fetched jobs failed; pg-boss will expire them'));
    for (const row of rows) this.startTry(row);
  }

  private startTry(row: ClaimedRow, knownOutputs?: Map<string, unknown>): void {
    const key = `${row.run_id}\u0000${row.task_id}`;
    const controller = new AbortController();
    const entry: InFlight = { runId: row.run_id, taskId: row.task_id, tryNumber: row.try_number, controller, done: Promise.resolve() };
    this.inflight.set(key, entry);
    entry.done = this.executeTry(row, controller, knownOutputs)
      .catch((err) => logger.error({ run_id: row.run_id, task_id: row.task_id, err: toError(err).message }, 'recording a try failed; it will be declared lost and retried'))
      .finally(() => {
        this.inflight.delete(key);
        this.signalWork();
      });
  }

  private async executeTry(row: ClaimedRow, controller: AbortController, knownOutputs?: Map<string, unknown>): Promise<void> {
    const scope = { dag_id: row.dag_id, run_id: row.run_id, task_id: row.task_id, try_number: row.try_number };
    const graph = this.dags.dags.get(row.dag_id);
    const task = graph?.tasks.get(row.task_id);
    const logs: LogLine[] = [];
    this.emit('task:start', scope);
    let outcome: TryOutcome;
    if (!graph) return; // claimAndStart only claims tries of loaded DAGs
    if (!task) {
      outcome = { kind: 'failed', retryable: false, error: new Error(`DAG "${row.dag_id}" has no task "${row.task_id}" any more on worker ${this.options.hostname} (the DAG file changed after the run was created)`) };
    } else {
      const outputs = new Map<string, unknown>(knownOutputs);
      const missing = task.upstream.filter((id) => !outputs.has(id));
      if (missing.length) {
        const { rows } = await this.engine.pool.query<{ task_id: string; output: unknown }>(sql('upstream_outputs'), [row.run_id, missing]);
        for (const r of rows) outputs.set(r.task_id, r.output);
      }
      const log = createTaskLogger(logs, (line) => logger.debug({ ...scope, ...line.fields }, line.msg));
      const ctx = createTaskContext({
        dagId: row.dag_id,
        runId: row.run_id,
        taskId: row.task_id,
        params: row.conf,
        logicalDate: row.logical_date,
        dataIntervalStart: row.data_interval_start,
        dataIntervalEnd: row.data_interval_end,
        tryNumber: row.try_number,
        maxTries: row.max_tries,
        timezone: graph.dag.options.timezone ?? 'UTC',
        upstream: task.upstream,
        outputs,
        log,
        signal: controller.signal,
      });
      outcome = await runTry(task, ctx, controller);
    }
    return this.record(graph, row, outcome, logs);
  }

  private async record(graph: DagGraph, row: ClaimedRow, outcome: TryOutcome, logs: LogLine[]): Promise<void> {
    const scope = { dag_id: row.dag_id, run_id: row.run_id, task_id: row.task_id, try_number: row.try_number };
    const result = await new Promise<EndTryResult>((resolve, reject) => {
      this.pendingEnds.push({ row, outcome, logs, resolve, reject });
      if (!this.flushing) void this.flushEnds();
    });
    if (outcome.kind === 'failed') logger.warn({ ...scope, state: result.state, err: outcome.error.message, retry_in_ms: result.retryInMs }, 'task try failed');
    // The retry's job becomes fetchable at its startAfter; wake then instead of waiting for a poll.
    if (result.retryInMs !== undefined) setTimeout(() => this.signalWork(), result.retryInMs + 5).unref();
    this.emit('task:end', { ...scope, state: result.state, runState: result.runState });
    if (result.runState) this.emit('run:end', { dag_id: row.dag_id, run_id: row.run_id, state: result.runState });
  }

  /**
   * Ends of tries are recorded in batches: while one transaction commits, the tries
   * that finish meanwhile wait and go together in the next one (group commit), so
   * 50 parallel branches or many concurrent runs do not pay one commit each.
   */
  private async flushEnds(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pendingEnds.length) {
        const batch = this.pendingEnds.splice(0, 500);
        // Eager dispatch: successors this worker has room for start here, without a queue round trip.
        // The tries in the batch still count as in flight, and their slots are about to free up.
        const capacity = this.state === 'running' ? Math.max(0, this.options.concurrency - this.inflight.size - this.reserved + batch.length) : 0;
        this.reserved += capacity;
        let outcome: EndTriesResult | undefined;
        try {
          for (let attempt = 0; ; attempt++) {
            try {
              outcome = await endTries(
                this.engine,
                this.dags.dags,
                batch.map((b) => ({
                  dagId: b.row.dag_id, runId: b.row.run_id, taskId: b.row.task_id, tryNumber: b.row.try_number,
                  maxTries: b.row.max_tries, queue: b.row.queue, outcome: b.outcome, logs: b.logs,
                })),
                capacity > 0 ? { capacity, hostname: this.options.hostname } : undefined,
              );
              break;
            } catch (err) {
              // A database restart (or a deadlock with another worker) must not lose finished tries:
              // retry for a while; if it still fails, their heartbeats stop and they are declared lost.
              if (attempt >= 20 || this.state === 'stopped') throw err;
              logger.warn({ tries: batch.length, err: toError(err).message }, 'recording the end of tries failed; retrying');
              await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
            }
          }
        } catch (err) {
          for (const b of batch) b.reject(err);
          continue;
        } finally {
          this.reserved -= capacity;
        }
        const rows = new Map(batch.map((b) => [b.row.run_id, b.row]));
        const known = new Map<string, unknown>();
        for (const b of batch) if (b.outcome.kind === 'success') known.set(`${b.row.run_id}\u0000${b.row.task_id}`, b.outcome.output);
        for (const c of outcome.claimed) {
          const base = rows.get(c.runId)!;
          const graph = this.dags.dags.get(base.dag_id);
          const upstream = graph?.tasks.get(c.taskId)?.upstream ?? [];
          const outputs = new Map<string, unknown>();
          for (const u of upstream) {
            const key = `${c.runId}\u0000${u}`;
            if (known.has(key)) outputs.set(u, known.get(key));
          }
          this.startTry({ ...base, task_id: c.taskId, try_number: c.tryNumber, max_tries: c.maxTries }, outputs);
        }
        batch.forEach((b, i) => b.resolve(outcome.results[i]!));
      }
    } finally {
      this.flushing = false;
    }
  }

  private abortRun(runId: string): void {
    for (const f of this.inflight.values()) {
      if (f.runId === runId) f.controller.abort(new Error('run cancelled'));
    }
  }

  private async heartbeat(): Promise<void> {
    if (!this.inflight.size) return;
    const entries = [...this.inflight.values()];
    try {
      const { rows } = await this.engine.pool.query<{ run_id: string; task_id: string; try_number: number }>(sql('heartbeat'), [
        entries.map((e) => e.runId), entries.map((e) => e.taskId), entries.map((e) => e.tryNumber),
      ]);
      const alive = new Set(rows.map((r) => `${r.run_id}\u0000${r.task_id}\u0000${r.try_number}`));
      for (const e of entries) {
        // Not running any more (cancelled, cleared, declared lost): stop it so it never runs twice at once.
        if (!alive.has(`${e.runId}\u0000${e.taskId}\u0000${e.tryNumber}`) && this.inflight.get(`${e.runId}\u0000${e.taskId}`) === e) {
          e.controller.abort(new Error('task instance is no longer running here (cancelled, cleared or declared lost)'));
        }
      }
    } catch (err) {
      logger.warn({ err: toError(err).message }, 'heartbeat failed');
    }
  }

  /** Tries whose worker went silent (killed, partitioned) fail as lost and follow their retries. */
  async reapLostTries(): Promise<number> {
    let reaped = 0;
    try {
      const { rows } = await this.engine.pool.query<{ run_id: string; task_id: string; try_number: number; max_tries: number; dag_id: string; silent_ms: number; hostname: string | null }>(
        sql('lost_tries'),
        [this.options.lostAfterMs, 100],
      );
      for (const r of rows) {
        const graph = this.dags.dags.get(r.dag_id);
        if (!graph) continue;
        const queue = (await this.engine.pool.query<{ queue: string }>('SELECT queue FROM weir.dag_run WHERE run_id = $1', [r.run_id])).rows[0]?.queue ?? TASK_QUEUE;
        const error = new Error(`try lost: no heartbeat from ${r.hostname ?? 'its worker'} for ${Math.round(r.silent_ms / 1000)} s (worker killed or unreachable)`);
        const result = await endTry(this.engine, graph, {
          runId: r.run_id, taskId: r.task_id, tryNumber: r.try_number, maxTries: r.max_tries, queue, logs: [],
          outcome: { kind: 'failed', error, retryable: true },
        });
        if (result.recorded) {
          reaped++;
          logger.warn({ dag_id: r.dag_id, run_id: r.run_id, task_id: r.task_id, try_number: r.try_number, state: result.state }, 'lost try recorded');
        }
      }
    } catch (err) {
      logger.warn({ err: toError(err).message }, 'looking for lost tries failed');
    }
    return reaped;
  }

  /** Tries in flight right now (for progress and tests). */
  get inFlightCount(): number {
    return this.inflight.size;
  }

  /**
   * Stop claiming, let in-flight tries finish within the grace period, abort the
   * rest through their signal (they fail and are retried elsewhere), then release
   * every resource even if one step fails. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.signalWork();
    for (const t of this.timers) clearInterval(t);
    const steps: [string, () => Promise<unknown>][] = [
      ['wait for the claim loop', async () => this.loopDone],
      ['drain in-flight tries', async () => {
        const all = Promise.all([...this.inflight.values()].map((f) => f.done));
        const graceful = await Promise.race([all.then(() => true), new Promise((r) => setTimeout(() => r(false), this.options.shutdownGraceMs).unref())]);
        if (!graceful) {
          logger.warn({ in_flight: this.inflight.size }, 'grace period over: aborting in-flight tries');
          for (const f of this.inflight.values()) f.controller.abort(new Error('worker shutting down'));
          await Promise.race([all, new Promise((r) => setTimeout(r, 5000).unref())]);
        }
      }],
      ['close LISTEN connection', async () => this.listener?.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        logger.warn({ step: name, err: toError(err).message }, 'worker shutdown step failed');
      }
    }
    this.state = 'stopped';
    logger.info({ hostname: this.options.hostname }, 'worker stopped');
  }
}
