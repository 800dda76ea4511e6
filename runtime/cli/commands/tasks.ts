/** `weir tasks logs|output|checks|test`. */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { parseConf } from '../../engine/params.ts';
import { getCheckResults, getTaskOutput, getTaskTries, latestTryChecks } from '../../read/runs.ts';
import { runInline } from '../../worker/execute.ts';
import { readConfInput } from '../conf-input.ts';
import { duration, formatChecks, time } from '../render.ts';
import { confOptions, nonNegativeInt, positiveInt, print, type Cli, type ConfFlags } from '../options.ts';
import { instanceId } from '../../loader/graph.ts';
import type { LogLine, QueuedNotification } from '../../authoring/dag.ts';

type Json = { json?: boolean };
type MapIndex = { mapIndex?: number };

const formatLine = (l: LogLine) => `${l.level.toUpperCase().padEnd(5)} ${l.msg}${l.fields ? ` ${JSON.stringify(l.fields)}` : ''}`;

async function logsCommand(cli: Cli, runId: string, task: string, opts: Json & MapIndex & { try?: number; all?: boolean }): Promise<void> {
  const { pool } = await cli.session().database();
  const taskId = instanceId(task, opts.mapIndex ?? -1);
  const rows = await getTaskTries(pool, runId, taskId);
  const chosen = opts.all ? rows : opts.try ? rows.filter((r) => r.try_number === opts.try) : [rows[rows.length - 1]!];
  if (!chosen.length) throw new InputError('no_try', `task "${taskId}" of run ${runId} has no try ${opts.try} (tries: ${rows.map((r) => r.try_number).join(', ')})`);
  print(Boolean(opts.json), { run_id: runId, task_id: taskId, tries: chosen }, () =>
    chosen.map((t) => [
      `--- try ${t.try_number}: ${t.state} (${time(t.start_date)} → ${time(t.end_date)}, ${duration(t.duration_ms)}${t.hostname ? `, ${t.hostname}` : ''})`,
      ...t.logs.map((l) => `${l.ts} ${formatLine(l)}`),
      ...(t.error ? [`error: ${t.error}`, ...(t.error_stack ? [t.error_stack] : [])] : []),
    ].join('\n')).join('\n'));
}

/** A task's stored output (Airflow's XCom view): the JSON value itself, pretty-printed, with or without --json. */
async function outputCommand(cli: Cli, runId: string, task: string, opts: Json & MapIndex): Promise<void> {
  const { pool } = await cli.session().database();
  const taskId = instanceId(task, opts.mapIndex ?? -1);
  const ti = await getTaskOutput(pool, runId, taskId);
  print(Boolean(opts.json), { run_id: runId, task_id: taskId, try_number: ti.try_number, output: ti.output }, () => JSON.stringify(ti.output, null, 2));
}

/** A task's data-quality check results (weir/tasks/quality): its latest try's, or one try's. */
async function checksCommand(cli: Cli, runId: string, taskId: string, opts: Json & { try?: number }): Promise<void> {
  const { pool } = await cli.session().database();
  const all = await getCheckResults(pool, runId, taskId);
  const rows = opts.try ? all.filter((r) => r.try_number === opts.try) : latestTryChecks(all);
  if (!rows.length) throw new InputError('no_checks', `task "${taskId}" of run ${runId} recorded no checks${opts.try ? ` in try ${opts.try}` : ''}`);
  print(Boolean(opts.json), { run_id: runId, task_id: taskId, checks: rows.map((r) => ({ ...r, failing: Number(r.failing) })) }, () => formatChecks(rows));
  if (rows.some((r) => !r.passed && r.severity === 'error')) cli.setExit(1);
}

