/**
 * The scheduler: decides when scheduled runs exist. bree is its clock — one job per
 * scheduled DAG, firing on the DAG's cron in its time zone — but every tick only
 * says "look now": what is due is computed from the database (the latest scheduled
 * logical date) and created with deterministic run ids and ON CONFLICT DO NOTHING.
 * So a dropped tick, a late tick, a restart or a second scheduler can neither skip
 * nor duplicate an interval. A slower safety tick covers ticks bree drops.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Bree from 'bree';
import { DateTime } from 'luxon';
import type { LoadedDags } from '../loader/loader.ts';
import { DagWatcher } from '../loader/watcher.ts';
import type { DagGraph } from '../loader/graph.ts';
import { cancelRun, createRun, createRuns, enqueueNotifications, type Engine } from '../engine/runs.ts';
import { withTransaction } from '../engine/transaction.ts';
import { FolderScan, contentHash, fileRunId } from './file-trigger.ts';
import { createAssetRun, registerAssetConsumers } from './asset-trigger.ts';
import { declarePools } from '../engine/pools.ts';
import { deadlineNotifications } from '../alerts.ts';
import { RUN_UNFINISHED, stateList } from '../states.ts';
import { validateParams } from '../engine/params.ts';
import { sql } from '../database/sql.ts';
import { logger } from '../log.ts';
import { Listener } from '../database/listener.ts';
import { toError } from '../errors.ts';
import { dueIntervals, scheduledRunId, type Timetable } from '../schedule/timetable.ts';
import { WEIR_VERSION } from '../package/manifest.mjs';

const TICK_JOB = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tick-job.js');

export interface SchedulerOptions {
  /** Look at every DAG this often even without a bree tick. Default 30000 ms. */
  safetyTickMs?: number;
  /** Clock, for tests. */
  now?: () => DateTime;
  /** Backstop re-scan of the DAGs folder (file events reload sooner). Default 10000 ms. */
  dagRescanMs?: number;
  /** How often file-trigger folders are scanned (a folder's changes also scan it). Default 1000 ms. */
  fileScanMs?: number;
}

/** A file-trigger DAG's folder: its scan, the trigger it was made for, the file keys already handed to runs. */
interface WatchedFolder {
  scan: FolderScan;
  trigger: string;
  done: Set<string>;
  watch?: fs.FSWatcher;
}

interface Scheduled {
  graph: DagGraph;
  timetable: Timetable;
  running: Promise<void> | undefined;
  again: boolean;
}

export class Scheduler {
  private readonly scheduled = new Map<string, Scheduled>();
  private readonly folders = new Map<string, WatchedFolder>();
  private fileTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<string[]> | undefined;
  private assetCheck: Promise<string[]> | undefined;
  private assetAgain = false;
  private bree: Bree | undefined;
  private listener: Listener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private stopping: Promise<void> | undefined;
  private readonly safetyTickMs: number;
  private readonly now: () => DateTime;

  private readonly watcher: DagWatcher;
  private readonly schedulerId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly onChanged = () => void this.refresh().catch((err) => logger.error({ err: toError(err).message }, 'applying reloaded DAG files failed'));

  constructor(
    private readonly engine: Engine & { url: string },
    private readonly dags: LoadedDags,
    private readonly options: SchedulerOptions = {},
  ) {
    this.safetyTickMs = options.safetyTickMs ?? 30_000;
    this.now = options.now ?? (() => DateTime.now());
    this.watcher = DagWatcher.for(dags, { rescanIntervalMs: options.dagRescanMs });
    this.sync();
  }

