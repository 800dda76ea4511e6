/**
 * The isolate pool: task code runs in warm worker threads, one try per thread at a
 * time, apart from the worker's own event loop. While task code blocks its thread
 * (a 15 s JSON.parse, a synchronous loop), the worker keeps heartbeating, claiming,
 * finishing other tries and acting on cancels and timeouts. A timeout or cancel
 * first aborts `ctx.signal` in the thread; code that has not stopped within
 * `abortGraceMs` has its thread terminated (which stops even a synchronous loop),
 * and the try's outcome is only handed back once the thread has provably stopped,
 * so a try can never run twice at once. `process.exit()`, an uncaught error from a
 * timer, an unhandled rejection or running out of the thread's heap end that
 * thread: the try fails with a clear error and the worker lives on.
 *
 * Threads rather than child processes: measured on this machine, a round trip to a
 * warm thread costs ~0.14 ms (p50), a thread has its own heap limit
 * (`resourceLimits`), and terminating one is immediate; a child process would pay the
 * same start-up (tsx, zod, the DAG module: ~250 ms of CPU) plus a process's memory.
 * Each thread imports each DAG module version once (by content-hash URL) and keeps it;
 * idle threads are reused warmest first.
 *
 * Short tries share a few hot threads. A try starts at once while fewer than
 * `hotThreads` threads run a try that began under `youngMs` ago (or are still starting);
 * otherwise it waits for one of them to finish (the thread that finishes takes it next)
 * or to grow old. Each thread keeps its own JIT state: spread over 64 threads, a burst
 * of no-op tries ran in unoptimised code and cost each try ~0.4 ms of CPU in its thread.
 * A try that runs longer than `youngMs` (I/O, a blocking parse) no longer holds anyone
 * back: the tries behind it start on other threads, `hotThreads` more every `youngMs`.
 * A thread started for waiting tries is bound to none of them: starting one and
 * importing the DAG module takes ~0.5-0.8 s, and a try bound to it waited that long
 * while the hot threads freed up within a millisecond. The waiting tries go to
 * whichever thread is free first, and the new thread takes the next one once it is up
 * and has imported the module of the try it was started for.
 */
import { availableParallelism } from 'node:os';
import { Worker as Thread } from 'node:worker_threads';
import type { LogLine, QueuedNotification } from '../authoring/dag.ts';
import type { TryOutcome } from '../engine/runs.ts';
import { NonRetryableError } from '../errors.ts';
import { redact } from '../redact.ts';

/** Heap limit of a task's thread when the task sets none: 2048 MB (task option `memoryLimitMb`). */
export const DEFAULT_MEMORY_LIMIT_MB = 2048;

export type SerializedOutcome =
  | { kind: 'success'; outputJson: string; notifications: QueuedNotification[]; stateWrites: [string, string | null][] }
  | { kind: 'skipped'; message: string }
  | { kind: 'failed'; error: { name: string; message: string; stack?: string }; retryable: boolean };

export interface IsolateContext {
  runId: string;
  params: Record<string, unknown>;
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  tryNumber: number;
  maxTries: number;
  timezone: string;
  outputs: [string, unknown][];
  /** A mapped task instance's index and item (-1 and undefined when not mapped). */
  mapIndex: number;
  mapItem: unknown;
}

export type ToIsolate =
  | { type: 'run'; id: number; moduleUrl: string; file: string; dagId: string; taskId: string; maxLogLines: number; ctx: IsolateContext }
  | { type: 'abort'; id: number; reason: string }
  | { type: 'load'; moduleUrl: string };

export type FromIsolate =
  | { type: 'ready' }
  /** A `load` is done (the module imported, or failed to: the try that needs it will say why). */
  | { type: 'loaded'; moduleUrl: string }
  | { type: 'log'; id: number; line: LogLine }
  | { type: 'done'; id: number; outcome: SerializedOutcome; settled: boolean };

export interface IsolateRequest {
  moduleUrl: string;
  file: string;
  dagId: string;
  taskId: string;
  ctx: IsolateContext;
  timeoutMs: number | undefined;
  memoryLimitMb: number | undefined;
  maxLogLines: number;
}

