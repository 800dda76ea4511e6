/**
 * The end batcher: ends of tries are recorded in batches. While one transaction
 * commits, the tries that finish meanwhile wait and go together in the next one
 * (group commit), so 50 parallel branches or many concurrent runs do not pay one
 * commit each. Successors the worker has room for are claimed in the same
 * transaction (eager dispatch) and handed to `onClaimed`.
 */
import type { LoadedDags } from '../loader/loader.ts';
import { taskOf } from '../loader/graph.ts';
import type { LogLine } from '../authoring/dag.ts';
import { endTries, endTriesFast, type Engine, type EndTryInput, type EndTryResult, type EndTriesResult, type FastEndResult, type LocalClaim, type LocallyClaimed, type TryOutcome } from '../engine/runs.ts';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';
import { sql } from '../database/sql.ts';
import { isDataError, retryTransient } from '../database/transient.ts';

/** What the batcher needs of a claimed try. */
export interface EndingTry {
  run_id: string;
  task_id: string;
  try_number: number;
  max_tries: number;
  dag_id: string;
  queue: string;
}

interface PendingEnd {
  row: EndingTry;
  outcome: TryOutcome;
  logs: LogLine[];
  /** Recorded alone: its batch failed on a value PostgreSQL refused. */
  solo?: boolean;
  resolve: (result: EndTryResult) => void;
  reject: (err: unknown) => void;
}

export interface EndBatcherHooks {
  /** Free slots for successors, counting the tries of the batch as freed. */
  capacity(batchSize: number): number;
  /** Reserve or release slots while a batch with local claims commits. */
  reserve(n: number): void;
  hostname: string;
  /** The queue the worker works: only its runs' tasks are claimed for it. */
  queue: string;
  /** The task queues it works (`--queues`): only their tasks are claimed for it. */
  taskQueues: ReadonlySet<string>;
  /** Tasks claimed for this worker (successors, first tasks of admitted runs), with the outputs of the batch they may read. */
  onClaimed(claimed: LocallyClaimed, knownOutputs: Map<string, unknown>): void;
  /** False once the worker is stopped for good (no more retrying). */
  alive(): boolean;
  /** A try's end is recorded: its slot is free from now on (before its promise's callbacks run). */
  released(row: EndingTry): void;
}

export class EndBatcher {
  private pending: PendingEnd[] = [];
  private flushing = false;

  constructor(
    private readonly engine: Engine,
    private readonly dags: LoadedDags,
    private readonly hooks: EndBatcherHooks,
  ) {}