  /**
   * Bring the scheduled set in line with the loaded DAGs (after a reload): new DAGs
   * join, removed ones leave, changed ones get their new graph. Returns the DAG ids
   * whose clock (cron, time zone) must be (re)started and those to stop.
   */
  private sync(): { start: string[]; stop: string[] } {
    const start: string[] = [];
    const stop: string[] = [];
    const wanted = new Map<string, { graph: DagGraph; timetable: Timetable }>();
    // A DAG file with a bad schedule is broken (validateDag): it never gets here.
    for (const graph of this.dags.dags.values()) {
      if (graph.options.timetable.kind !== 'manual') wanted.set(graph.dag.id, { graph, timetable: graph.options.timetable });
    }
    for (const [id, s] of this.scheduled) {
      if (!wanted.has(id)) {
        this.scheduled.delete(id);
        if (s.timetable.kind === 'cron') stop.push(id);
      }
    }
    for (const [id, w] of wanted) {
      const s = this.scheduled.get(id);
      if (!s) {
        this.scheduled.set(id, { ...w, running: undefined, again: false });
        if (w.timetable.kind === 'cron') start.push(id);
        continue;
      }
      const clock = (t: Timetable) => (t.kind === 'cron' ? `${t.cron}@${t.timezone}` : t.kind);
      if (clock(s.timetable) !== clock(w.timetable)) {
        if (s.timetable.kind === 'cron') stop.push(id);
        if (w.timetable.kind === 'cron') start.push(id);
      }
      s.graph = w.graph;
      s.timetable = w.timetable;
    }
    return { start, stop };
  }

  private breeJob(id: string) {
    const tt = this.scheduled.get(id)!.timetable;
    if (tt.kind !== 'cron') throw new Error(`DAG ${id} has no cron clock`);
    // bree reads a 6-field expression (seconds first) only when told so.
    return { name: id, path: TICK_JOB, cron: tt.cron, timezone: tt.timezone, hasSeconds: tt.cron.trim().split(/\s+/).length === 6 };
  }

  /** Apply reloaded DAG files: clocks of new or changed DAGs start, removed ones stop, and each new one is looked at now. */
  private async refresh(): Promise<void> {
    if (this.state !== 'running') return;
    const { start, stop } = this.sync();
    for (const id of stop) await this.bree?.remove(id).catch(() => {});
    if (start.length) {
      this.bree ??= this.newBree();
      await this.bree.add(start.map((id) => this.breeJob(id)));
      for (const id of start) await this.bree.start(id);
    }
    this.syncFolders();
    await this.register(this.registeredIds());
    logger.info({ dags: this.dagIds, started: start, stopped: stop }, 'scheduler reloaded DAG files');
    await Promise.all(this.dagIds.map((id) => this.tick(id)));
  }

  private newBree(): Bree {
    const bree = new Bree({ root: false, doRootCheck: false, logger: false, jobs: [], workerMessageHandler: () => {} });
    // bree emits this the moment the cron fires, before the tick thread even starts.
    bree.on('worker created', (name: string) => void this.tick(name));
    return bree;
  }

  /** DAG ids this scheduler creates runs for. */
  get dagIds(): string[] {
    return [...this.scheduled.keys()];
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.syncFolders();
    await this.register(this.registeredIds());
    await this.listen();
    // Catch up first: whatever came due while no scheduler ran.
    await Promise.all(this.dagIds.map((id) => this.tick(id)));
    const cronIds = this.dagIds.filter((id) => this.scheduled.get(id)!.timetable.kind === 'cron');
    if (cronIds.length) {
      this.bree = this.newBree();
      await this.bree.add(cronIds.map((id) => this.breeJob(id)));
      await this.bree.start();
    }
    this.watcher.on('dags:changed', this.onChanged);
    this.watcher.start();
    await this.heartbeat();
    this.timer = setInterval(() => {
      for (const id of this.dagIds) void this.tick(id);
      void this.enforceRunTimeouts();
      void this.checkDeadlines().catch((err) => logger.warn({ err: toError(err).message }, 'checking deadlines failed; the next safety tick tries again'));
      void this.heartbeat();
    }, this.safetyTickMs);
    this.fileTimer = setInterval(() => {
      void this.checkFiles().catch((err) => logger.warn({ err: toError(err).message }, 'scanning file-trigger folders failed; the next scan tries again'));
      void this.checkAssets();
    }, this.fileScanMs);
    await this.checkFiles().catch(() => []);
    await this.checkAssets();
    logger.info({ dags: this.dagIds, file_triggers: [...this.folders.keys()] }, 'scheduler started');
  }

  private get fileScanMs(): number {
    return this.options.fileScanMs ?? 1000;
  }

