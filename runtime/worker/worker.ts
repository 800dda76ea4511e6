/**
 * The worker: claims task tries from pg-boss, runs their code in isolates, and
 * hands their ends to the end batcher. It only executes; what runs next is decided
 * in the transaction that ends a try (runtime/engine/runs.ts). It is woken by
 * LISTEN/NOTIFY the moment work is enqueued, and at once by its own completions,
 * so no polling interval sits between two tasks; polling remains only as a backstop.
 *
 * Its roles, each in a file of its own: this claim loop and the tries in flight;
 * the isolate pool that runs task code (isolates.ts); the batching of try ends
 * (end-batcher.ts); heartbeats, the registry row and reaping (reaper.ts); shipping
 * log lines as they are written (log-shipper.ts); and the DAG watcher that reloads
 * changed DAG files (loader/watcher.ts).
 */
import os from 'node:os';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { PgBoss, Job, Db as IDatabase } from 'pg-boss';
import type { LoadedDags } from '../loader/loader.ts';
import { dagModuleUrl } from '../loader/loader.ts';
import type { LogLine, TaskDefinition } from '../authoring/dag.ts';
import type { Engine, EndTryResult, LocallyClaimed, TryOutcome } from '../engine/runs.ts';
import { parseInstanceId, taskOf, type DagGraph } from '../loader/graph.ts';
import { QUEUE_NAME } from '../loader/rules.ts';
import { sql } from '../database/sql.ts';
import { CANCEL_CHANNEL, DEFAULT_TASK_QUEUE, HANDED_BACK_CHANNEL, TASK_QUEUE, WORK_CHANNEL, bossDb, ensureQueue, jobQueue, type TaskJobData } from '../queue.ts';
import { logger } from '../log.ts';
import { Listener } from '../database/listener.ts';
import { isDataError, retryTransient } from '../database/transient.ts';
import { withTransaction } from '../engine/transaction.ts';
import { declarePools } from '../engine/pools.ts';
import { InputError, NonRetryableError, toError } from '../errors.ts';
import { MAX_LOG_LINES } from './context.ts';
import { checkMapLists, runInline } from './execute.ts';
import { IsolatePool, DEFAULT_MEMORY_LIMIT_MB } from './isolates.ts';
import { EndBatcher, type EndingTry } from './end-batcher.ts';
import { Reaper } from './reaper.ts';
import { LogShipper } from './log-shipper.ts';
import { DagWatcher } from '../loader/watcher.ts';
import { redact } from '../redact.ts';
import { toStorableText } from '../storable.ts';
import { TASK_CLAIMABLE, stateList } from '../states.ts';

/** Where task code runs: `thread` (an isolate per try, the default) or `inline` (on the worker's own event loop). */
export type Isolation = 'thread' | 'inline';

export interface WorkerOptions {
  /** Tries run at once by this worker. Default 16. */
  concurrency?: number;
  /** pg-boss queue of the runs to work. Default `weir_task`. */
  queue?: string;
  /** Task queues to work (`weir worker --queues heavy,default`; TaskOptions.queue). Default `['default']`. */
  queues?: string[];
  /**
   * `thread` (default): each try's code runs in a warm worker thread of its own, so
   * code that blocks cannot stall the worker. `inline`: on the worker's event loop,
   * for trusted tasks only (saves the ~0.1 ms hop; a blocking task then stalls
   * heartbeats, other tries and timeouts). WEIR_TASK_ISOLATION.
   */
  isolation?: Isolation;
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
  /** After an abort (timeout, cancel, shutdown), how long code may take to stop before its isolate is terminated. Default 500 ms. */
  abortGraceMs?: number;
  /** Heap limit of a task's isolate when the task sets no `memoryLimitMb`. Default 2048 MB. */
  memoryLimitMb?: number;
  /** Log lines of running tries reach the database within this. Default 500 ms. */
  logFlushMs?: number;
  /** Backstop re-scan of the DAGs folder (file events reload sooner). Default 10000 ms. */
  dagRescanMs?: number;
  hostname?: string;
}

export type ResolvedWorkerOptions = Required<WorkerOptions>;

