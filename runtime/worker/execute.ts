/**
 * Running one try of a task function: timeout through the signal, control-flow
 * errors (SkipTask, NonRetryableError), and the stored-output size limit.
 */
import type { LogLine, QueuedNotification, TaskDefinition, TaskContext } from '../authoring/dag.ts';
import type { DagGraph } from '../loader/graph.ts';
import { createTaskContext, createTaskLogger, MAX_LOG_LINES, type TryInput } from './context.ts';
import { NonRetryableError, SkipTask, toError } from '../errors.ts';
import type { TryOutcome } from '../engine/runs.ts';
import { redact } from '../redact.ts';
import { findUnstorable } from '../storable.ts';

/**
 * Largest task output stored, as JSON: 1 MiB. Outputs are for small results
 * (counts, ids, summaries); stage bulk data in a table and return its name.
 */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

export class TaskTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`task timed out after ${timeoutMs} ms (timeoutMs)`);
    this.name = 'TaskTimeoutError';
  }
}

/**
 * Run the task function; never throws. `controller` is aborted on timeout, cancel or
 * shutdown; `onSettled` is called once the function's own promise has settled (an
 * aborted try whose code never settles is still running: its isolate must be ended).
 */
export async function runTry(task: TaskDefinition, ctx: TaskContext<any, any>, controller: AbortController, onSettled?: () => void, mapItem?: unknown): Promise<TryOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(controller.signal.reason instanceof Error ? controller.signal.reason : new Error(String(controller.signal.reason ?? 'aborted')));
    if (controller.signal.aborted) onAbort();
    else controller.signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  if (task.timeoutMs !== undefined) timer = setTimeout(() => controller.abort(new TaskTimeoutError(task.timeoutMs!)), task.timeoutMs);
  try {
    // A task that ignores its signal still loses the race: its try ends at the timeout.
    const running = Promise.resolve().then(() => task.fn(ctx, mapItem));
    running.then(() => onSettled?.(), () => onSettled?.());
    const result = await Promise.race([running, aborted]);
    let json: string | undefined;
    try {
      // Masked as stored: a secret the task read (ctx.secret) never reaches its output.
      json = redact(JSON.stringify(result ?? null));
    } catch (err) {
      return { kind: 'failed', error: new NonRetryableError(`output of task "${task.id}" is not JSON-serialisable: ${toError(err).message}`), retryable: false };
    }
    const parsed: unknown = JSON.parse(json);
    const unstorable = findUnstorable(parsed);
    if (unstorable) {
      return { kind: 'failed', error: new NonRetryableError(`output of task "${task.id}" cannot be stored: it has ${unstorable} (PostgreSQL's jsonb cannot hold it); clean the value or return a summary instead`), retryable: false };
    }
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > MAX_OUTPUT_BYTES) {
      return {
        kind: 'failed',
        error: new NonRetryableError(`output of task "${task.id}" is ${bytes} bytes, over the ${MAX_OUTPUT_BYTES}-byte limit for stored outputs; stage large data in a table and return its name or a summary instead`),
        retryable: false,
      };
    }
    return { kind: 'success', output: parsed };
  } catch (thrown) {
    const error = toError(thrown);
    if (error instanceof SkipTask || error.name === 'SkipTask') return { kind: 'skipped', message: error.message };
    const retryable = !(error instanceof NonRetryableError || error.name === 'NonRetryableError');
    return { kind: 'failed', error, retryable };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * A successful try of a task that mapped tasks expand over must have returned a list no
 * longer than each one's maxMapLength (Airflow's max_map_length); otherwise the try fails
 * for good, saying so, and the mapped tasks never expand.
 */
export function checkMapLists(graph: DagGraph, task: TaskDefinition, outcome: Extract<TryOutcome, { kind: 'success' }>): TryOutcome {
  // Most DAGs map nothing: their tries' ends skip the scan.
  if (!graph.mapped) return outcome;
  for (const mapped of graph.tasks.values()) {
    if (mapped.mapOver !== task.id) continue;
    const list = outcome.output;
    if (!Array.isArray(list)) {
      return { kind: 'failed', retryable: false, error: new NonRetryableError(`output of task "${task.id}" must be a list: task "${mapped.id}" is mapped over it (got ${list === null ? 'null' : typeof list})`) };
    }
    if (list.length > mapped.maxMapLength) {
      return { kind: 'failed', retryable: false, error: new NonRetryableError(`output of task "${task.id}" has ${list.length} items, over the maxMapLength of ${mapped.maxMapLength} of task "${mapped.id}", which is mapped over it; return fewer items (larger chunks) or raise maxMapLength`) };
    }
  }
  return outcome;
}

/**
 * One try in this thread (no isolate): its context built from the graph and the
 * claim, its log lines to `onLog`, the notifications it queues carried on a success. The
 * worker runs inline tries with it (`isolation: 'inline'`, DAGs built in code), and
 * `weir tasks test` runs its one task with it.
 */
export async function runInline(graph: DagGraph, input: TryInput, outputs: Map<string, unknown>, controller: AbortController, onLog: (line: LogLine) => void, mapItem?: unknown): Promise<TryOutcome> {
  const task = graph.tasks.get(input.taskId)!;
  const notifications: QueuedNotification[] = [];
  const stateWrites = new Map<string, string | null>();
  const ctx = createTaskContext({
    ...input,
    timezone: graph.options.timezone,
    upstream: task.upstream,
    outputs,
    log: createTaskLogger(MAX_LOG_LINES, onLog),
    signal: controller.signal,
    notifications,
    stateWrites,
  });
  const outcome = await runTry(task, ctx, controller, undefined, mapItem);
  return outcome.kind === 'success' ? { ...outcome, notifications, stateWrites: [...stateWrites] } : outcome;
}
