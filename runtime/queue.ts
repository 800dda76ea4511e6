/**
 * pg-boss carries task executions between processes: one job per task try on
 * the run's queue (`weir_task` unless a run says otherwise). Jobs are inserted
 * in the same transaction as the state change that makes the try runnable; a
 * worker completes a job right after its guarded claim (without waiting for it: a
 * job left active by a crash is re-delivered, and the guard turns it away), or
 * fails it when the claim itself could not be written (it is retried at once): from
 * then on the task instance's heartbeat, not the job, says whether the try is
 * alive. weir's state is the truth and a job only says "look here": a job that
 * a worker cannot run (its DAG is not loaded there) is completed and its task
 * instance marked handed back for a worker that has the DAG to adopt.
 */
import { PgBoss } from 'pg-boss';
import type pg from 'pg';
import { logger } from './log.ts';
import { toError } from './errors.ts';
import { DEFAULT_TASK_QUEUE } from './authoring/dag.ts';

export const TASK_QUEUE = 'weir_task';
export { DEFAULT_TASK_QUEUE };

/**
 * The pg-boss queue that carries a try: its run's queue (`weir_task`, or a `dags test`
 * run's own), or `<run queue>__<task queue>` for a task routed to a queue of its own.
 */
export function jobQueue(runQueue: string, taskQueue: string = DEFAULT_TASK_QUEUE): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? runQueue : `${runQueue}__${taskQueue}`;
}
export const ALERT_QUEUE = 'weir_alert';
export const WORK_CHANNEL = 'weir_work';
export const CANCEL_CHANNEL = 'weir_cancel';
/** A worker handed back tries of a DAG it cannot run (payload: dag_id); workers that have it adopt them. */
export const HANDED_BACK_CHANNEL = 'weir_handed_back';

/** What a task job carries. */
export interface TaskJobData {
  dagId: string;
  runId: string;
  taskId: string;
  /** The try this job starts (1-based). */
  tryNumber: number;
}

/** pg-boss expects `{ executeSql }`; this runs its statements inside our transaction. */
export function bossDb(client: pg.PoolClient | pg.Client | pg.Pool) {
  return { executeSql: (text: string, values?: unknown[]) => client.query(text, values as unknown[]) };
}

export interface BossOptions {
  /** pg-boss maintenance (expiring jobs, retention). On for workers, off for short CLI commands. */
  supervise?: boolean;
  max?: number;
}

export async function startBoss(url: string, options: BossOptions = {}): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    schema: 'pgboss',
    max: options.max ?? 4,
    supervise: options.supervise ?? false,
    schedule: false,
    migrate: true,
    application_name: 'weir-boss',
  });
  boss.on('error', (err) => logger.error({ err: toError(err).message }, 'pg-boss error'));
  boss.on('warning', (w) => logger.warn({ warning: String((w as { message?: string }).message ?? w) }, 'pg-boss warning'));
  await boss.start();
  return boss;
}

const knownQueues = new Set<string>();

/**
 * How task queues are configured so that pg-boss never gives up on a job while
 * weir's state says its try is queued. The ways pg-boss ends a job, audited
 * against pg-boss 12: `fail()` (weir fails a task job only to send it back at once when
 * its claim could not be written; the retry limit brings it back), expiry of an active
 * job past `expireInSeconds` followed by the retry limit (only a worker dying
 * between fetch and claim leaves a job active: it is re-delivered, practically
 * without limit), `retentionSeconds` for jobs never fetched (default 14 days: a
 * DAG no worker runs for two weeks would lose its jobs, so ~63 years here), and
 * `deleteAfterSeconds`, which only removes completed or failed jobs.
 */
export const TASK_QUEUE_OPTIONS = {
  expireInSeconds: 120,
  retryLimit: 1_000_000,
  retryDelay: 1,
  retentionSeconds: 2_000_000_000,
  deleteAfterSeconds: 3600,
} as const;

/** Create a queue once per process, or bring an older one's options up to date (idempotent). */
export async function ensureQueue(boss: PgBoss, name: string): Promise<void> {
  if (knownQueues.has(name)) return;
  const existing = await boss.getQueue(name);
  if (!existing) {
    await boss.createQueue(name, TASK_QUEUE_OPTIONS).catch(async (err) => {
      if (!(await boss.getQueue(name))) throw err;
    });
  } else if ((existing.retentionSeconds !== TASK_QUEUE_OPTIONS.retentionSeconds || existing.retryLimit !== TASK_QUEUE_OPTIONS.retryLimit)) {
    await boss.updateQueue(name, TASK_QUEUE_OPTIONS);
  }
  knownQueues.add(name);
}

/**
 * Insert one job per try, inside the caller's transaction. Workers are woken at
 * commit (`notify`), unless the tries are delayed (a notification before
 * `startAfter` would find nothing) or the caller's statement notified already.
 */
export async function enqueueTries(
  boss: PgBoss,
  client: pg.PoolClient,
  queue: string,
  tries: TaskJobData[],
  startAfter?: Date,
  notify = startAfter === undefined,
): Promise<void> {
  if (!tries.length) return;
  await boss.insert(
    queue,
    tries.map((data) => ({ data, ...(startAfter ? { startAfter } : {}) })),
    { db: bossDb(client) },
  );
  if (notify) await client.query('SELECT pg_notify($1, $2)', [WORK_CHANNEL, queue]);
}