  /** Record a try's end; resolves once it is committed (or dropped as stale). */
  end(row: EndingTry, outcome: TryOutcome, logs: LogLine[]): Promise<EndTryResult> {
    return new Promise<EndTryResult>((resolve, reject) => {
      this.pending.push({ row, outcome, logs, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Up to 500 pending ends, or one that must be recorded alone. */
  private nextBatch(): PendingEnd[] {
    if (this.pending[0]!.solo) return this.pending.splice(0, 1);
    let n = 0;
    while (n < this.pending.length && n < 500 && !this.pending[n]!.solo) n++;
    return this.pending.splice(0, n);
  }

  /** A database restart (or a deadlock with another worker) must not lose finished tries: retry for a while. */
  private retrying<T>(fn: () => Promise<T>): Promise<T> {
    return retryTransient('record the end of tries', fn, { attempts: 21, retryable: (err) => !isDataError(err), keepGoing: this.hooks.alive });
  }

  /** Hand claimed successors to the worker, with the outputs of the batch they may read. */
  private started(claimed: LocallyClaimed[], batch: PendingEnd[]): void {
    if (!claimed.length) return;
    const known = new Map<string, unknown>();
    for (const b of batch) if (b.outcome.kind === 'success') known.set(`${b.row.run_id}\u0000${b.row.task_id}`, b.outcome.output);
    for (const c of claimed) {
      const upstream = taskOf(this.dags.dags.get(c.run.dagId), c.taskId)?.upstream ?? [];
      const outputs = new Map<string, unknown>();
      for (const u of upstream) {
        const key = `${c.runId}\u0000${u}`;
        if (known.has(key)) outputs.set(u, known.get(key));
      }
      this.hooks.onClaimed(c, outputs);
    }
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length) {
        let batch = this.nextBatch();
        const capacity = this.hooks.capacity(batch.length);
        this.hooks.reserve(capacity);
        const local: LocalClaim | undefined = capacity > 0 ? { capacity, hostname: this.hooks.hostname, queue: this.hooks.queue, taskQueues: this.hooks.taskQueues } : undefined;
        const input = (b: PendingEnd): EndTryInput & { dagId: string } => ({
          dagId: b.row.dag_id, runId: b.row.run_id, taskId: b.row.task_id, tryNumber: b.row.try_number,
          maxTries: b.row.max_tries, queue: b.row.queue, outcome: b.outcome, logs: b.logs,
        });
        let outcome: EndTriesResult | undefined;
        try {
          // The hot path first: the steps that one statement records, with their successors claimed.
          // A batch it cannot take (even a value PostgreSQL refuses) goes whole to endTries below.
          if (!batch[0]!.solo) {
            const fast: FastEndResult | undefined = await this.retrying(() => endTriesFast(this.engine, this.dags.dags, batch.map(input), local)).catch((err) => {
              if (isDataError(err)) return undefined;
              throw err;
            });
            if (fast) {
              this.started(fast.claimed, batch);
              const done = batch.filter((_, i) => fast.results[i]);
              const rest = batch.filter((_, i) => !fast.results[i]);
              await this.settle(done, fast.results.filter((r): r is EndTryResult => r !== undefined));
              batch = rest;
              if (!batch.length) continue;
            }
          }
          // If it still fails after the retries, their heartbeats stop and they are declared lost.
          outcome = await this.retrying(() => endTries(this.engine, this.dags.dags, batch.map(input), local));
        } catch (err) {
          if (isDataError(err)) {
            // A value PostgreSQL refuses (storable.ts should have caught it) fails only its own try:
            // the batch is recorded one by one, and a try that still fails is recorded as failed.
            if (batch.length > 1) for (const b of batch.reverse()) this.pending.unshift({ ...b, solo: true });
            else {
              const b = batch[0]!;
              logger.error({ run_id: b.row.run_id, task_id: b.row.task_id, err: toError(err).message }, 'the result of a try could not be stored; it is recorded as failed');
              if (b.outcome.kind !== 'failed' || b.logs.length) {
                this.pending.unshift({ ...b, logs: [], outcome: { kind: 'failed', retryable: false, error: new Error(`the result of this try could not be stored: ${toError(err).message}`) } });
              } else b.reject(err);
            }
            continue;
          }
          for (const b of batch) b.reject(err);
          continue;
        } finally {
          this.hooks.reserve(-capacity);
        }
        this.started(outcome.claimed, batch);
        await this.settle(batch, outcome.results);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Resolve recorded ends; a try that moved on (cancelled, cleared, lost) keeps the lines it wrote after that. */
  private async settle(batch: PendingEnd[], results: EndTryResult[]): Promise<void> {
    const dropped = batch.filter((b, i) => !results[i]!.recorded && b.logs.length);
    if (dropped.length) {
      await this.engine.pool.query(sql('append_try_logs'), [
        dropped.map((b) => b.row.run_id), dropped.map((b) => b.row.task_id), dropped.map((b) => b.row.try_number), dropped.map((b) => JSON.stringify(b.logs)),
      ]).catch((err) => logger.warn({ err: toError(err).message }, 'keeping the log lines of dropped tries failed'));
    }
    batch.forEach((b, i) => {
      this.hooks.released(b.row);
      b.resolve(results[i]!);
    });
  }
}
