/**
 * Airflow 3's REST API shapes (its published v2 OpenAPI document), as zod schemas that
 * both validate weir's answers' types and generate /api/v2/openapi.json, and the
 * mapping of weir's rows onto them. Fields weir has no notion of are present with
 * Airflow's empty value (null, [], -1 for map_index) so clients that read them work.
 */
import { z } from '@hono/zod-openapi';
import { parseInstanceId, type DagGraph } from '../../loader/graph.ts';
import type { RunRow, TryRow } from '../../read/runs.ts';
import type { TaskState } from '../../states.ts';

const date = z.string().nullable().openapi({ format: 'date-time' });
const iso = (d: Date | string | null | undefined): string | null => (d == null ? null : new Date(d).toISOString());
const seconds = (ms: number | null | undefined): number | null => (ms == null ? null : ms / 1000);

export const HTTPExceptionResponse = z.object({ detail: z.union([z.string(), z.record(z.string(), z.unknown())]) }).openapi('HTTPExceptionResponse');
export const HTTPValidationError = z.object({
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() })),
}).openapi('HTTPValidationError');

export const DagTag = z.object({ name: z.string(), dag_id: z.string(), dag_display_name: z.string() }).openapi('DagTagResponse');

export const DAGResponse = z.object({
  dag_id: z.string(),
  dag_display_name: z.string(),
  is_paused: z.boolean(),
  is_stale: z.boolean(),
  last_parsed_time: date,
  last_expired: date,
  bundle_name: z.string().nullable(),
  bundle_version: z.string().nullable(),
  relative_fileloc: z.string().nullable(),
  fileloc: z.string(),
  description: z.string().nullable(),
  timetable_summary: z.string().nullable(),
  timetable_description: z.string().nullable(),
  tags: z.array(DagTag),
  max_active_tasks: z.number().int(),
  max_active_runs: z.number().int().nullable(),
  max_consecutive_failed_dag_runs: z.number().int(),
  has_task_concurrency_limits: z.boolean(),
  has_import_errors: z.boolean(),
  next_dagrun_logical_date: date,
  next_dagrun_data_interval_start: date,
  next_dagrun_data_interval_end: date,
  next_dagrun_run_after: date,
  owners: z.array(z.string()),
  file_token: z.string(),
}).openapi('DAGResponse');

export const DAGCollectionResponse = z.object({ dags: z.array(DAGResponse), total_entries: z.number().int() }).openapi('DAGCollectionResponse');

export const DAGDetailsResponse = DAGResponse.extend({
  catchup: z.boolean(),
  dag_run_timeout: z.string().nullable(),
  start_date: date,
  end_date: date,
  is_paused_upon_creation: z.boolean().nullable(),
  params: z.record(z.string(), z.unknown()).nullable(),
  timezone: z.string().nullable(),
  last_parsed: date,
  default_args: z.record(z.string(), z.unknown()).nullable(),
  doc_md: z.string().nullable(),
  owner_links: z.record(z.string(), z.string()).nullable(),
  /** weir's addition: the params as one JSON Schema (what the trigger form is built from). */
  params_schema: z.record(z.string(), z.unknown()).nullable(),
}).openapi('DAGDetailsResponse');

export const DAGPatchBody = z.object({ is_paused: z.boolean() }).openapi('DAGPatchBody');

export const TaskResponse = z.object({
  task_id: z.string(),
  task_display_name: z.string(),
  owner: z.string().nullable(),
  trigger_rule: z.string(),
  retries: z.number(),
  retry_delay: z.object({ __type: z.literal('TimeDelta'), days: z.number(), seconds: z.number(), microseconds: z.number() }).nullable(),
  retry_exponential_backoff: z.boolean(),
  execution_timeout: z.object({ __type: z.literal('TimeDelta'), days: z.number(), seconds: z.number(), microseconds: z.number() }).nullable(),
  queue: z.string().nullable(),
  pool: z.string().nullable(),
  pool_slots: z.number().nullable(),
  downstream_task_ids: z.array(z.string()),
  doc_md: z.string().nullable(),
  operator_name: z.string(),
  is_mapped: z.boolean(),
  params: z.record(z.string(), z.unknown()).nullable(),
}).openapi('TaskResponse');
export const TaskCollectionResponse = z.object({ tasks: z.array(TaskResponse), total_entries: z.number().int() }).openapi('TaskCollectionResponse');