export function resolveWorkerOptions(options: WorkerOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedWorkerOptions {
  const num = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const fromEnv = env[`WEIR_${name}`];
    const raw = value ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : undefined);
    const v = raw ?? fallback;
    if (!Number.isFinite(v) || v < min) {
      const shown = value !== undefined ? String(value) : JSON.stringify(fromEnv);
      throw new InputError('bad_config', `worker option WEIR_${name} must be a number >= ${min}, got ${shown}`);
    }
    return v;
  };
  const isolation = options.isolation ?? (env.WEIR_TASK_ISOLATION || 'thread');
  if (isolation !== 'thread' && isolation !== 'inline') throw new InputError('bad_config', `worker option WEIR_TASK_ISOLATION must be "thread" or "inline", got "${isolation}"`);
  const resolved = {
    concurrency: num('WORKER_CONCURRENCY', options.concurrency, 16, 1),
    queue: options.queue ?? TASK_QUEUE,
    queues: [...new Set(options.queues?.length ? options.queues : [DEFAULT_TASK_QUEUE])],
    isolation: isolation as Isolation,
    heartbeatIntervalMs: num('HEARTBEAT_INTERVAL_MS', options.heartbeatIntervalMs, 5000, 50),
    lostAfterMs: num('TASK_LOST_AFTER_MS', options.lostAfterMs, 30000, 100),
    reapIntervalMs: num('REAP_INTERVAL_MS', options.reapIntervalMs, 10000, 50),
    pollIntervalMs: num('POLL_INTERVAL_MS', options.pollIntervalMs, 2000, 10),
    shutdownGraceMs: num('SHUTDOWN_GRACE_MS', options.shutdownGraceMs, 30000, 0),
    abortGraceMs: num('TASK_ABORT_GRACE_MS', options.abortGraceMs, 500, 0),
    memoryLimitMb: num('TASK_MEMORY_LIMIT_MB', options.memoryLimitMb, DEFAULT_MEMORY_LIMIT_MB, 16),
    logFlushMs: num('LOG_FLUSH_MS', options.logFlushMs, 500, 10),
    dagRescanMs: num('DAG_RESCAN_MS', options.dagRescanMs, 10000, 100),
    hostname: options.hostname ?? `${os.hostname()}:${process.pid}`,
  };
  const badQueue = resolved.queues.find((q) => !QUEUE_NAME.test(q));
  if (badQueue !== undefined) throw new InputError('bad_option', `--queues: "${badQueue}" is not a queue name (${QUEUE_NAME})`);
  if (resolved.lostAfterMs <= resolved.heartbeatIntervalMs) throw new InputError('bad_config', 'worker option WEIR_TASK_LOST_AFTER_MS must be larger than WEIR_HEARTBEAT_INTERVAL_MS');
  return resolved;
}

interface InFlight {
  runId: string;
  taskId: string;
  tryNumber: number;
  controller: AbortController;
  done: Promise<void>;
}

interface ClaimedRow extends EndingTry {
  conf: Record<string, unknown>;
  logical_date: Date;
  data_interval_start: Date;
  data_interval_end: Date;
}

type WorkerState = 'idle' | 'running' | 'stopping' | 'stopped';

export class Worker extends EventEmitter {
  readonly options: ResolvedWorkerOptions;
  /** This worker's registry id. */
  readonly workerId: string;
  private state: WorkerState = 'idle';
  /** The pg-boss queues this worker fetches from: one per task queue it works (jobQueue). */
  private readonly jobQueues: string[];
  private nextQueue = 0;
  private readonly inflight = new Map<string, InFlight>();
  private listener: Listener | undefined;
  private wake: (() => void) | undefined;
  private wakePending = false;
  /**
   * Whether the queues may hold work this worker has not fetched: set by every wake-up
   * (a notification, a poll, an adoption) and by a fetch that filled every free slot,
   * cleared when a fetch starts. A try's end wakes the loop only while it is set, so a
   * step whose successor was claimed locally costs no queue round trip.
   */
  private fetchWanted = true;
  /** The last fetch filled every free slot: jobs are waiting, and slots are refilled in batches (refillAt). */
  private backlog = false;
  /** Handed-back tries of a DAG this worker has may be waiting: adopt before fetching. */
  private adoptPending = true;
  /** Set while tries this worker fetched wait for a pool slot: when to look at them again (a backstop to the wake-up a slot's end sends). */
  private poolWaitsUntil: number | undefined;
  private loopDone: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Slots promised to successors being claimed locally, so concurrent completions do not overbook. */
  private reserved = 0;
  private readonly isolates: IsolatePool | undefined;
  private readonly batcher: EndBatcher;
  private readonly reaper: Reaper;
  private readonly logs: LogShipper;
  private readonly watcher: DagWatcher;
  private adoptTimer: NodeJS.Timeout | undefined;
  private readonly onChanged: () => void;