  /** Scheduled, file-trigger and asset-trigger DAGs: the ones this scheduler keeps a row for. */
  private registeredIds(): string[] {
    return [...new Set([...this.scheduled.keys(), ...this.folders.keys(), ...this.assetDags().map((g) => g.dag.id)])];
  }

  private assetDags(): DagGraph[] {
    return [...this.dags.dags.values()].filter((g) => g.options.assetTrigger);
  }

  /**
   * A run for each unpaused asset-trigger DAG whose assets all have new events (at the file
   * tick, and at once when a producer's commit announces one). Checks never overlap; one
   * asked for during a check runs after it. Returns the runs created; never throws.
   */
  checkAssets(): Promise<string[]> {
    if (this.assetCheck) {
      this.assetAgain = true;
      return this.assetCheck;
    }
    this.assetCheck = (async () => {
      const created: string[] = [];
      do {
        this.assetAgain = false;
        for (const graph of this.assetDags()) {
          try {
            const { rows } = await this.engine.pool.query<{ is_paused: boolean }>(sql('dag_schedule_state'), [graph.dag.id]);
            if (rows[0]?.is_paused) continue;
            const runId = await createAssetRun(this.engine, graph);
            if (runId) {
              created.push(runId);
              logger.info({ dag_id: graph.dag.id, run_id: runId, assets: graph.options.assetTrigger }, 'assets updated: run created');
            }
          } catch (err) {
            logger.warn({ dag_id: graph.dag.id, err: toError(err).message }, 'creating an asset run failed; the next check tries again');
          }
        }
      } while (this.assetAgain && this.state === 'running');
      return created;
    })().finally(() => (this.assetCheck = undefined));
    return this.assetCheck;
  }

  /** File-trigger folders in line with the loaded DAGs: new ones watched, removed or changed ones dropped. */
  private syncFolders(): void {
    const wanted = new Map([...this.dags.dags.values()].filter((g) => g.options.fileTrigger).map((g) => [g.dag.id, g.options.fileTrigger!]));
    for (const [id, f] of this.folders) {
      const t = wanted.get(id);
      if (!t || JSON.stringify(t) !== f.trigger) {
        f.watch?.close();
        this.folders.delete(id);
      }
    }
    for (const [id, t] of wanted) {
      if (this.folders.has(id)) continue;
      const entry: WatchedFolder = { scan: new FolderScan(t), trigger: JSON.stringify(t), done: new Set() };
      try {
        // A change in the folder scans at once; the file tick is the backstop (and what sees a file settle).
        entry.watch = fs.watch(t.folder, { persistent: false }, () => void this.checkFiles().catch(() => []));
        entry.watch.on('error', () => entry.watch?.close());
      } catch {
        // No folder yet: the file tick finds files once it exists.
      }
      this.folders.set(id, entry);
    }
  }