export interface IsolatePoolOptions {
  /** How long aborted code may take to stop by itself before its thread is terminated. */
  abortGraceMs: number;
  /** Idle threads are ended after this long. */
  idleMs: number;
  /** Threads that may run young tries at once before new tries wait for one of them (default: the machine's cores, at least 2). */
  hotThreads?: number;
  /** A try younger than this holds its thread hot; waiting tries start `hotThreads` at a time each time this passes (default 2 ms). */
  youngMs?: number;
  /**
   * A new thread starts for waiting tries only once the hot threads' tries are older than
   * this (default 50 ms, at least youngMs). A thread's start costs 0.3-0.8 s of CPU: short
   * tries slowed past youngMs by a busy machine must not start threads that slow it more.
   */
  spawnAfterMs?: number;
}

/** An error with the stack the isolate reported (pointing at the DAG file's lines). */
function revive(e: { name: string; message: string; stack?: string }): Error {
  const error = e.name === 'NonRetryableError' ? new NonRetryableError(e.message) : new Error(e.message);
  error.name = e.name;
  if (e.stack) error.stack = e.stack;
  return error;
}

interface Slot {
  thread: Thread;
  memoryLimitMb: number;
  busy: boolean;
  /** When its current try started (performance.now()), or its thread came up if later. */
  since: number;
  /** Its thread is still starting (tsx, zod, the DAG module): it counts as young, and one started for waiting tries takes the next of them once up. */
  booting: boolean;
  /** Why its thread died before it was up (its 'error' event), for the waiting try that fails of it. */
  bootError?: Error;
  idleTimer: NodeJS.Timeout | undefined;
  /** The try running on this thread, if any. */
  current: { id: number; onMessage: (msg: Exclude<FromIsolate, { type: 'ready' | 'loaded' }>) => void; onDeath: (error: Error) => void } | undefined;
  dead: boolean;
}

const ENTRY = new URL('./isolate-entry.mjs', import.meta.url);

/** Started for waiting tries and bound to none of them yet (still starting: see `pump`). */
const startingForWaiting = (slot: Slot) => slot.busy && slot.booting && !slot.current;

/** A try waiting for a thread. */
interface Waiting {
  memoryLimitMb: number;
  /** The DAG module it runs: a thread started for it imports that before taking a try. */
  moduleUrl: string;
  start: (slot: Slot) => void;
  /** It never ran: a thread started for it died before it was up. */
  fail: (error: Error) => void;
}

export class IsolatePool {
  private readonly slots = new Set<Slot>();
  /** Idle threads, most recently used last: the next try takes the warmest (its JIT is hot). */
  private readonly idle: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private readonly waiting: Waiting[] = [];
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly hotThreads: number;
  private readonly youngMs: number;
  private readonly spawnAfterMs: number;

  constructor(private readonly options: IsolatePoolOptions) {
    this.hotThreads = options.hotThreads ?? Math.max(2, availableParallelism());
    this.youngMs = options.youngMs ?? 2;
    this.spawnAfterMs = Math.max(this.youngMs, options.spawnAfterMs ?? 50);
  }

  /** Threads alive now (for the registry and tests). */
  get size(): number {
    return this.slots.size;
  }

