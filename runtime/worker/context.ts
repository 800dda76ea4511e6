/**
 * The context a task function receives, and the logger whose lines are kept
 * with the try that wrote them.
 */
import { DateTime } from 'luxon';
import type { LogLine, QueuedEmail, QueuedNotification, QueuedWebhook, TaskContext, TaskLogger, TaskRef } from '../authoring/dag.ts';
import { NonRetryableError } from '../errors.ts';
import { redact } from '../redact.ts';
import { toStorableJson, toStorableText } from '../storable.ts';
import { readDagState, stateEntry } from '../engine/state.ts';
import { taskSecrets } from '../engine/task-secrets.ts';

/**
 * Lines kept per try; past this, one line says how many more were dropped at the
 * end of the try (a try's log is not a data channel, and lines are shipped to the
 * database as they are written, so the first ones are the ones kept).
 */
export const MAX_LOG_LINES = 5000;

/** A task logger that hands each line to `sink` as it is written, up to `maxLines`. */
export function createTaskLogger(maxLines: number, sink: (line: LogLine) => void): TaskLogger {
  let written = 0;
  const write = (level: LogLine['level']) => (msg: string, fields?: Record<string, unknown>) => {
    written++;
    if (written > maxLines) {
      if (written === maxLines + 1) sink({ ts: new Date().toISOString(), level: 'warn', msg: `log limit of ${maxLines} lines reached: further lines of this try are dropped` });
      return;
    }
    // Made storable here: a NUL in one line must not fail the batch that records it.
    const line: LogLine = { ts: new Date().toISOString(), level, msg: toStorableText(redact(String(msg))) };
    if (fields && Object.keys(fields).length) line.fields = toStorableJson(JSON.parse(redact(JSON.stringify(fields)))) as Record<string, unknown>;
    sink(line);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** The run-side facts of one try, as a claim returns them. */
export interface TryInput {
  dagId: string;
  runId: string;
  taskId: string;
  params: Record<string, unknown>;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  tryNumber: number;
  maxTries: number;
  /** A mapped task instance's index (-1 when not mapped); `taskId` is then its task's id. */
  mapIndex: number;
}

export interface ContextInput extends TryInput {
  timezone: string;
  upstream: string[];
  outputs: Map<string, unknown>;
  log: TaskLogger;
  signal: AbortSignal;
  /** Where `ctx.queueEmail` and `ctx.queueWebhook` put what they queue; it goes with the try's success. */
  notifications: QueuedNotification[];
  /** What `ctx.state.set` wrote: key → JSON text (null deletes); stored with the try's success. */
  stateWrites: Map<string, string | null>;
}


export function createTaskContext(input: ContextInput): TaskContext<any, any> {
  const zone = input.timezone;
  // Built when first read: most tasks read none of the three (three luxon DateTimes were
  // a tenth of a no-op try's time in its isolate).
  let logicalDate: DateTime | undefined;
  let dataIntervalStart: DateTime | undefined;
  let dataIntervalEnd: DateTime | undefined;
  return {
    params: input.params,
    dagId: input.dagId,
    runId: input.runId,
    taskId: input.taskId,
    get logicalDate() {
      return (logicalDate ??= DateTime.fromJSDate(input.logicalDate, { zone }));
    },
    get dataIntervalStart() {
      return (dataIntervalStart ??= DateTime.fromJSDate(input.dataIntervalStart, { zone }));
    },
    get dataIntervalEnd() {
      return (dataIntervalEnd ??= DateTime.fromJSDate(input.dataIntervalEnd, { zone }));
    },
    tryNumber: input.tryNumber,
    maxTries: input.maxTries,
    mapIndex: input.mapIndex,
    log: input.log,
    signal: input.signal,
    // Typed per task by TaskContext (a non-upstream read is a type error); checked here too, for untyped code.
    output: ((task: TaskRef | string) => {
      const id = typeof task === 'string' ? task : task?.id;
      if (!input.upstream.includes(id)) {
        throw new NonRetryableError(`task "${input.taskId}" read the output of "${id}", which is not one of its upstream tasks (${input.upstream.join(', ') || 'none'}); add it to \`upstream\``);
      }
      if (!input.outputs.has(id)) {
        throw new NonRetryableError(`task "${input.taskId}" read the output of "${id}", but "${id}" did not succeed in this run (skipped or failed upstream)`);
      }
      return input.outputs.get(id) as never;
    }) as TaskContext['output'],
    // JSON snapshots: they cross from the isolate and are stored on the alert queue as JSON.
    queueEmail(email: QueuedEmail) {
      input.notifications.push(JSON.parse(redact(JSON.stringify(email))) as QueuedEmail);
    },
    state: {
      async get(key: string) {
        const entry = stateEntry(key, undefined);
        if ('problem' in entry) throw new NonRetryableError(entry.problem);
        if (input.stateWrites.has(key)) {
          const text = input.stateWrites.get(key);
          return text === null || text === undefined ? undefined : JSON.parse(text);
        }
        return (await readDagState(input.dagId, key))?.value as never;
      },
      set(key: string, value: unknown) {
        const entry = stateEntry(key, value);
        if ('problem' in entry) throw new NonRetryableError(entry.problem);
        input.stateWrites.set(entry.key, entry.text === null ? null : redact(entry.text));
      },
    },
    ...taskSecrets(`${input.dagId}/${input.runId}/${input.taskId}/${input.tryNumber}`),
    queueWebhook(message: QueuedWebhook) {
      if (typeof message?.webhook !== 'string' || typeof message.text !== 'string') throw new NonRetryableError('ctx.queueWebhook takes { webhook: name, text }');
      input.notifications.push({ webhook: message.webhook, text: redact(message.text) });
    },
  };
}
