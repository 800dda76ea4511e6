/**
 * Live events for the browser and for scripts, as Server-Sent Events at
 * /api/weir/v1/events: run and task-instance state changes, new log lines of running
 * tries, new runs of a DAG, workers starting and stopping (event `worker`, to every stream
 * not filtered by run). Fed by LISTEN: every statement that changes a task instance
 * announces its run on `weir_events` (run ends on `weir_run`, log lines on `weir_logs`);
 * the hub reads the run's task instances once per burst and emits what changed.
 * Each event has an id (`<boot>.<seq>`); the last 10,000 are kept, so a client that
 * reconnects with Last-Event-ID gets every event it missed, and one whose id is older
 * or from an earlier server (restart) gets a `reset` event: refetch, then follow.
 */
import { randomBytes } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type pg from 'pg';
import { sql } from '../database/sql.ts';
import { listWorkers } from '../read/runs.ts';
import { Listener } from '../database/listener.ts';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';
import type { ServerEnv } from './security.ts';

export interface WeirEvent {
  id: string;
  type: 'run' | 'task_instance' | 'log' | 'dag_runs' | 'worker';
  dag_id: string;
  run_id?: string;
  data: Record<string, unknown>;
}

const KEPT = 10_000;
/** Log lines sent per try and notification at most (the rest: read the log). */
const LOG_LINES_PER_EVENT = 500;

interface Snapshot {
  dagId: string;
  state: string;
  tis: Map<string, string>;
}

export class EventHub {
  readonly boot = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly kept: WeirEvent[] = [];
  private readonly subscribers = new Set<(e: WeirEvent) => void>();
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly logPos = new Map<string, number>();
  private dirtyRuns = new Set<string>();
  private dirtyLogs = new Set<string>();
  private dirtyWorkers = new Set<string>();
  private flushing: Promise<void> | undefined;
  private listener: Listener | undefined;

  constructor(private readonly pool: pg.Pool) {}

  async start(url: string): Promise<void> {
    this.listener = await Listener.open({
      url, name: 'server', applicationName: 'weir:server-events', channels: ['weir_events', 'weir_run', 'weir_logs'],
      onNotification: (msg) => this.notified(msg.channel, msg.payload ?? ''),
      onReconnect: () => this.emit({ type: 'dag_runs', dag_id: '*', data: { reason: 'reconnected: refetch' } }),
    });
  }

  async close(): Promise<void> {
    await this.listener?.close();
    await this.flushing;
  }

