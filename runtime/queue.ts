/**
 * pg-boss carries task executions between processes: one job per task try on
 * the run's queue (`weir_task` unless a run says otherwise). Jobs are inserted
 * in the same transaction as the state change that makes the try runnable, and
 * settled in the transaction that claims it: from then on the task instance's
 * heartbeat, not the job, says whether the try is alive.
 */
import { PgBoss } from 'pg-boss';
import type pg from 'pg';
import { logger } from './log.ts';
import { toError } from './errors.ts';

export const TASK_QUEUE = 'weir_task';
export const ALERT_QUEUE = 'weir_alert';
export const WORK_CHANNEL = 'weir_work';
export const CANCEL_CHANNEL = 'weir_cancel';

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

/** Create a queue once per process (idempotent in the database). */
export async function ensureQueue(boss: PgBoss, name: string): Promise<void> {
  if (knownQueues.has(name)) return;
  const existing = await boss.getQueue(name);
  if (!existing) {
    await boss
      .createQueue(name, {
        // A job only lives from "runnable" to "claimed"; if a worker dies between fetch and
        // claim, pg-boss expires and re-delivers it.
        expireInSeconds: 120,
        retryLimit: 5,
        retryDelay: 1,
        deleteAfterSeconds: 3600,
      })
      .catch(async (err) => {
        if (!(await boss.getQueue(name))) throw err;
      });
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