  /**
   * One run per file that landed complete in a file-trigger DAG's folder (paused DAGs
   * wait). The run id is the file's key, so a file gets one run whichever scheduler sees
   * it, across restarts. Scans never overlap. Returns the runs created.
   */
  checkFiles(): Promise<string[]> {
    this.scanning ??= (async () => {
      const created: string[] = [];
      for (const [dagId, f] of this.folders) {
        const ready = f.scan.scan().filter((file) => !f.done.has(file.key));
        if (!ready.length) continue;
        const graph = this.dags.dags.get(dagId);
        if (!graph) continue;
        const { rows } = await this.engine.pool.query<{ is_paused: boolean }>(sql('dag_schedule_state'), [dagId]);
        if (rows[0]?.is_paused) continue;
        const param = graph.options.fileTrigger!.param;
        for (const file of ready) {
          const at = new Date();
          // By content: the same bytes again (any name) find their run taken and make none.
          let key = file.key;
          if (graph.options.fileTrigger!.identity === 'content') {
            try {
              key = await contentHash(file.path);
            } catch {
              continue; // moved away while hashed: nothing to run
            }
          }
          const run = await createRun(this.engine, graph, {
            runType: 'file', runId: fileRunId(dagId, key), conf: validateParams(graph.dag, { [param]: file.path }),
            logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, note: `file ${file.path} (${file.size} bytes)`,
          });
          f.done.add(file.key);
          if (run) {
            created.push(run.runId);
            logger.info({ dag_id: dagId, run_id: run.runId, file: file.path, bytes: file.size }, 'file landed: run created');
          } else logger.info({ dag_id: dagId, run_id: fileRunId(dagId, key), file: file.path }, 'file landed again: its run exists, no new run');
        }
      }
      return created;
    })().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** A row per DAG this scheduler runs (by schedule or by file); a new one paused when its DAG says pausedOnCreation. */
  private async register(ids: string[]): Promise<void> {
    await this.engine.pool.query(sql('register_dags'), [ids, ids.map((id) => this.dags.dags.get(id)?.options.pausedOnCreation ?? false)]);
    await registerAssetConsumers(this.engine.pool, [...this.dags.dags.values()]);
    await declarePools(this.engine.pool, this.dags.dags.values());
  }

  /** This scheduler's heartbeat row (health reports read it); a missed beat is only logged. */
  private async heartbeat(): Promise<void> {
    try {
      await this.engine.pool.query(sql('scheduler_heartbeat'), [this.schedulerId, os.hostname(), process.pid, WEIR_VERSION, 3 * this.safetyTickMs]);
    } catch (err) {
      logger.warn({ err: toError(err).message }, 'scheduler heartbeat failed; the next safety tick tries again');
    }
  }

  private async listen(): Promise<void> {
    this.listener = await Listener.open({
      url: this.engine.url,
      channels: ['weir_dag_changed', 'weir_assets'],
      applicationName: 'weir-scheduler-listen',
      name: 'scheduler',
      onNotification: (msg) => {
        if (msg.channel === 'weir_assets' || this.assetDags().some((g) => g.dag.id === msg.payload)) void this.checkAssets();
        if (msg.payload && this.scheduled.has(msg.payload)) void this.tick(msg.payload);
      },
      // An unpause sent while disconnected reached nobody: look at every DAG now rather than at the safety tick.
      onReconnect: () => {
        for (const id of this.dagIds) void this.tick(id);
        void this.checkAssets();
      },
    });
  }

  /**
   * Create the runs due now for one DAG. Ticks of one DAG never overlap; a tick that
   * arrives during one runs again right after it.
   */
  tick(dagId: string): Promise<void> {
    const s = this.scheduled.get(dagId);
    if (!s || this.state !== 'running') return Promise.resolve();
    if (s.running) {
      s.again = true;
      return s.running;
    }
    s.running = (async () => {
      do {
        s.again = false;
        try {
          await this.createDueRuns(s);
        } catch (err) {
          logger.error({ dag_id: dagId, err: toError(err).message }, 'scheduler tick failed; the next tick retries');
        }
      } while (s.again && this.state === 'running');
    })().finally(() => (s.running = undefined));
    return s.running;
  }

  private async createDueRuns(s: Scheduled): Promise<string[]> {
    const dagId = s.graph.dag.id;
    const { rows } = await this.engine.pool.query<{ is_paused: boolean; last_logical_date: Date | null }>(sql('dag_schedule_state'), [dagId]);
    const state = rows[0]!;
    if (state.is_paused) return [];
    const due = dueIntervals(s.timetable, {
      now: this.now(),
      lastLogicalDate: state.last_logical_date ? DateTime.fromJSDate(state.last_logical_date, { zone: s.timetable.timezone }) : undefined,
    });
    if (!due.length) return [];
    const conf = validateParams(s.graph.dag, {});
    const { created } = await createRuns(
      this.engine,
      s.graph,
      due.map((i) => ({
        runType: 'scheduled' as const,
        runId: scheduledRunId(dagId, i.logicalDate),
        conf,
        logicalDate: i.logicalDate.toJSDate(),
        dataIntervalStart: i.start.toJSDate(),
        dataIntervalEnd: i.end.toJSDate(),
      })),
    );
    if (created.length) logger.info({ dag_id: dagId, runs: created.length, first: created[0], last: created[created.length - 1] }, 'scheduled runs created');
    return created;
  }

  /**
   * Fire a DAG's bree job now, as its cron would (for tests and the benchmark).
   * Resolves with the moment bree fired (performance.now()), after any previous
   * tick thread of the job has exited.
   */
  async fireClock(dagId: string): Promise<number> {
    const bree = this.bree;
    if (!bree) throw new Error('no bree jobs: no DAG with a cron schedule');
    // bree refuses to start a job whose previous tick thread is still alive; wait for it.
    if (bree.workers.has(dagId)) {
      await new Promise<void>((resolve) => {
        const onDeleted = (name: string) => {
          if (name !== dagId) return;
          bree.off('worker deleted', onDeleted);
          resolve();
        };
        bree.on('worker deleted', onDeleted);
      });
    }
    let firedAt = 0;
    const onCreated = (name: string) => {
      if (name === dagId) firedAt = performance.now();
    };
    bree.on('worker created', onCreated);
    try {
      await bree.run(dagId);
    } finally {
      bree.off('worker created', onCreated);
    }
    return firedAt;
  }

  /**
   * Deadline alerts: each unfinished run past its DAG's deadline is marked alerted and its
   * alerts queued in one transaction, so one alert per run whichever scheduler finds it
   * first; this process's alerter sends them, with or without workers. Returns the runs.
   */
  async checkDeadlines(): Promise<string[]> {
    const alerted: string[] = [];
    for (const graph of this.dags.dags.values()) {
      const dl = graph.options.deadline;
      if (!dl) continue;
      const dagId = graph.dag.id;
      await withTransaction(this.engine.pool, async (client) => {
        const { rows } = await client.query<{ run_id: string; state: string; deadline: Date; created_at: Date; data_interval_end: Date }>(
          sql('missed_deadlines'), [dagId, dl.withinMs, dl.of, stateList(RUN_UNFINISHED)]);
        for (const r of rows) {
          const missed = { dagId, runId: r.run_id, state: r.state, deadline: r.deadline, of: dl.of, withinMs: dl.withinMs, createdAt: r.created_at, dataIntervalEnd: r.data_interval_end };
          const alerts = deadlineNotifications(missed, graph.options);
          if (alerts.length) await enqueueNotifications(this.engine, client, { dagId, runId: r.run_id }, alerts);
          logger.warn({ dag_id: dagId, run_id: r.run_id, deadline: r.deadline, alerts: alerts.length }, alerts.length ? 'run missed its deadline: alert queued' : 'run missed its deadline (the DAG has no alertRecipients or alertWebhooks)');
          alerted.push(r.run_id);
        }
      });
    }
    return alerted;
  }

  /** dagrunTimeoutMs: a run running longer fails, and its tasks are aborted. */
  async enforceRunTimeouts(): Promise<number> {
    let n = 0;
    for (const s of this.scheduled.values()) {
      const timeoutMs = s.graph.options.dagrunTimeoutMs;
      if (!timeoutMs) continue;
      const { rows } = await this.engine.pool.query<{ run_id: string }>(sql('overdue_runs'), [s.graph.dag.id, timeoutMs]);
      for (const r of rows) {
        if (await cancelRun(this.engine, s.graph, r.run_id, `timed out after ${timeoutMs} ms (dagrunTimeoutMs)`)) n++;
      }
    }
    return n;
  }

  /** Stop ticking; let a tick in progress finish. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const wasRunning = this.state === 'running';
      this.state = 'stopped';
      if (!wasRunning) return;
      if (this.timer) clearInterval(this.timer);
      if (this.fileTimer) clearInterval(this.fileTimer);
      for (const f of this.folders.values()) f.watch?.close();
      for (const step of [
        async () => this.scanning,
        async () => this.assetCheck,
        async () => {
          this.watcher.off('dags:changed', this.onChanged);
          await this.watcher.stop();
        },
        async () => this.bree?.stop(),
        async () => Promise.all([...this.scheduled.values()].map((s) => s.running)),
        async () => this.listener?.close(),
        async () => this.engine.pool.query(sql('scheduler_stopped'), [this.schedulerId]),
      ]) {
        await step().catch((err) => logger.warn({ err: toError(err).message }, 'scheduler shutdown step failed'));
      }
      logger.info({}, 'scheduler stopped');
    })();
    return this.stopping;
  }
}