/** One task, run in this process with the worker's own inline path; nothing is written to the database. */
async function testCommand(cli: Cli, dagId: string, taskId: string, opts: ConfFlags & Json & MapIndex & { outputs?: string }): Promise<void> {
  const graph = await cli.session().dag(dagId);
  const task = graph.tasks.get(taskId);
  if (!task) throw new InputError('unknown_task', `DAG "${dagId}" has no task "${taskId}" (tasks: ${graph.order.join(', ')})`);
  const params = parseConf(graph.dag, await readConfInput(opts));
  let outputs: Record<string, unknown> = {};
  if (opts.outputs) {
    try {
      outputs = JSON.parse(opts.outputs) as Record<string, unknown>;
    } catch (err) {
      throw new InputError('bad_outputs_json', `--outputs is not valid JSON: ${(err as Error).message}`);
    }
  }
  // A mapped task runs on one item of the list given for the task it is mapped over.
  const mapIndex = task.mapOver !== undefined ? opts.mapIndex ?? 0 : -1;
  let mapItem: unknown;
  if (task.mapOver !== undefined) {
    const list = outputs[task.mapOver];
    if (!Array.isArray(list) || mapIndex >= list.length) {
      throw new InputError('bad_outputs_json', `task "${taskId}" is mapped over "${task.mapOver}": give its list with --outputs '{"${task.mapOver}": [...]}' and pick an item with --map-index (default 0)`);
    }
    mapItem = list[mapIndex];
  }
  const logs: LogLine[] = [];
  const now = new Date();
  const outcome = await runInline(graph, {
    dagId, runId: `test__${now.toISOString()}`, taskId, params, logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now, tryNumber: 1, maxTries: task.retries, mapIndex,
  }, new Map(Object.entries(outputs)), new AbortController(), (l) => {
    logs.push(l);
    if (!opts.json) process.stderr.write(`${formatLine(l)}\n`);
  }, mapItem);
  // What the task queues (emails, webhook posts) and its state writes are shown, not sent or stored: nothing leaves `tasks test`.
  const queued: QueuedNotification[] = outcome.kind === 'success' ? outcome.notifications ?? [] : [];
  const stateWrites = Object.fromEntries((outcome.kind === 'success' ? outcome.stateWrites ?? [] : []).map(([k, v]) => [k, v === null ? null : JSON.parse(v)]));
  print(Boolean(opts.json), {
    dag_id: dagId, task_id: taskId, state: outcome.kind, output: outcome.kind === 'success' ? outcome.output : null,
    error: outcome.kind === 'failed' ? outcome.error.message : outcome.kind === 'skipped' ? outcome.message : null, logs, queued_notifications: queued, state_writes: stateWrites,
  }, () =>
    outcome.kind === 'success' ? `${taskId}: success\n${JSON.stringify(outcome.output, null, 2)}` : outcome.kind === 'skipped' ? `${taskId}: skipped (${outcome.message})` : `${taskId}: failed: ${outcome.error.message}`);
  if (outcome.kind === 'failed') cli.setExit(1);
}

export function registerTaskCommands(program: Command, cli: Cli): void {
  const tasks = program.command('tasks').description('task instances');
  tasks.command('logs <run_id> <task_id>')
    .description('log lines of a task instance\'s tries (default: the last try)')
    .option('--try <n>', 'this try number', positiveInt('--try'))
    .option('--all', 'every try')
    .option('--map-index <n>', 'instance n of a mapped task', nonNegativeInt('--map-index'))
    .option('--json', 'print JSON')
    .action((runId: string, taskId: string, opts: Json & MapIndex & { try?: number; all?: boolean }) => logsCommand(cli, runId, taskId, opts));
  tasks.command('output <run_id> <task_id>')
    .description('the output a successful task stored (what downstream tasks read with ctx.output)')
    .option('--map-index <n>', 'instance n of a mapped task (without it, a mapped task\'s outputs as one list)', nonNegativeInt('--map-index'))
    .option('--json', 'print JSON (with the run, task and try)')
    .action((runId: string, taskId: string, opts: Json & MapIndex) => outputCommand(cli, runId, taskId, opts));
  tasks.command('checks <run_id> <task_id>')
    .description('the data-quality check results a task recorded (weir/tasks/quality); exit 1 if an error check failed')
    .option('--try <n>', 'one try (default: the latest that ran checks)', positiveInt('--try'))
    .option('--json', 'print JSON')
    .action((runId: string, taskId: string, opts: Json & { try?: number }) => checksCommand(cli, runId, taskId, opts));
  confOptions(tasks.command('test <dag_id> <task_id>').description('run one task in this process; nothing is written to the database'))
    .option('--outputs <json>', 'outputs of upstream tasks, as {"task_id": value}')
    .option('--map-index <n>', 'for a mapped task: the item of its list to run on (default 0)', nonNegativeInt('--map-index'))
    .option('--json', 'print JSON')
    .action((dagId: string, taskId: string, opts: ConfFlags & Json & MapIndex & { outputs?: string }) => testCommand(cli, dagId, taskId, opts));
}
