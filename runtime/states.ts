/**
 * State machines, spelled once, with Airflow's words. Mirrored in SQL by the
 * `weir.run_state` and `weir.ti_state` enum types (sql/migrations/0001_init.sql).
 */
export const RunState = {
  queued: 'queued',
  running: 'running',
  success: 'success',
  failed: 'failed',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];
export const RUN_FINISHED: ReadonlySet<RunState> = new Set([RunState.success, RunState.failed]);

export const TaskState = {
  none: 'none',
  scheduled: 'scheduled',
  queued: 'queued',
  running: 'running',
  success: 'success',
  failed: 'failed',
  up_for_retry: 'up_for_retry',
  upstream_failed: 'upstream_failed',
  skipped: 'skipped',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];
/** States a task instance never leaves (until `weir clear`). */
export const TASK_FINISHED: ReadonlySet<TaskState> = new Set([
  TaskState.success,
  TaskState.failed,
  TaskState.upstream_failed,
  TaskState.skipped,
]);
/** States from which a worker may claim a task instance. */
export const TASK_CLAIMABLE: ReadonlySet<TaskState> = new Set([TaskState.queued, TaskState.up_for_retry]);

export const TriggerRule = {
  all_success: 'all_success',
  all_failed: 'all_failed',
  all_done: 'all_done',
  one_success: 'one_success',
  one_failed: 'one_failed',
  none_failed: 'none_failed',
  none_failed_min_one_success: 'none_failed_min_one_success',
  none_skipped: 'none_skipped',
  always: 'always',
} as const;
export type TriggerRule = (typeof TriggerRule)[keyof typeof TriggerRule];
export const TRIGGER_RULES = Object.values(TriggerRule) as TriggerRule[];