export const DAGRunResponse = z.object({
  dag_run_id: z.string(),
  dag_id: z.string(),
  logical_date: date,
  queued_at: date,
  start_date: date,
  end_date: date,
  duration: z.number().nullable(),
  data_interval_start: date,
  data_interval_end: date,
  run_after: z.string().openapi({ format: 'date-time' }),
  last_scheduling_decision: date,
  run_type: z.string(),
  state: z.enum(['queued', 'running', 'success', 'failed']),
  triggered_by: z.string().nullable(),
  triggering_user_name: z.string().nullable(),
  conf: z.record(z.string(), z.unknown()).nullable(),
  note: z.string().nullable(),
  dag_versions: z.array(z.unknown()),
  bundle_version: z.string().nullable(),
  dag_display_name: z.string(),
}).openapi('DAGRunResponse');
export const DAGRunCollectionResponse = z.object({ dag_runs: z.array(DAGRunResponse), total_entries: z.number().int() }).openapi('DAGRunCollectionResponse');

export const TriggerDAGRunPostBody = z.object({
  dag_run_id: z.string().regex(/^[A-Za-z0-9_.:+~-]{1,250}$/, 'letters, digits and _ . : + ~ - only').nullable().optional(),
  logical_date: z.string().datetime({ offset: true }).nullable().optional(),
  data_interval_start: z.string().datetime({ offset: true }).nullable().optional(),
  data_interval_end: z.string().datetime({ offset: true }).nullable().optional(),
  run_after: z.string().datetime({ offset: true }).nullable().optional(),
  conf: z.record(z.string(), z.unknown()).nullable().optional(),
  note: z.string().max(1000).nullable().optional(),
}).strict().openapi('TriggerDAGRunPostBody');

export const DAGRunPatchBody = z.object({
  state: z.enum(['failed']).optional().openapi({ description: 'weir can only cancel (mark failed) a run through the API' }),
  note: z.string().max(1000).nullable().optional(),
}).strict().openapi('DAGRunPatchBody');

export const DAGRunClearBody = z.object({
  dry_run: z.boolean().default(true),
  only_failed: z.boolean().default(false),
}).strict().openapi('DAGRunClearBody');

const TI_STATE = z.enum(['scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped']).nullable();

/** The fields a task instance and one of its tries share in Airflow's shapes. */
const taskInstanceCommon = {
  task_id: z.string(),
  dag_id: z.string(),
  dag_run_id: z.string(),
  map_index: z.number().int(),
  start_date: date,
  end_date: date,
  duration: z.number().nullable(),
  state: TI_STATE,
  try_number: z.number().int(),
  max_tries: z.number().int(),
  task_display_name: z.string(),
  dag_display_name: z.string(),
  hostname: z.string().nullable(),
  unixname: z.string().nullable(),
  pool: z.string(),
  pool_slots: z.number().int(),
  queue: z.string().nullable(),
  priority_weight: z.number().nullable(),
  operator: z.string().nullable(),
  operator_name: z.string().nullable(),
  pid: z.number().nullable(),
  executor: z.string().nullable(),
  executor_config: z.string(),
  dag_version: z.unknown().nullable(),
};

export const TaskInstanceResponse = z.object({
  ...taskInstanceCommon,
  id: z.string(),
  logical_date: date,
  run_after: z.string().openapi({ format: 'date-time' }),
  queued_when: date,
  scheduled_when: date,
  note: z.string().nullable(),
  rendered_map_index: z.string().nullable(),
  rendered_fields: z.record(z.string(), z.unknown()),
  trigger: z.unknown().nullable(),
  triggerer_job: z.unknown().nullable(),
}).openapi('TaskInstanceResponse');
export const TaskInstanceCollectionResponse = z.object({ task_instances: z.array(TaskInstanceResponse), total_entries: z.number().int() }).openapi('TaskInstanceCollectionResponse');

export const TaskInstanceHistoryResponse = z.object({
  ...taskInstanceCommon,
  queued_dttm: date,
  scheduled_dttm: date,
  /** weir's addition: the try's error, when it failed. */
  error: z.string().nullable(),
}).openapi('TaskInstanceHistoryResponse');
export const TaskInstanceHistoryCollectionResponse = z.object({ task_instances: z.array(TaskInstanceHistoryResponse), total_entries: z.number().int() }).openapi('TaskInstanceHistoryCollectionResponse');