  private spawn(memoryLimitMb: number): Slot {
    const thread = new Thread(ENTRY, {
      resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb },
      // Task code's console output passes through redaction on its way to the worker's own.
      stdout: true,
      stderr: true,
    });
    thread.stdout.on('data', (chunk: Buffer) => process.stdout.write(redact(chunk.toString())));
    thread.stderr.on('data', (chunk: Buffer) => process.stderr.write(redact(chunk.toString())));
    const slot: Slot = { thread, memoryLimitMb, busy: false, since: 0, booting: true, idleTimer: undefined, current: undefined, dead: false };
    thread.on('message', (msg: FromIsolate) => {
      // Started for waiting tries and bound to none: up once its module is imported, it takes
      // the next one, or idles behind the warm threads (its code is not optimised yet).
      if (msg.type === 'loaded') {
        if (startingForWaiting(slot)) {
          slot.booting = false;
          this.release(slot, true);
        }
        return;
      }
      if (msg.type === 'ready') {
        if (startingForWaiting(slot)) return;
        slot.booting = false;
        slot.since = performance.now();
        return;
      }
      slot.current?.onMessage(msg);
    });
    thread.on('error', (err: Error & { code?: string }) => {
      slot.dead = true;
      const reason = err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new Error(`task ran out of memory: its isolate's heap limit is ${memoryLimitMb} MB (task option memoryLimitMb)`)
        : Object.assign(new Error(`task code crashed its isolate: ${err.message}`), { stack: err.stack });
      if (startingForWaiting(slot)) slot.bootError = reason;
      slot.current?.onDeath(reason);
    });
    thread.on('exit', (code) => {
      slot.dead = true;
      this.slots.delete(slot);
      const i = this.idle.indexOf(slot);
      if (i >= 0) this.idle.splice(i, 1);
      clearTimeout(slot.idleTimer);
      slot.current?.onDeath(new Error(`task code ended its isolate (process.exit(${code}) or similar); the worker lives on`));
      // A thread started for waiting tries that died before it was up fails one of them, so
      // a thread that cannot start fails tries (their retries apply) instead of restarting for ever.
      if (startingForWaiting(slot)) {
        const i = this.waiting.findIndex((w) => w.memoryLimitMb === slot.memoryLimitMb);
        if (i >= 0) this.waiting.splice(i, 1)[0]!.fail(slot.bootError ?? new Error(`the task's isolate could not start (exit code ${code})`));
      }
      this.pump();
    });
    this.slots.add(slot);
    return slot;
  }

  /** The warmest idle thread of this heap limit, now busy; none if there is none. */
  private acquire(memoryLimitMb: number): Slot | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const slot = this.idle[i]!;
      if (slot.dead || slot.memoryLimitMb !== memoryLimitMb) continue;
      this.idle.splice(i, 1);
      clearTimeout(slot.idleTimer);
      return this.occupy(slot);
    }
    return undefined;
  }

  /** Threads starting for waiting tries, bound to none yet. */
  private starting(): number {
    let n = 0;
    for (const slot of this.slots) if (startingForWaiting(slot) && !slot.dead) n++;
    return n;
  }

  /** The slot runs a try from now on. */
  private occupy(slot: Slot): Slot {
    slot.busy = true;
    slot.since = performance.now();
    return slot;
  }

  /** Threads running a try that started under `ms` (youngMs) ago, or still starting with one. */
  private young(ms = this.youngMs): number {
    const after = performance.now() - ms;
    let n = 0;
    for (const slot of this.slots) if (slot.busy && slot.current && !slot.dead && (slot.booting || slot.since > after)) n++;
    return n;
  }

  /**
   * Start waiting tries while the hot threads have room (on idle or new threads); look
   * again within youngMs while any wait. From a timer, this runs after the event loop's
   * pending messages: a thread's end that the loop has not read yet (the worker's loop
   * was busy) frees its thread for the next try first.
   */
  private pump(): void {
    while (this.waiting.length && !this.closed && this.young() < this.hotThreads) {
      const next = this.waiting[0]!;
      const slot = this.acquire(next.memoryLimitMb);
      if (slot) {
        this.waiting.shift();
        next.start(slot);
        continue;
      }
      // No idle thread: start one for the waiting tries (counted young while it starts), at most
      // one each, once the hot threads' tries are older than spawnAfterMs.
      const starting = this.starting();
      if (starting >= this.waiting.length || this.young(this.spawnAfterMs) + starting >= this.hotThreads) break;
      const spawned = this.occupy(this.spawn(next.memoryLimitMb));
      spawned.thread.postMessage({ type: 'load', moduleUrl: next.moduleUrl } satisfies ToIsolate);
    }
    if (this.waiting.length && !this.waitTimer && !this.closed) {
      this.waitTimer = setTimeout(() => setImmediate(() => {
        this.waitTimer = undefined;
        this.pump();
      }), this.youngMs);
    }
  }

  /** Run `start` on a thread now, or once a hot thread frees up or grows old. Returns how to withdraw it while it waits. */
  private whenThread(memoryLimitMb: number, moduleUrl: string, start: (slot: Slot) => void, fail: (error: Error) => void): () => void {
    if (!this.waiting.length && this.young() < this.hotThreads) {
      const slot = this.acquire(memoryLimitMb);
      if (slot) {
        start(slot);
        return () => {};
      }
    }
    const entry: Waiting = { memoryLimitMb, moduleUrl, start, fail };
    this.waiting.push(entry);
    this.pump();
    return () => {
      const i = this.waiting.indexOf(entry);
      if (i >= 0) this.waiting.splice(i, 1);
    };
  }

  private release(slot: Slot, cold = false): void {
    slot.busy = false;
    slot.current = undefined;
    if (slot.dead || this.closed) return;
    // The hot thread takes the next waiting try of its heap limit at once.
    const next = this.waiting.findIndex((w) => w.memoryLimitMb === slot.memoryLimitMb);
    if (next >= 0) {
      this.waiting.splice(next, 1)[0]!.start(this.occupy(slot));
      return;
    }
    if (cold) this.idle.unshift(slot);
    else this.idle.push(slot);
    slot.idleTimer = setTimeout(() => void this.end(slot), this.options.idleMs);
    slot.idleTimer.unref();
    if (this.waiting.length) this.pump();
  }

  private async end(slot: Slot): Promise<void> {
    slot.dead = true;
    this.slots.delete(slot);
    const i = this.idle.indexOf(slot);
    if (i >= 0) this.idle.splice(i, 1);
    clearTimeout(slot.idleTimer);
    await slot.thread.terminate();
  }

  /** Start threads and import DAG modules ahead of the first tries. */
  warm(count: number, moduleUrls: string[], memoryLimitMb = DEFAULT_MEMORY_LIMIT_MB): void {
    for (let i = this.slots.size; i < count; i++) {
      const slot = this.spawn(memoryLimitMb);
      for (const moduleUrl of moduleUrls) slot.thread.postMessage({ type: 'load', moduleUrl } satisfies ToIsolate);
      this.release(slot);
    }
  }

  /**
   * Run one try in a thread of its own. Resolves (never rejects) with its outcome once
   * the code has finished or its thread is gone. `signal` aborts the try with the
   * signal's reason (cancel, shutdown, lost heartbeat); `onLog` gets each line as written.
   */
  run(req: IsolateRequest, signal: AbortSignal, onLog: (line: LogLine) => void): Promise<TryOutcome> {
    const id = this.nextId++;
    return new Promise<TryOutcome>((resolve) => {
      /** The thread running the try, once it has one. */
      let slot: Slot | undefined;
      let abortedWith: Error | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      let finished = false;
      const timeoutTimer = req.timeoutMs !== undefined
        ? setTimeout(() => abort(new Error(`task timed out after ${req.timeoutMs} ms (timeoutMs)`)), req.timeoutMs)
        : undefined;
      const finish = (outcome: TryOutcome, reusable: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(timeoutTimer);
        clearTimeout(graceTimer);
        signal.removeEventListener('abort', onSignal);
        withdraw();
        if (!slot) return resolve(outcome);
        if (reusable) {
          this.release(slot);
          resolve(outcome);
          return;
        }
        // The code may still be running: the outcome counts only once the thread has stopped.
        slot.current = undefined;
        void this.end(slot).then(() => resolve(outcome), () => resolve(outcome));
      };
      const failedWith = (error: Error, retryable = !(error instanceof NonRetryableError)): TryOutcome => ({ kind: 'failed', error, retryable });
      const abort = (reason: Error) => {
        if (abortedWith || finished) return;
        abortedWith = reason;
        // Still waiting for a thread: no code of it ran.
        if (!slot) return finish(failedWith(reason, true), true);
        slot.thread.postMessage({ type: 'abort', id, reason: reason.message } satisfies ToIsolate);
        graceTimer = setTimeout(() => finish(failedWith(reason, true), false), this.options.abortGraceMs);
      };
      const onSignal = () => abort(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted')));
      const start = (s: Slot) => {
        slot = s;
        s.current = {
          id,
          onMessage: (msg) => {
            if (msg.id !== id) return;
            if (msg.type === 'log') {
              if (!finished) onLog(msg.line);
              return;
            }
            // An aborted try fails with the abort's reason, whatever its code did afterwards.
            if (abortedWith) return finish(failedWith(abortedWith, true), msg.settled);
            const o = msg.outcome;
            if (o.kind === 'success') return finish({ kind: 'success', output: JSON.parse(o.outputJson), notifications: o.notifications, stateWrites: o.stateWrites }, true);
            if (o.kind === 'skipped') return finish(o, true);
            finish({ kind: 'failed', error: revive(o.error), retryable: o.retryable }, true);
          },
          // Retries apply: a crash, exit or out-of-memory fails this try only.
          onDeath: (error) => finish(failedWith(abortedWith ?? error, true), false),
        };
        s.thread.postMessage({
          type: 'run', id, moduleUrl: req.moduleUrl, file: req.file, dagId: req.dagId, taskId: req.taskId, maxLogLines: req.maxLogLines, ctx: req.ctx,
        } satisfies ToIsolate);
      };
      let withdraw: () => void = () => {};
      if (signal.aborted) return onSignal();
      signal.addEventListener('abort', onSignal, { once: true });
      withdraw = this.whenThread(req.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB, req.moduleUrl, start, (error) => finish(failedWith(error, true), true));
    });
  }

  /** End every thread (running tries must have been aborted first). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.waitTimer);
    await Promise.all([...this.slots].map((slot) => this.end(slot)));
  }
}
