/**
 * Inside an isolate thread: run one try at a time of the task code its worker sends,
 * with the context a task expects (params, dates, typed outputs, log, signal). Log
 * lines go to the worker as they are written; the outcome goes back as JSON (outputs)
 * and a serialised error. Timeouts and cancels are decided by the worker, which tells
 * this thread to abort (ctx.signal) and terminates it if the code does not stop.
 */
import { parentPort } from 'node:worker_threads';
import type { Dag, QueuedNotification } from '../authoring/dag.ts';
import { NonRetryableError, toError } from '../errors.ts';
import { redact, registerEnvSecrets } from '../redact.ts';
import { createTaskContext, createTaskLogger } from './context.ts';
import { runTry } from './execute.ts';
import type { ToIsolate, FromIsolate, SerializedOutcome } from './isolates.ts';

const port = parentPort!;
// Before any task code runs: secrets of the environment are masked in this thread's lines and errors too.
registerEnvSecrets();
const modules = new Map<string, Promise<Dag>>();
const running = new Map<number, AbortController>();

function loadDag(moduleUrl: string): Promise<Dag> {
  let mod = modules.get(moduleUrl);
  if (!mod) {
    mod = import(moduleUrl).then((m: { default: Dag }) => m.default);
    modules.set(moduleUrl, mod);
    mod.catch(() => modules.delete(moduleUrl));
  }
  return mod;
}

const send = (msg: FromIsolate) => port.postMessage(msg);

/** Redacted here as well: secrets that task code registered (OAuth tokens) live in this thread only. */
function serialise(error: Error) {
  return { name: error.name, message: redact(error.message), stack: error.stack === undefined ? undefined : redact(error.stack) };
}

async function run(msg: Extract<ToIsolate, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  running.set(msg.id, controller);
  let settled = false;
  let outcome: SerializedOutcome;
  try {
    const dag = await loadDag(msg.moduleUrl);
    const task = dag.tasks.get(msg.taskId);
    if (!task) throw new NonRetryableError(`DAG "${msg.dagId}" has no task "${msg.taskId}" any more in ${msg.file} (the file changed after the run was created)`);
    const c = msg.ctx;
    const log = createTaskLogger(msg.maxLogLines, (line) => send({ type: 'log', id: msg.id, line }));
    const notifications: QueuedNotification[] = [];
    const stateWrites = new Map<string, string | null>();
    const ctx = createTaskContext({
      dagId: msg.dagId, runId: c.runId, taskId: msg.taskId, params: c.params,
      logicalDate: new Date(c.logicalDate), dataIntervalStart: new Date(c.dataIntervalStart), dataIntervalEnd: new Date(c.dataIntervalEnd),
      tryNumber: c.tryNumber, maxTries: c.maxTries, mapIndex: c.mapIndex, timezone: c.timezone, upstream: task.upstream,
      outputs: new Map(c.outputs), log, signal: controller.signal, notifications, stateWrites,
    });
    // The worker owns the timeout: a thread stuck in synchronous code cannot time itself out.
    const result = await runTry({ ...task, timeoutMs: undefined }, ctx, controller, () => (settled = true), c.mapItem);
    if (result.kind === 'success') outcome = { kind: 'success', outputJson: JSON.stringify(result.output ?? null), notifications, stateWrites: [...stateWrites] };
    else if (result.kind === 'skipped') outcome = result;
    else outcome = { kind: 'failed', error: serialise(result.error), retryable: result.retryable };
  } catch (err) {
    settled = true;
    const e = toError(err);
    outcome = { kind: 'failed', error: serialise(e), retryable: !(e instanceof NonRetryableError) };
  }
  running.delete(msg.id);
  send({ type: 'done', id: msg.id, outcome, settled });
}

port.on('message', (msg: ToIsolate) => {
  if (msg.type === 'run') void run(msg);
  else if (msg.type === 'abort') running.get(msg.id)?.abort(new Error(msg.reason));
  else if (msg.type === 'load') void loadDag(msg.moduleUrl).catch(() => {}).then(() => send({ type: 'loaded', moduleUrl: msg.moduleUrl }));
});
// Up: tries sent to this thread start now.
send({ type: 'ready' });
