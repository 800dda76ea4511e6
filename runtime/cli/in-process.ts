/**
 * A run executed by this process alone, as `weir dags test` and `weir demo` do: a
 * private queue (so a `weir worker` running elsewhere never takes its tasks), a
 * worker on it, optionally an alerter for the emails its tasks queue, live progress
 * until the run ends, and everything stopped and the queue removed afterwards.
 */
import crypto from 'node:crypto';
import type { Session } from './session.ts';
import type { DagGraph } from '../loader/graph.ts';
import { createRun, type RunType } from '../engine/runs.ts';
import { Worker } from '../worker/worker.ts';
import type { Alerter } from '../worker/alerter.ts';
import { followRun } from './progress.ts';
import { WeirError } from '../errors.ts';
import type { RunState } from '../states.ts';
import { taskQueuesOf } from '../loader/graph.ts';

export interface InProcessOptions {
  runType: RunType;
  conf: Record<string, unknown>;
  /** The private queue's name starts with this (`weir_test`, `weir_demo`). */
  queuePrefix: string;
  concurrency: number;
  shutdownGraceMs: number;
  /** Run an alerter (polling this often, in seconds) for the emails the run's tasks queue. */
  alerterPollingSeconds?: number;
  /** Called before the run is created (subscribe to the alerter here). */
  onStart?: (parts: { alerter: Alerter | undefined }) => void;
  onCreated?: (runId: string) => void;
}

export interface InProcessRun {
  runId: string;
  state: RunState;
  engine: Awaited<ReturnType<Session['engine']>>;
}

/** Run `graph` once in this process; `after` sees the finished run while the worker and alerter still run. */
export async function runInProcess<T>(session: Session, graph: DagGraph, options: InProcessOptions, after: (run: InProcessRun) => Promise<T>): Promise<T> {
  const engine = await session.engine();
  const queue = `${options.queuePrefix}_${crypto.randomBytes(4).toString('hex')}`;
  const dags = await session.dags();
  // Its private queue, and every task queue: the run is this process's alone.
  const worker = new Worker(engine, dags, { queue, queues: taskQueuesOf(dags.dags.values()), concurrency: options.concurrency, shutdownGraceMs: options.shutdownGraceMs });
  let alerter: Alerter | undefined;
  await worker.start();
  try {
    if (options.alerterPollingSeconds !== undefined) {
      const { Alerter } = await import('../worker/alerter.ts');
      alerter = new Alerter(engine.boss, { pollingIntervalSeconds: options.alerterPollingSeconds });
    }
    options.onStart?.({ alerter });
    await alerter?.start();
    const now = new Date();
    const created = await createRun(engine, graph, { runType: options.runType, conf: options.conf, logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now, queue });
    if (!created) throw new WeirError('run_exists', 'the run was not created');
    options.onCreated?.(created.runId);
    const state = await followRun(engine.url, engine.pool, created.runId);
    return await after({ runId: created.runId, state, engine });
  } finally {
    await alerter?.stop();
    await worker.stop();
    await engine.boss.deleteQueue(queue).catch(() => {});
  }
}