  private notified(channel: string, payload: string): void {
    if (channel === 'weir_logs') this.dirtyLogs.add(payload);
    else if (payload.startsWith('dag:')) this.emit({ type: 'dag_runs', dag_id: payload.slice(4), data: {} });
    else if (payload.startsWith('worker:')) this.dirtyWorkers.add(payload.slice(7));
    else this.dirtyRuns.add(channel === 'weir_run' ? payload.slice(0, payload.lastIndexOf(':')) : payload);
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      await new Promise((r) => setImmediate(r));
      while (this.dirtyRuns.size || this.dirtyLogs.size || this.dirtyWorkers.size) {
        const runs = this.dirtyRuns;
        const logs = this.dirtyLogs;
        const workers = this.dirtyWorkers;
        this.dirtyRuns = new Set();
        this.dirtyLogs = new Set();
        this.dirtyWorkers = new Set();
        try {
          if (workers.size) await this.workersChanged(workers);
          for (const runId of runs) await this.diffRun(runId);
          if (this.subscribers.size) for (const key of logs) await this.newLines(key);
        } catch (err) {
          logger.warn({ err: toError(err).message }, 'live events: reading changes failed');
        }
      }
    })().finally(() => (this.flushing = undefined));
  }

  /** Emit what changed in a run since it was last read. */
  private async diffRun(runId: string): Promise<void> {
    const { rows: runRows } = await this.pool.query<{ dag_id: string; state: string }>(sql('get_run'), [runId]);
    const run = runRows[0];
    if (!run) return;
    const { rows } = await this.pool.query<{ task_id: string; state: string; try_number: number; queued_at: Date | null; start_date: Date | null; end_date: Date | null; duration_ms: number | null }>(sql('api_task_instances'), [runId, null]);
    const before = this.snapshots.get(runId);
    const after: Snapshot = { dagId: run.dag_id, state: run.state, tis: new Map() };
    let changed = false;
    for (const ti of rows) {
      const key = `${ti.state}:${ti.try_number}`;
      after.tis.set(ti.task_id, key);
      if (before?.tis.get(ti.task_id) !== key) {
        changed = true;
        this.emit({ type: 'task_instance', dag_id: run.dag_id, run_id: runId, data: {
          task_id: ti.task_id, state: ti.state, try_number: ti.try_number, queued_at: ti.queued_at?.toISOString() ?? null,
          start_date: ti.start_date?.toISOString() ?? null, end_date: ti.end_date?.toISOString() ?? null, duration_ms: ti.duration_ms,
        } });
      }
    }
    // Announced whenever anything in the run changed: a burst read once may hide a round trip
    // (success → running → success after a clear) that a page rendered in between has seen.
    if (before?.state !== run.state || changed) this.emit({ type: 'run', dag_id: run.dag_id, run_id: runId, data: { state: run.state } });
    this.snapshots.delete(runId);
    this.snapshots.set(runId, after);
    if (this.snapshots.size > KEPT) this.snapshots.delete(this.snapshots.keys().next().value!);
  }

  private async workersChanged(ids: Set<string>): Promise<void> {
    const rows = await listWorkers(this.pool, 1000);
    for (const w of rows.filter((r) => ids.has(String(r.worker_id)))) {
      this.emit({ type: 'worker', dag_id: '*', data: { worker_id: w.worker_id, status: w.status, hostname: w.hostname, queue: w.queue, running: w.running, dags: (w.dags as { dag_id: string }[]).map((d) => d.dag_id) } });
    }
  }

  private async newLines(key: string): Promise<void> {
    const [runId, taskId, tryText] = key.split(' ');
    const tryNumber = Number(tryText);
    const snapshot = this.snapshots.get(runId!);
    const after = this.logPos.get(key) ?? 0;
    const { rows } = await this.pool.query<{ line: Record<string, unknown>; pos: number }>(sql('try_log_page'), [runId, taskId, tryNumber, after, LOG_LINES_PER_EVENT]);
    if (!rows.length) return;
    this.logPos.set(key, rows[rows.length - 1]!.pos);
    if (this.logPos.size > KEPT) this.logPos.delete(this.logPos.keys().next().value!);
    const dagId = snapshot?.dagId ?? (await this.pool.query<{ dag_id: string }>(sql('get_run'), [runId])).rows[0]?.dag_id ?? '';
    this.emit({ type: 'log', dag_id: dagId, run_id: runId, data: { task_id: taskId, try_number: tryNumber, from: after + 1, lines: rows.map((r) => r.line) } });
  }

  private emit(event: Omit<WeirEvent, 'id'>): void {
    const e = { ...event, id: `${this.boot}.${++this.seq}` };
    this.kept.push(e);
    if (this.kept.length > KEPT) this.kept.shift();
    for (const s of this.subscribers) s(e);
  }

  /** The id of the latest event: a page rendered after reading it follows from there, missing nothing. */
  lastId(): string {
    return `${this.boot}.${this.seq}`;
  }

  /** Events after `lastId`, or undefined when they are no longer all kept (or came from an earlier server). */
  since(lastId: string | undefined): WeirEvent[] | undefined {
    if (!lastId) return [];
    const [boot, seqText] = lastId.split('.');
    const seq = Number(seqText);
    if (boot !== this.boot || !Number.isInteger(seq) || seq > this.seq) return undefined;
    const oldest = this.kept[0] ? Number(this.kept[0].id.split('.')[1]) : this.seq + 1;
    if (seq + 1 < oldest) return undefined;
    return this.kept.filter((e) => Number(e.id.split('.')[1]) > seq);
  }

  subscribe(fn: (e: WeirEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}

export function registerEvents(app: OpenAPIHono<ServerEnv>, hub: EventHub): void {
  app.get('/api/weir/v1/events', (c) => {
    const dagId = c.req.query('dag_id');
    const runId = c.req.query('run_id');
    const lastId = c.req.header('last-event-id') ?? c.req.query('last_event_id');
    // Global events (dag_id '*': workers, a refetch after the hub reconnected) go to every stream.
    const wanted = (e: WeirEvent) => e.dag_id === '*' || ((!dagId || e.dag_id === dagId) && (!runId || e.run_id === runId));
    return streamSSE(c, async (stream) => {
      const queue: WeirEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = hub.subscribe((e) => {
        if (!wanted(e)) return;
        queue.push(e);
        wake?.();
      });
      let open = true;
      stream.onAbort(() => {
        open = false;
        unsubscribe();
        wake?.();
      });
      const missed = hub.since(lastId);
      if (missed === undefined) await stream.writeSSE({ event: 'reset', data: JSON.stringify({ reason: 'events since Last-Event-ID are no longer kept: refetch, then follow' }), id: `${hub.boot}.0` });
      else queue.unshift(...missed.filter(wanted));
      await stream.writeSSE({ event: 'ready', data: JSON.stringify({ boot: hub.boot }) });
      const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 15_000);
      try {
        while (open) {
          while (queue.length) {
            const e = queue.shift()!;
            await stream.writeSSE({ id: e.id, event: e.type, data: JSON.stringify({ dag_id: e.dag_id, run_id: e.run_id ?? null, ...e.data }) });
          }
          if (!open) break;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      } finally {
        clearInterval(keepAlive);
        unsubscribe();
      }
    });
  });
}
