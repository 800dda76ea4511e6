/**
 * The read model of runs, task instances, tries and workers: what the CLI prints and
 * what a server serves, read once here (each a statement in sql/queries). Reading only:
 * state changes live in runtime/engine.
 */
import type pg from 'pg';
import { sql, sqlText } from '../database/sql.ts';
import { InputError } from '../errors.ts';
import { slotReason, waitingReason } from '../engine/waiting.ts';
import { RUN_FINISHED, type RunState, type TaskState } from '../states.ts';
import type { LogLine } from '../authoring/dag.ts';

export interface RunRow {
  run_id: string;
  dag_id: string;
  state: RunState;
  run_type: string;
  logical_date: Date;
  data_interval_start: Date;
  data_interval_end: Date;
  conf: unknown;
  start_date: Date | null;
  end_date: Date | null;
  duration_ms: number | null;
  note: string | null;
  dag_hash: string | null;
  dag_file: string | null;
  /** Whether the run has a slot under maxActiveRuns (read by getRun only). */
  admitted?: boolean;
}

export interface TaskInstanceRow {
  /** `task[i]` for instance i of a mapped task. */
  task_id: string;
  /** A mapped task's instance: its task and index (null otherwise). */
  map_task: string | null;
  map_index: number | null;
  state: TaskState;
  try_number: number;
  max_tries: number;
  start_date: Date | null;
  end_date: Date | null;
  duration_ms: number | null;
  hostname: string | null;
  last_error: string | null;
}

export interface TryRow {
  try_number: number;
  state: TaskState;
  start_date: Date | null;
  end_date: Date | null;
  duration_ms: number | null;
  error: string | null;
  error_stack: string | null;
  hostname: string | null;
  dag_hash: string | null;
  logs: LogLine[];
}

/** A run, or InputError `unknown_run`. */
export async function getRun(pool: pg.Pool, runId: string): Promise<RunRow> {
  const { rows } = await pool.query<RunRow>(sql('get_run'), [runId]);
  if (!rows[0]) throw new InputError('unknown_run', `unknown run "${runId}" (see \`weir runs list\`)`);
  return rows[0];
}

export interface RunDetail extends RunRow {
  /** Why an unfinished run is not progressing, when something is in its way (engine/waiting.ts). */
  waiting: string | null;
  task_instances: TaskInstanceRow[];
  /** Data-quality check results of each task's latest try that ran checks. */
  checks: CheckResultRow[];
  /** Files the run's tries kept (weir/tasks/artifacts), without their content. */
  artifacts: ArtifactRow[];
}

export interface ArtifactRow {
  task_id: string;
  try_number: number;
  name: string;
  content_type: string;
  bytes: number;
  created_at: Date;
}

/** A run with every task instance, and what it waits for while unfinished. */
export async function getRunDetail(pool: pg.Pool, runId: string): Promise<RunDetail> {
  const run = await getRun(pool, runId);
  const { rows } = await pool.query<TaskInstanceRow>(sql('run_task_instances'), [runId]);
  const waiting = RUN_FINISHED.has(run.state) ? null : run.admitted === false ? await slotReason(pool, run.dag_id) : (await waitingReason(pool, runId)) ?? null;
  const checks = latestTryChecks((await pool.query<CheckResultRow>(sql('check_results'), [runId, null])).rows);
  const { rows: artifacts } = await pool.query<ArtifactRow>(sql('list_artifacts'), [runId]);
  return { ...run, waiting, task_instances: rows, checks, artifacts };
}

