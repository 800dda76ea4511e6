/**
 * The reaper: a worker's liveness role, apart from its claim loop. It keeps the
 * worker's registry row (what it has loaded, when it was last seen), heartbeats the
 * tries in flight (aborting those that moved on: cancelled, cleared, declared
 * lost), and ends the tries of workers that went silent, in one batch, so they
 * follow their retries.
 */
import os from 'node:os';
import pg from 'pg';
import path from 'node:path';
import type { LoadedDags } from '../loader/loader.ts';
import { endTries, type Engine } from '../engine/runs.ts';
import { sql } from '../database/sql.ts';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';
import { redact } from '../redact.ts';
import { WEIR_VERSION } from '../package/manifest.mjs';


/** Registry rows of workers stopped or silent for longer than this are deleted (prune_workers.sql). */
export const WORKER_RETENTION_DAYS = 7;

export interface HeartbeatEntry {
  runId: string;
  taskId: string;
  tryNumber: number;
  abort(reason: Error): void;
}

export interface ReaperOptions {
  workerId: string;
  hostname: string;
  queue: string;
  concurrency: number;
  isolation: string;
  lostAfterMs: number;
  heartbeatIntervalMs: number;
  reapIntervalMs: number;
}

export class Reaper {
  private timers: NodeJS.Timeout[] = [];
  /**
   * Heartbeats go over a connection of their own, opened at start: when the server runs
   * out of connections, the pool's queries wait and retry, but a try whose heartbeats
   * stopped for WEIR_TASK_LOST_AFTER_MS would be declared lost and run again elsewhere.
   */
  private client: pg.Client | undefined;

  constructor(
    private readonly engine: Engine & { url: string },
    private readonly dags: LoadedDags,
    private readonly options: ReaperOptions,
    private readonly inFlight: () => HeartbeatEntry[],
  ) {}

  async start(): Promise<void> {
    await this.connect().catch((err) => logger.warn({ err: toError(err).message }, 'no connection of its own for heartbeats yet; using the pool'));
    await this.register();
    await this.prune();
    this.timers.push(setInterval(() => void this.prune(), 6 * 3600_000));
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs));
    this.timers.push(setInterval(() => void this.reapLostTries(), this.options.reapIntervalMs));
  }

  /** The registry row: who this worker is and what it has loaded now (again after every reload). */
  async register(): Promise<void> {
    const folder = this.dags.folder;
    const rel = (file: string) => (folder ? path.relative(folder, file) : file);
    const dags = [...this.dags.dags.values()].map((g) => ({ dag_id: g.dag.id, file: g.relativeFile, hash: g.hash }));
    const broken = [...this.dags.broken].map(([file, errors]) => ({ file: rel(file), error: redact(errors[0] ?? 'broken') }));
    const o = this.options;
    await this.engine.pool.query(sql('register_worker'), [
      o.workerId, os.hostname(), process.pid, WEIR_VERSION, o.queue, o.concurrency, o.isolation, o.lostAfterMs, JSON.stringify(dags), JSON.stringify(broken),
    ]);
  }

  /** Forget workers gone for WORKER_RETENTION_DAYS (never throws). */
  private async prune(): Promise<void> {
    await this.engine.pool.query(sql('prune_workers'), [WORKER_RETENTION_DAYS])
      .catch((err) => logger.warn({ err: toError(err).message }, 'pruning the worker registry failed'));
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.engine.url, application_name: 'weir-heartbeat' });
    client.on('error', (err) => {
      logger.warn({ err: toError(err).message }, 'the heartbeat connection was lost; it is opened again at the next heartbeat');
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    this.client = client;
    return client;
  }

  async heartbeat(): Promise<void> {
    const entries = this.inFlight();
    const values = [entries.map((e) => e.runId), entries.map((e) => e.taskId), entries.map((e) => e.tryNumber), this.options.workerId];
    try {
      let result: pg.QueryResult<{ run_id: string; task_id: string; try_number: number }>;
      try {
        result = await (this.client ?? (await this.connect())).query(sql('heartbeat'), values);
      } catch (err) {
        this.client?.end().catch(() => {});
        this.client = undefined;
        result = await this.engine.pool.query(sql('heartbeat'), values);
      }
      const { rows } = result;
      const alive = new Set(rows.map((r) => `${r.run_id}\u0000${r.task_id}\u0000${r.try_number}`));
      for (const e of entries) {
        // Not running any more (cancelled, cleared, declared lost): stop it so it never runs twice at once.
        if (!alive.has(`${e.runId}\u0000${e.taskId}\u0000${e.tryNumber}`)) e.abort(new Error('task instance is no longer running here (cancelled, cleared or declared lost)'));
      }
    } catch (err) {
      logger.warn({ err: toError(err).message }, 'heartbeat failed');
    }
  }

  /** Tries whose worker went silent (killed, partitioned) fail as lost and follow their retries. */
  async reapLostTries(): Promise<number> {
    try {
      const { rows } = await this.engine.pool.query<{ run_id: string; task_id: string; try_number: number; max_tries: number; dag_id: string; queue: string; silent_ms: number; hostname: string | null }>(
        sql('lost_tries'),
        [this.options.lostAfterMs, 100],
      );
      // Ending a try needs its DAG's options; a worker without the DAG leaves it to one that has it.
      const mine = rows.filter((r) => this.dags.dags.has(r.dag_id));
      if (!mine.length) return 0;
      const { results } = await endTries(this.engine, this.dags.dags, mine.map((r) => ({
        dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, tryNumber: r.try_number, maxTries: r.max_tries, queue: r.queue, logs: [],
        outcome: { kind: 'failed', retryable: true, error: new Error(`try lost: no heartbeat from ${r.hostname ?? 'its worker'} for ${Math.round(r.silent_ms / 1000)} s (worker killed or unreachable)`) },
      })));
      let reaped = 0;
      results.forEach((result, i) => {
        if (!result.recorded) return;
        reaped++;
        const r = mine[i]!;
        logger.warn({ dag_id: r.dag_id, run_id: r.run_id, task_id: r.task_id, try_number: r.try_number, state: result.state }, 'lost try recorded');
      });
      return reaped;
    } catch (err) {
      logger.warn({ err: toError(err).message }, 'looking for lost tries failed');
      return 0;
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    try {
      await this.engine.pool.query(sql('unregister_worker'), [this.options.workerId]);
    } finally {
      await this.client?.end().catch(() => {});
      this.client = undefined;
    }
  }
}