  constructor(
    private readonly engine: Engine & { url: string },
    private readonly dags: LoadedDags,
    options: WorkerOptions = {},
  ) {
    super();
    this.options = resolveWorkerOptions(options);
    this.workerId = `${this.options.hostname}:${crypto.randomBytes(3).toString('hex')}`;
    this.jobQueues = this.options.queues.map((q) => jobQueue(this.options.queue, q));
    if (this.options.isolation === 'thread') {
      this.isolates = new IsolatePool({
        abortGraceMs: this.options.abortGraceMs,
        // Starting an isolate costs ~250 ms of CPU (tsx, zod, the DAG module): keep idle ones a while.
        idleMs: 300_000,
      });
    }
    this.batcher = new EndBatcher(engine, dags, {
      hostname: this.options.hostname,
      queue: this.options.queue,
      taskQueues: new Set(this.options.queues),
      capacity: (n) => (this.state === 'running' ? Math.max(0, this.options.concurrency - this.inflight.size - this.reserved + n) : 0),
      reserve: (n) => {
        this.reserved += n;
        // Slots given back: the loop may have looked while they were held.
        if (n < 0 && this.fetchWanted) this.wakeLoop();
      },
      alive: () => this.state !== 'stopped',
      released: (row) => this.release(row.run_id, row.task_id, row.try_number),
      onClaimed: (c: LocallyClaimed, outputs) => this.startTry({
        run_id: c.runId, task_id: c.taskId, try_number: c.tryNumber, max_tries: c.maxTries,
        dag_id: c.run.dagId, conf: c.run.conf, logical_date: c.run.logicalDate, data_interval_start: c.run.dataIntervalStart, data_interval_end: c.run.dataIntervalEnd, queue: c.run.queue,
      }, outputs),
    });
    this.reaper = new Reaper(engine, dags, {
      workerId: this.workerId,
      hostname: this.options.hostname,
      queue: this.jobQueues.join(','),
      concurrency: this.options.concurrency,
      isolation: this.options.isolation,
      lostAfterMs: this.options.lostAfterMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      reapIntervalMs: this.options.reapIntervalMs,
    }, () => [...this.inflight.values()].map((f) => ({ ...f, abort: (reason: Error) => this.abortEntry(f, reason) })));
    this.logs = new LogShipper(engine.pool, this.options.logFlushMs);
    this.watcher = DagWatcher.for(dags, { rescanIntervalMs: this.options.dagRescanMs });
    this.onChanged = () => void this.onDagsChanged();
    this.watcher.on('dags:changed', this.onChanged);
  }

  get boss(): PgBoss {
    return this.engine.boss;
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    for (const q of this.jobQueues) await ensureQueue(this.boss, q);
    await this.reaper.start();
    await declarePools(this.engine.pool, this.dags.dags.values()).catch((err) => logger.warn({ err: toError(err).message }, 'declaring the DAGs\' pools failed; tries of their tasks wait until the pools exist'));
    await this.listen();
    this.watcher.start();
    // Backstop for a missed hand-back notification.
    this.adoptTimer = setInterval(() => this.signalAdopt(), this.options.reapIntervalMs);
    if (this.isolates) {
      this.isolates.warm(Math.min(2, this.options.concurrency), [...this.dags.dags.values()].filter((g) => g.hash !== 'inline').map((g) => dagModuleUrl(g.file, g.hash)), this.options.memoryLimitMb);
    }
    this.loopDone = this.loop();
    logger.info({ queue: this.options.queue, queues: this.options.queues, concurrency: this.options.concurrency, isolation: this.options.isolation, worker_id: this.workerId, dags: this.dags.dags.size }, 'worker started');
  }

  private async onDagsChanged(): Promise<void> {
    if (this.state !== 'running') return;
    await this.reaper.register().catch((err) => logger.warn({ err: toError(err).message }, 'updating the worker registry failed'));
    this.signalAdopt();
  }

