/**
 * Where a run stands, for a task that reports on it (Airflow's
 * `dag_run.get_task_instances()`): each task's state, tries and last error, and the
 * data-quality results of each task's latest try that ran checks. Typically read by a
 * final notification task with `triggerRule: 'all_done'`, which runs whatever failed.
 *
 * ```ts
 * import { runStatus } from 'weir/tasks/run-status';
 * const status = await runStatus(ctx);
 * const failed = status.tasks.filter((t) => t.state === 'failed');
 * ```
 */
import type pg from 'pg';
import { getRunDetail } from '../runtime/read/runs.ts';
import type { TaskState } from '../runtime/states.ts';
import { withWeirDatabase } from './postgres.ts';

export interface RunStatus {
  tasks: { taskId: string; state: TaskState; tryNumber: number; lastError: string | null }[];
  checks: { taskId: string; name: string; severity: 'warn' | 'error'; passed: boolean; failing: number }[];
}

/** The run's task states and check results (stored errors are already redacted). */
export async function runStatus(target: { runId: string }, options: { db?: pg.Pool } = {}): Promise<RunStatus> {
  const run = await withWeirDatabase('run-status', (pool) => getRunDetail(pool, target.runId), options.db);
  return {
    tasks: run.task_instances.map((t) => ({ taskId: t.task_id, state: t.state, tryNumber: t.try_number, lastError: t.last_error })),
    checks: run.checks.map((c) => ({ taskId: c.task_id, name: c.name, severity: c.severity, passed: c.passed, failing: Number(c.failing) })),
  };
}