export const StructuredLogMessage = z.object({
  timestamp: date,
  event: z.string(),
  level: z.string().optional(),
}).catchall(z.unknown()).openapi('StructuredLogMessage');
export const TaskInstancesLogResponse = z.object({
  content: z.array(StructuredLogMessage),
  continuation_token: z.string().nullable(),
}).openapi('TaskInstancesLogResponse');

export const XComResponseNative = z.object({
  key: z.string(),
  timestamp: z.string().openapi({ format: 'date-time' }),
  logical_date: date,
  map_index: z.number().int(),
  task_id: z.string(),
  dag_id: z.string(),
  run_id: z.string(),
  dag_display_name: z.string(),
  task_display_name: z.string(),
  value: z.unknown(),
}).openapi('XComResponseNative');

export const ImportErrorResponse = z.object({
  import_error_id: z.number().int(),
  timestamp: z.string().openapi({ format: 'date-time' }),
  filename: z.string(),
  bundle_name: z.string().nullable(),
  stack_trace: z.string(),
}).openapi('ImportErrorResponse');
export const ImportErrorCollectionResponse = z.object({ import_errors: z.array(ImportErrorResponse), total_entries: z.number().int() }).openapi('ImportErrorCollectionResponse');

export const VersionInfo = z.object({ version: z.string(), git_version: z.string().nullable() }).openapi('VersionInfo');

const ComponentHealth = z.object({ status: z.string().nullable() });
export const HealthInfoResponse = z.object({
  metadatabase: ComponentHealth,
  scheduler: ComponentHealth.extend({ latest_scheduler_heartbeat: date }),
  triggerer: ComponentHealth.extend({ latest_triggerer_heartbeat: date }),
  dag_processor: ComponentHealth.extend({ latest_dag_processor_heartbeat: date }).nullable(),
  /** weir's addition: every registered worker with its last heartbeat. */
  workers: z.array(z.object({ worker_id: z.string(), status: z.string(), last_seen_at: date, queue: z.string(), running: z.number() })),
}).openapi('HealthInfoResponse');

// ---- mapping weir's rows onto the shapes ----

/** Airflow has no "none": a task instance not scheduled yet has state null. */
export function tiState(state: TaskState): z.infer<typeof TI_STATE> {
  return state === 'none' ? null : state;
}

export function dagRun(r: RunRow & { created_at?: Date }): z.infer<typeof DAGRunResponse> {
  return {
    dag_run_id: r.run_id,
    dag_id: r.dag_id,
    logical_date: iso(r.logical_date),
    queued_at: iso(r.created_at ?? null),
    start_date: iso(r.start_date),
    end_date: iso(r.end_date),
    duration: seconds(r.duration_ms),
    data_interval_start: iso(r.data_interval_start),
    data_interval_end: iso(r.data_interval_end),
    run_after: iso(r.logical_date)!,
    last_scheduling_decision: null,
    run_type: r.run_type,
    state: r.state,
    triggered_by: null,
    triggering_user_name: null,
    conf: (r.conf ?? null) as Record<string, unknown> | null,
    note: r.note,
    dag_versions: [],
    bundle_version: null,
    dag_display_name: r.dag_id,
  };
}

export interface ApiTaskInstanceRow {
  dag_id: string;
  run_id: string;
  logical_date: Date;
  queue: string;
  task_id: string;
  state: TaskState;
  try_number: number;
  max_tries: number;
  queued_at: Date | null;
  start_date: Date | null;
  end_date: Date | null;
  duration_ms: number | null;
  hostname: string | null;
}

function mapped(instance: string): { task_id: string; map_index: number; rendered_map_index: string | null } {
  const { taskId, mapIndex } = parseInstanceId(instance);
  return { task_id: taskId, map_index: mapIndex, rendered_map_index: mapIndex < 0 ? null : String(mapIndex) };
}

export function taskInstance(t: ApiTaskInstanceRow): z.infer<typeof TaskInstanceResponse> {
  return {
    id: `${t.run_id}/${t.task_id}`,
    // A mapped task's instance: its task's id and its index, as Airflow's.
    ...mapped(t.task_id),
    dag_id: t.dag_id, dag_run_id: t.run_id,
    logical_date: iso(t.logical_date), run_after: iso(t.logical_date)!,
    start_date: iso(t.start_date), end_date: iso(t.end_date), duration: seconds(t.duration_ms),
    state: tiState(t.state), try_number: t.try_number, max_tries: t.max_tries,
    task_display_name: t.task_id, dag_display_name: t.dag_id, hostname: t.hostname, unixname: null,
    pool: 'default_pool', pool_slots: 1, queue: t.queue, priority_weight: null, operator: 'weir_task', operator_name: 'weir_task',
    queued_when: iso(t.queued_at), scheduled_when: null, pid: null, executor: null, executor_config: '{}', note: null,
    rendered_fields: {}, trigger: null, triggerer_job: null, dag_version: null,
  };
}