  private async listen(): Promise<void> {
    this.listener = await Listener.open({
      url: this.engine.url,
      channels: [WORK_CHANNEL, CANCEL_CHANNEL, HANDED_BACK_CHANNEL],
      applicationName: 'weir-worker-listen',
      name: 'worker',
      onNotification: (msg) => {
        if (msg.channel === WORK_CHANNEL && (!msg.payload || this.jobQueues.includes(msg.payload))) this.signalWork();
        else if (msg.channel === CANCEL_CHANNEL && msg.payload) this.abortRun(msg.payload, 'cancelled by weir runs cancel');
        else if (msg.channel === HANDED_BACK_CHANNEL && msg.payload && this.dags.dags.has(msg.payload)) this.signalAdopt();
      },
      // Work queued while disconnected sent its notification to nobody; polling would find it, this is sooner.
      onReconnect: () => this.signalAdopt(),
    });
    this.signalWork();
  }

  private signalAdopt(): void {
    this.adoptPending = true;
    this.signalWork();
  }

  private signalWork(): void {
    this.fetchWanted = true;
    this.wakeLoop();
  }

  private wakeLoop(): void {
    this.wakePending = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Wait for a signal, or the poll (the backstop for a lost notification), after which the queues are fetched again. */
  private async idle(): Promise<void> {
    if (!(await this.waitForWork(this.options.pollIntervalMs))) this.fetchWanted = true;
    this.wakePending = false;
  }

  /** Until woken (true) or `ms` have passed (false). */
  private waitForWork(ms: number): Promise<boolean> {
    if (this.wakePending) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  private refillAt(): number {
    return Math.max(1, Math.floor(this.options.concurrency / 8));
  }

  private free(): number {
    return this.options.concurrency - this.inflight.size - this.reserved;
  }

  private async loop(): Promise<void> {
    while (this.state === 'running') {
      // With jobs waiting, free slots are refilled several at a time (an eighth of the slots):
      // one fetch, claim and settle for several tries instead of one each.
      if (this.free() <= 0 || (this.backlog && this.free() < this.refillAt() && this.inflight.size > 0)) {
        await this.waitForWork(this.options.pollIntervalMs);
        this.wakePending = false;
        continue;
      }
      const poolDue = this.poolWaitsUntil !== undefined && Date.now() >= this.poolWaitsUntil;
      // The queues may hold nothing (the last fetch did not fill every slot, and nothing has
      // signalled work since).
      if (!this.fetchWanted && !this.adoptPending && !poolDue) {
        await this.idle();
        continue;
      }
      this.wakePending = false;
      if (poolDue) {
        this.poolWaitsUntil = undefined;
        this.adoptPending = true;
      }
      if (this.adoptPending) {
        let adopted = 0;
        try {
          adopted = await this.adoptHandedBack();
        } catch (err) {
          logger.warn({ err: toError(err).message }, 'adopting handed-back tries failed; retrying');
          await this.waitForWork(1000);
        }
        if (this.free() <= 0) continue;
        if (!this.fetchWanted) {
          // Still pending but nothing adopted (what is handed back is not for this worker's
          // task queues): look again at the next signal or poll, not at once.
          if (!adopted && this.adoptPending) await this.idle();
          continue;
        }
      }
      try {
        this.fetchWanted = false;
        await this.fetchAndClaim();
      } catch (err) {
        logger.warn({ err: toError(err).message }, 'fetching and claiming tasks failed; retrying');
        this.fetchWanted = true;
        await this.waitForWork(1000);
      }
    }
  }

  /**
   * Fetch jobs, claim their tries and complete the jobs in one transaction, so one commit
   * (one WAL flush) instead of three, and a job is completed exactly when what it asked for
   * is done: its try claimed (or found stale: cleared, cancelled, a duplicate) or handed back.
   * Completing the jobs in a commit of its own, after the claim, ran alongside the first step
   * of the tries it had started and made that step wait for its flush (a linear run's first
   * gap was 0.3-0.5 ms longer than the others). A transient failure rolls everything back and
   * the jobs are fetchable again at once; a claim PostgreSQL refuses on a value fails the
   * jobs instead (pg-boss retries them later), so that one bad job cannot hold up the queue.
   * The free slots are held meanwhile, so that successors claimed by ends recorded during
   * the transaction cannot take them too; the claimed tries start before they are let go.
   */
  private async fetchAndClaim(): Promise<void> {
    const room = this.free();
    if (room <= 0) {
      this.fetchWanted = true;
      return;
    }
    let fetched: Job<TaskJobData>[] = [];
    let handedBack: Job<TaskJobData>[] = [];
    this.reserved += room;
    try {
      const rows = await retryTransient('fetch and claim tries', () => withTransaction(this.engine.pool, async (tx) => {
        const db = bossDb(tx);
        fetched = await this.fetchJobs(db, room);
        if (!fetched.length) return [];
        handedBack = fetched.filter((j) => !this.dags.dags.has(j.data.dagId));
        const jobs = fetched.filter((j) => this.dags.dags.has(j.data.dagId));
        if (handedBack.length) await tx.query(sql('hand_back'), [handedBack.map((j) => j.data.runId), handedBack.map((j) => j.data.taskId), handedBack.map((j) => j.data.tryNumber), stateList(TASK_CLAIMABLE)]);
        const claimed = jobs.length ? await this.claim(tx, jobs.map((j) => j.data)) : [];
        await this.settleJobs(fetched, { db });
        return claimed;
      }), 6);
      for (const row of rows) this.startTry(row);
    } catch (err) {
      // Rolled back: the jobs are fetchable again. One that the claim refuses is failed, so it waits out a retry delay.
      if (isDataError(err) && fetched.length) await this.settleJobs(fetched, { fail: `claim failed on ${this.workerId}: ${toError(err).message}` }).catch(() => {});
      throw err;
    } finally {
      this.reserved -= room;
    }
    if (handedBack.length) this.warnHandedBack(handedBack);
  }

  /**
   * Jobs from the worker's queues, up to its free slots: each queue in turn, starting from
   * the one after last time's first, so that a busy queue cannot starve the others.
   */
  private async fetchJobs(db: IDatabase, room: number): Promise<Job<TaskJobData>[]> {
    const jobs: Job<TaskJobData>[] = [];
    const n = this.jobQueues.length;
    const first = this.nextQueue++ % n;
    let full = false;
    for (let i = 0; i < n && jobs.length < room; i++) {
      const batchSize = room - jobs.length;
      const got = await this.boss.fetch<TaskJobData>(this.jobQueues[(first + i) % n]!, { batchSize, db });
      if (got.length >= batchSize) full = true;
      jobs.push(...got);
    }
    // Every free slot filled: the queues may hold more, fetched as slots free up.
    this.backlog = full;
    if (full) this.fetchWanted = true;
    return jobs;
  }

  /** Complete (or fail) fetched jobs, each on its own queue; in the caller's transaction when given its `db`. */
  private async settleJobs(jobs: Job<TaskJobData>[], options: { db?: IDatabase; fail?: string } = {}): Promise<void> {
    for (const name of new Set(jobs.map((j) => j.name))) {
      const ids = jobs.filter((j) => j.name === name).map((j) => j.id);
      if (options.fail) await this.boss.fail(name, ids, { error: options.fail }, { db: options.db });
      else await this.boss.complete(name, ids, null, { db: options.db });
    }
  }

  /** Tries handed back by workers that could not run them, of DAGs this worker has: claimed directly. */
  private async adoptHandedBack(): Promise<number> {
    const limit = this.free();
    // No DAGs loaded: nothing to adopt until some are (a reload signals adoption again).
    if (!this.dags.dags.size) {
      this.adoptPending = false;
      return 0;
    }
    if (limit <= 0) return 0;
    const { rows: found } = await this.engine.pool.query<{ dag_id: string; run_id: string; task_id: string; try_number: number }>(sql('handed_back_tries'), [[...this.dags.dags.keys()], limit, stateList(TASK_CLAIMABLE)]);
    if (found.length < limit) this.adoptPending = false;
    // Only tries of the task queues this worker works: the others wait for a worker of theirs.
    const mine = found.filter((f) => this.options.queues.includes(taskOf(this.dags.dags.get(f.dag_id), f.task_id)?.queue ?? DEFAULT_TASK_QUEUE));
    if (!mine.length) return 0;
    const rows = await retryTransient('claim tries', () => withTransaction(this.engine.pool, (tx) => this.claim(tx, mine.map((f) => ({ dagId: f.dag_id, runId: f.run_id, taskId: f.task_id, tryNumber: f.try_number })))), 6);
    if (rows.length) logger.info({ tries: rows.length, dag_ids: [...new Set(rows.map((r) => r.dag_id))] }, 'adopted tries handed back by workers that could not run them');
    for (const row of rows) this.startTry(row);
    return rows.length;
  }

  /**
   * Claim tries, in the caller's transaction: the tries are ours once it commits them
   * `running`. Pooled ones lock their pools first (claim_pooled.sql: the ones that do not
   * fit wait handed back).
   */
  private async claim(tx: pg.PoolClient, tries: { dagId?: string; runId: string; taskId: string; tryNumber: number }[]): Promise<ClaimedRow[]> {
    const poolOf = (t: { dagId?: string; taskId: string }) => (t.dagId ? taskOf(this.dags.dags.get(t.dagId), t.taskId) : undefined);
    const pooled = tries.filter((t) => poolOf(t)?.pool);
    const plain = tries.filter((t) => !poolOf(t)?.pool);
    const rows: ClaimedRow[] = [];
    if (plain.length) {
      rows.push(...(await tx.query<ClaimedRow>(sql('claim_task_instances'), [
        plain.map((t) => t.runId), plain.map((t) => t.taskId), plain.map((t) => t.tryNumber), this.options.hostname, stateList(TASK_CLAIMABLE),
      ])).rows);
    }
    if (pooled.length) {
      const pools = pooled.map((t) => poolOf(t)!.pool!);
      await tx.query(sql('lock_pools'), [[...new Set(pools)]]);
      const got = (await tx.query<ClaimedRow>(sql('claim_pooled'), [
        pooled.map((t) => t.runId), pooled.map((t) => t.taskId), pooled.map((t) => t.tryNumber), pools, pooled.map((t) => poolOf(t)!.poolSlots),
        this.options.hostname, stateList(TASK_CLAIMABLE),
      ])).rows;
      // The rest wait for a slot: adopted when a pooled try ends, and looked at again at each poll meanwhile.
      if (got.length < pooled.length) this.poolWaitsUntil = Date.now() + this.options.pollIntervalMs;
      rows.push(...got);
    }
    return rows;
  }

  /**
   * Jobs of DAGs this worker does not have (file missing, broken, or not loaded yet) had
   * their tries marked handed back for a worker that has the DAG to adopt, and were
   * completed, never failed, so pg-boss cannot give up on them (fetchAndClaim).
   */
  private warnHandedBack(jobs: Job<TaskJobData>[]): void {
    logger.warn({ dag_ids: [...new Set(jobs.map((j) => j.data.dagId))], worker_id: this.workerId }, 'tries of DAGs not loaded on this worker handed back for a worker that has them (see `weir runs show`)');
  }

  private startTry(row: ClaimedRow, knownOutputs?: Map<string, unknown>): void {
    const key = `${row.run_id}\u0000${row.task_id}`;
    const controller = new AbortController();
    const entry: InFlight = { runId: row.run_id, taskId: row.task_id, tryNumber: row.try_number, controller, done: Promise.resolve() };
    this.inflight.set(key, entry);
    entry.done = this.executeTry(row, controller, knownOutputs)
      .catch((err) => logger.error({ run_id: row.run_id, task_id: row.task_id, err: toError(err).message }, 'recording a try failed; it will be declared lost and retried'))
      .finally(() => this.release(row.run_id, row.task_id, row.try_number));
  }

  /**
   * A try's slot is free: once its end is recorded (the batcher says so at once, so the
   * next batch counts it free), or when its execution ends anyway. A freed slot fetches
   * only if the queues may hold work (fetchWanted).
   */
  private release(runId: string, taskId: string, tryNumber: number): void {
    const key = `${runId}\u0000${taskId}`;
    const entry = this.inflight.get(key);
    if (!entry || entry.tryNumber !== tryNumber) return;
    this.inflight.delete(key);
    if (this.fetchWanted) this.wakeLoop();
  }

  private abortEntry(entry: InFlight, reason: Error): void {
    if (this.inflight.get(`${entry.runId}\u0000${entry.taskId}`) === entry) entry.controller.abort(reason);
  }

  private async executeTry(row: ClaimedRow, controller: AbortController, knownOutputs?: Map<string, unknown>): Promise<void> {
    const scope = { dag_id: row.dag_id, run_id: row.run_id, task_id: row.task_id, try_number: row.try_number };
    const graph = this.dags.dags.get(row.dag_id);
    const key = { runId: row.run_id, taskId: row.task_id, tryNumber: row.try_number };
    // Lines arrive redacted and storable (createTaskLogger, in the isolate or inline).
    const onLog = (line: LogLine) => {
      logger.debug({ ...scope, ...line.fields }, line.msg);
      this.logs.add(key, line);
    };
    this.emit('task:start', scope);
    let outcome: TryOutcome;
    const task = taskOf(graph, row.task_id);
    const { mapIndex } = parseInstanceId(row.task_id);
    if (!graph || !task) {
      // The DAG file changed after the run was created: the run keeps its shape, this task has no code now.
      outcome = { kind: 'failed', retryable: false, error: new NonRetryableError(`DAG "${row.dag_id}" has no task "${row.task_id}" any more in ${graph?.relativeFile ?? 'its file'} on worker ${this.options.hostname} (the DAG file changed after the run was created)`) };
    } else {
      const outputs = new Map<string, unknown>(knownOutputs);
      // A mapped instance reads its own item, not the whole list (mapped_item.sql).
      const mapped = task.mapOver !== undefined && mapIndex >= 0;
      const missing = task.upstream.filter((id) => !outputs.has(id) && !(mapped && id === task.mapOver));
      let unreadable: Error | undefined;
      let mapItem: unknown;
      // Retried: a transient error here must delay the try, not lose it before it ran.
      try {
        if (missing.length) {
          const { rows } = await retryTransient('read upstream outputs', () => this.engine.pool.query<{ task_id: string; output: unknown }>(sql('upstream_outputs'), [row.run_id, missing]));
          for (const r of rows) outputs.set(r.task_id, r.output);
        }
        if (mapped) {
          const list = outputs.get(task.mapOver!);
          outputs.delete(task.mapOver!);
          if (Array.isArray(list)) mapItem = list[mapIndex];
          else {
            const { rows } = await retryTransient('read the mapped item', () => this.engine.pool.query<{ item: unknown }>(sql('mapped_item'), [row.run_id, task.mapOver, mapIndex]));
            mapItem = rows[0]?.item;
          }
        }
      } catch (err) {
        unreadable = new Error(`could not read the outputs of upstream tasks ${[...missing, ...(mapped ? [task.mapOver!] : [])].join(', ')}: ${toError(err).message}`);
      }
      if (unreadable) outcome = { kind: 'failed', retryable: true, error: unreadable };
      else if (mapped && mapItem === undefined) {
        outcome = { kind: 'failed', retryable: false, error: new NonRetryableError(`${row.task_id} has no item: the list of "${task.mapOver}" has no index ${mapIndex} now (it ran again with a shorter list after this run was expanded; trigger a new run)`) };
      } else {
        outcome = this.isolates && graph.hash !== 'inline'
          ? await this.runIsolated(graph, row, task, mapIndex, mapItem, outputs, controller.signal, onLog)
          : await this.runInline(graph, row, task, mapIndex, mapItem, outputs, controller, onLog);
      }
      if (outcome.kind === 'success') outcome = checkMapLists(graph, task, outcome);
    }
    if (outcome.kind === 'failed') {
      outcome.error.message = toStorableText(redact(outcome.error.message));
      if (outcome.error.stack) outcome.error.stack = toStorableText(redact(outcome.error.stack));
    }
    if (outcome.kind === 'skipped') outcome.message = toStorableText(redact(outcome.message));
    const logs = await this.logs.take(key);
    const result = await this.batcher.end(row, outcome, logs);
    this.afterEnd(row, outcome, result);
  }

  private runIsolated(graph: DagGraph, row: ClaimedRow, task: TaskDefinition, mapIndex: number, mapItem: unknown, outputs: Map<string, unknown>, signal: AbortSignal, onLog: (line: LogLine) => void): Promise<TryOutcome> {
    return this.isolates!.run({
      moduleUrl: dagModuleUrl(graph.file, graph.hash),
      file: graph.relativeFile,
      dagId: row.dag_id,
      taskId: task.id,
      timeoutMs: task.timeoutMs,
      memoryLimitMb: task.memoryLimitMb ?? this.options.memoryLimitMb,
      maxLogLines: MAX_LOG_LINES,
      ctx: {
        runId: row.run_id,
        params: row.conf,
        logicalDate: row.logical_date.toISOString(),
        dataIntervalStart: row.data_interval_start.toISOString(),
        dataIntervalEnd: row.data_interval_end.toISOString(),
        tryNumber: row.try_number,
        maxTries: row.max_tries,
        timezone: graph.options.timezone,
        outputs: [...outputs],
        mapIndex,
        mapItem,
      },
    }, signal, onLog);
  }

  /** Opt-out (`isolation: 'inline'`), and DAGs built in code rather than loaded from a file. */
  private runInline(graph: DagGraph, row: ClaimedRow, task: TaskDefinition, mapIndex: number, mapItem: unknown, outputs: Map<string, unknown>, controller: AbortController, onLog: (line: LogLine) => void): Promise<TryOutcome> {
    return runInline(graph, {
      dagId: row.dag_id, runId: row.run_id, taskId: task.id, params: row.conf, logicalDate: row.logical_date,
      dataIntervalStart: row.data_interval_start, dataIntervalEnd: row.data_interval_end, tryNumber: row.try_number, maxTries: row.max_tries, mapIndex,
    }, outputs, controller, onLog, mapItem);
  }

  private afterEnd(row: ClaimedRow, outcome: TryOutcome, result: EndTryResult): void {
    const scope = { dag_id: row.dag_id, run_id: row.run_id, task_id: row.task_id, try_number: row.try_number };
    if (outcome.kind === 'failed') logger.warn({ ...scope, state: result.state, err: outcome.error.message, retry_in_ms: result.retryInMs }, 'task try failed');
    // The retry's job becomes fetchable at its startAfter; wake then instead of waiting for a poll.
    if (result.retryInMs !== undefined) setTimeout(() => this.signalWork(), result.retryInMs + 5).unref();
    this.emit('task:end', { ...scope, state: result.state, runState: result.runState });
    if (result.runState) this.emit('run:end', { dag_id: row.dag_id, run_id: row.run_id, state: result.runState });
  }

  private abortRun(runId: string, reason: string): void {
    for (const f of this.inflight.values()) {
      if (f.runId === runId) f.controller.abort(new Error(reason));
    }
  }

  /** Tries whose worker went silent (killed, partitioned) fail as lost and follow their retries. */
  reapLostTries(): Promise<number> {
    return this.reaper.reapLostTries();
  }

  private abandonNow: () => void = () => {};
  private readonly abandoned = new Promise<void>((resolve) => (this.abandonNow = resolve));

  /**
   * During stop(): do not wait for the grace period; abort in-flight tries now. Their
   * ends are still recorded (failed, retried elsewhere) before the worker stops.
   */
  abandon(): void {
    this.abandonNow();
  }

  /**
   * Stop claiming, let in-flight tries finish within the grace period, abort the
   * rest (their isolates are terminated if they do not stop: a try is recorded, and
   * retried elsewhere, only once its code has stopped), then release every resource
   * even if one step fails. Idempotent.
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
    clearInterval(this.adoptTimer);
    const steps: [string, () => Promise<unknown>][] = [
      ['stop watching DAG files', async () => {
        this.watcher.off('dags:changed', this.onChanged);
        await this.watcher.stop();
      }],
      ['wait for the claim loop', async () => this.loopDone],
      ['drain in-flight tries', async () => {
        const all = () => Promise.all([...this.inflight.values()].map((f) => f.done));
        const graceful = await Promise.race([
          all().then(() => 'drained' as const),
          new Promise<'grace'>((r) => setTimeout(() => r('grace'), this.options.shutdownGraceMs).unref()),
          this.abandoned.then(() => 'abandoned' as const),
        ]);
        if (graceful !== 'drained') {
          const reason = graceful === 'grace' ? 'worker shutting down: its grace period ran out' : 'worker shutting down: stopped by a second signal';
          logger.warn({ in_flight: this.inflight.size, reason }, 'aborting in-flight tries; each is recorded and retried elsewhere once its code has stopped');
          for (const f of this.inflight.values()) f.controller.abort(new Error(reason));
          // Isolated tries end within abortGraceMs (their threads are terminated); inline ones may not.
          await Promise.race([all(), new Promise((r) => setTimeout(r, this.options.abortGraceMs + 5000).unref())]);
        }
      }],
      ['ship remaining log lines', async () => this.logs.close()],
      ['end isolates', async () => this.isolates?.close()],
      ['leave the worker registry', async () => this.reaper.stop()],
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
    logger.info({ hostname: this.options.hostname, worker_id: this.workerId }, 'worker stopped');
  }
}