export interface RunPage {
  runs: RunRow[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

/** A page cursor: the (created_at, run_id) of a page's last row, opaque to callers. */
function encodeCursor(createdAt: string, runId: string): string {
  return Buffer.from(JSON.stringify([createdAt, runId])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string') && !Number.isNaN(Date.parse(value[0] as string))) return value as [string, string];
  } catch {
    // reported below
  }
  throw new InputError('bad_cursor', `--after "${cursor}" is not a page cursor (use the \`next\` value a previous page printed)`);
}

/** Newest runs first, optionally of one DAG and in one state, one keyset page at a time (list_runs.sql). */
export async function listRuns(pool: pg.Pool, filter: { dagId?: string; state?: RunState; limit: number; after?: string }): Promise<RunPage> {
  const [afterCreated, afterRun] = filter.after ? decodeCursor(filter.after) : [null, null];
  const { rows } = await pool.query<RunRow & { page_created_at: string }>(sqlText('list_runs'), [filter.dagId ?? null, filter.state ?? null, filter.limit + 1, afterCreated, afterRun]);
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  const next = rows.length > filter.limit && last ? encodeCursor(last.page_created_at, last.run_id) : null;
  return { runs: page.map(({ page_created_at: _key, ...run }) => run), next };
}

/** The tries of a task instance, oldest first (the running one included); InputError `no_tries` when there are none. */
export async function getTaskTries(pool: pg.Pool, runId: string, taskId: string): Promise<TryRow[]> {
  await getRun(pool, runId);
  const { rows } = await pool.query<TryRow>(sql('task_tries'), [runId, taskId]);
  if (!rows.length) {
    const { rows: mapped } = await pool.query<{ n: number }>(sql('mapped_instances'), [runId, taskId]);
    if (mapped[0]!.n) throw new InputError('mapped_task', `task "${taskId}" of run ${runId} is mapped into ${mapped[0]!.n} instances: pass --map-index 0 to ${mapped[0]!.n - 1}`);
    throw new InputError('no_tries', `task "${taskId}" of run ${runId} has no recorded tries (unknown task, or not run yet)`);
  }
  return rows;
}

/** A task instance's stored output; InputError `unknown_task` when the run has no such task, `no_output` when it has not succeeded. */
export async function getTaskOutput(pool: pg.Pool, runId: string, taskId: string): Promise<{ task_id: string; state: TaskState; try_number: number; output: unknown }> {
  await getRun(pool, runId);
  const { rows } = await pool.query<{ task_id: string; state: TaskState; try_number: number; output: unknown }>(sql('task_output'), [runId, taskId]);
  const ti = rows[0];
  if (!ti) throw new InputError('unknown_task', `run ${runId} has no task "${taskId}" (see \`weir runs show ${runId}\`)`);
  if (ti.state !== 'success') throw new InputError('no_output', `task "${taskId}" of run ${runId} has no output: it is ${ti.state}, and only a successful task stores one`);
  return ti;
}

/** Registered workers, live ones first. */
export async function listWorkers(pool: pg.Pool, limit: number): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query<Record<string, unknown>>(sql('list_workers'), [limit]);
  return rows;
}

export interface CheckResultRow {
  task_id: string;
  try_number: number;
  position: number;
  name: string;
  severity: 'warn' | 'error';
  passed: boolean;
  failing: string;
  sample: Record<string, unknown>[];
  checked_at: Date;
}

/** Data-quality check results of a run (weir/tasks/quality), optionally of one task: each task's latest try first. */
export async function getCheckResults(pool: pg.Pool, runId: string, taskId?: string): Promise<CheckResultRow[]> {
  await getRun(pool, runId);
  return (await pool.query<CheckResultRow>(sql('check_results'), [runId, taskId ?? null])).rows;
}

/** Only each task's latest try that recorded checks. */
export function latestTryChecks(rows: readonly CheckResultRow[]): CheckResultRow[] {
  const latest = new Map<string, number>();
  for (const r of rows) latest.set(r.task_id, Math.max(latest.get(r.task_id) ?? 0, r.try_number));
  return rows.filter((r) => r.try_number === latest.get(r.task_id));
}

/** One artifact with its content (the latest try's unless `tryNumber`); InputError `unknown_artifact`. */
export async function getArtifact(pool: pg.Pool, runId: string, taskId: string, name: string, tryNumber?: number): Promise<{ task_id: string; try_number: number; name: string; content_type: string; content: Buffer }> {
  const { rows } = await pool.query(sql('get_artifact'), [runId, taskId, tryNumber ?? null, name]);
  if (!rows[0]) throw new InputError('unknown_artifact', `run ${runId} has no artifact "${name}" of task "${taskId}"`);
  return rows[0];
}
