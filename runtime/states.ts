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
/** Runs that hold a slot under maxActiveRuns once admitted, and that a cancel can still end. */
export const RUN_UNFINISHED: ReadonlySet<RunState> = new Set([RunState.queued, RunState.running]);

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
/** States a task instance is still on its way out of (every state not in TASK_FINISHED). */
export const TASK_UNFINISHED: ReadonlySet<TaskState> = new Set(
  (Object.values(TaskState) as TaskState[]).filter((s) => !TASK_FINISHED.has(s)),
);
/** Outcomes that fail a run when a leaf ends in them, and that `weir clear --failed` re-runs. */
export const TASK_FAILED: ReadonlySet<TaskState> = new Set([TaskState.failed, TaskState.upstream_failed]);

/** A state set as the `text[]` parameter SQL compares with (`state = ANY($n::weir.ti_state[])`). */
export function stateList<S extends string>(set: ReadonlySet<S>): S[] {
  return [...set];
}

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