export function taskTry(t: ApiTaskInstanceRow, tr: TryRow): z.infer<typeof TaskInstanceHistoryResponse> {
  return {
    task_id: parseInstanceId(t.task_id).taskId, dag_id: t.dag_id, dag_run_id: t.run_id, map_index: parseInstanceId(t.task_id).mapIndex,
    start_date: iso(tr.start_date), end_date: iso(tr.end_date), duration: seconds(tr.duration_ms),
    state: tiState(tr.state), try_number: tr.try_number, max_tries: t.max_tries,
    task_display_name: t.task_id, dag_display_name: t.dag_id, hostname: tr.hostname, unixname: null,
    pool: 'default_pool', pool_slots: 1, queue: t.queue, priority_weight: null, operator: 'weir_task', operator_name: 'weir_task',
    queued_dttm: null, scheduled_dttm: null, pid: null, executor: null, executor_config: '{}', dag_version: null,
    error: tr.error,
  };
}

const timeDelta = (ms: number | undefined) => (ms === undefined ? null : { __type: 'TimeDelta' as const, days: Math.floor(ms / 86_400_000), seconds: Math.floor((ms % 86_400_000) / 1000), microseconds: (ms % 1000) * 1000 });

export function task(graph: DagGraph, taskId: string): z.infer<typeof TaskResponse> {
  const t = graph.tasks.get(taskId)!;
  return {
    task_id: t.id, task_display_name: t.id, owner: graph.dag.options.owner ?? null, trigger_rule: t.triggerRule,
    retries: t.retries, retry_delay: timeDelta(t.retryDelayMs), retry_exponential_backoff: t.retryExponentialBackoff,
    execution_timeout: timeDelta(t.timeoutMs), queue: t.queue, pool: t.pool ?? 'default_pool', pool_slots: t.poolSlots,
    downstream_task_ids: graph.downstream.get(t.id) ?? [], doc_md: t.description ?? null, operator_name: 'weir_task', is_mapped: t.mapOver !== undefined, params: null,
  };
}

export const PatchTaskInstanceBody = z.object({
  new_state: z.enum(['success', 'failed']),
  note: z.null().optional().openapi({ description: 'weir keeps no task-instance notes' }),
  include_upstream: z.literal(false).optional(),
  include_downstream: z.literal(false).optional(),
  include_future: z.literal(false).optional(),
  include_past: z.literal(false).optional(),
}).strict().openapi('PatchTaskInstanceBody');

export const BackfillPostBody = z.object({
  dag_id: z.string(),
  from_date: z.string().datetime({ offset: true }),
  to_date: z.string().datetime({ offset: true }),
  run_backwards: z.literal(false).default(false).openapi({ description: 'weir creates backfill runs oldest first' }),
  dag_run_conf: z.record(z.string(), z.unknown()).default({}),
  reprocess_behavior: z.enum(['none', 'failed']).default('none').openapi({ description: 'failed: clear and re-run failed runs in the range' }),
  max_active_runs: z.number().int().min(1).optional().openapi({ description: "ignored: the DAG's maxActiveRuns applies" }),
}).strict().openapi('BackfillPostBody');

export const BackfillResponse = z.object({
  id: z.number().int().nullable().openapi({ description: 'weir keeps no backfill objects: null' }),
  dag_id: z.string(),
  from_date: z.string(),
  to_date: z.string(),
  dag_run_conf: z.record(z.string(), z.unknown()),
  is_paused: z.boolean(),
  reprocess_behavior: z.string(),
  max_active_runs: z.number().int(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  updated_at: z.string(),
  dag_display_name: z.string(),
  /** weir's additions: what the backfill did. */
  created_runs: z.number().int(),
  rerun_failed: z.number().int(),
  skipped_successful: z.number().int(),
  skipped_in_progress: z.number().int(),
}).openapi('BackfillResponse');

export const DryRunBackfillCollectionResponse = z.object({
  backfills: z.array(z.object({ logical_date: z.string() })),
  total_entries: z.number().int(),
}).openapi('DryRunBackfillCollectionResponse');
