/** `weir trigger`, `weir backfill`, `weir runs list|show|cancel` and `weir clear`. */
import { Option, type Command } from 'commander';
import { WeirError } from '../../errors.ts';
import { parseConf } from '../../engine/params.ts';
import { cancelRun, clearRun, createRun } from '../../engine/runs.ts';
import { getRun, getRunDetail, listRuns } from '../../read/runs.ts';
import { RunState } from '../../states.ts';
import { followRun } from '../progress.ts';
import { readConfInput } from '../conf-input.ts';
import { table, duration, time, formatRun } from '../render.ts';
import { confOptions, positiveInt, print, type Cli, type ConfFlags } from '../options.ts';

type Json = { json?: boolean };

async function triggerCommand(cli: Cli, dagId: string, opts: ConfFlags & Json & { wait?: boolean }): Promise<void> {
  const session = cli.session();
  const graph = await session.dag(dagId);
  // Everything is validated before the database is touched: no run on bad input.
  const conf = parseConf(graph.dag, await readConfInput(opts));
  const engine = await session.engine();
  const now = new Date();
  const created = await createRun(engine, graph, { runType: 'manual', conf, logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
  if (!created) throw new WeirError('run_exists', 'run was not created');
  if (!opts.wait) {
    print(Boolean(opts.json), { run_id: created.runId, dag_id: dagId, state: 'queued', conf }, () => `created run ${created.runId} (queued)${created.admitted ? '' : ' — waiting for a slot: maxActiveRuns reached'}`);
    return;
  }
  if (!opts.json) process.stderr.write(`created run ${created.runId}\n`);
  const state = await followRun(engine.url, engine.pool, created.runId);
  const detail = await getRunDetail(engine.pool, created.runId);
  print(Boolean(opts.json), detail, () => formatRun(detail));
  if (state !== 'success') cli.setExit(1);
}

async function backfillCommand(cli: Cli, dagId: string, opts: ConfFlags & Json & { from: string; to: string; rerunFailed?: boolean; dryRun?: boolean }): Promise<void> {
  const session = cli.session();
  const graph = await session.dag(dagId);
  const conf = parseConf(graph.dag, await readConfInput(opts));
  const { runBackfill } = await import('../backfill.ts');
  const summary = await runBackfill(session, graph, { from: opts.from, to: opts.to, conf, rerunFailed: Boolean(opts.rerunFailed), dryRun: Boolean(opts.dryRun), json: Boolean(opts.json) });
  print(Boolean(opts.json), summary, () => summary.text);
  if (summary.interrupted) cli.setExit(130);
}

async function listCommand(cli: Cli, opts: Json & { dag?: string; state?: RunState; limit: number; after?: string }): Promise<void> {
  const { pool } = await cli.session().database();
  const { runs: rows, next } = await listRuns(pool, { dagId: opts.dag, state: opts.state, limit: opts.limit, after: opts.after });
  print(Boolean(opts.json), { runs: rows, next }, () => [
    rows.length
      ? table(['run_id', 'dag_id', 'type', 'state', 'logical_date', 'started', 'duration'], rows.map((r) => [r.run_id, r.dag_id, r.run_type, r.state, time(r.logical_date), time(r.start_date), duration(r.duration_ms)]))
      : 'no runs',
    ...(next ? ['', `more: weir runs list --after ${next}${opts.dag ? ` --dag ${opts.dag}` : ''}${opts.state ? ` --state ${opts.state}` : ''}${opts.limit !== 25 ? ` --limit ${opts.limit}` : ''}`] : []),
  ].join('\n'));
}

async function showCommand(cli: Cli, runId: string, opts: Json): Promise<void> {
  const { pool } = await cli.session().database();
  const detail = await getRunDetail(pool, runId);
  print(Boolean(opts.json), detail, () => formatRun(detail));
  if (detail.state === 'failed') cli.setExit(1);
}

async function cancelCommand(cli: Cli, runId: string, opts: Json): Promise<void> {
  const session = cli.session();
  const engine = await session.engine();
  const run = await getRun(engine.pool, runId);
  const graph = (await session.dags()).dags.get(run.dag_id);
  const cancelled = await cancelRun(engine, graph, runId);
  print(Boolean(opts.json), { run_id: runId, cancelled }, () => (cancelled ? `cancelled run ${runId}` : `run ${runId} had already finished (${run.state}); nothing to cancel`));
}

async function clearCommand(cli: Cli, runId: string, opts: Json & { failed?: boolean }): Promise<void> {
  const session = cli.session();
  const engine = await session.engine();
  const run = await getRun(engine.pool, runId);
  const graph = await session.dag(run.dag_id);
  const cleared = await clearRun(engine, graph, runId, Boolean(opts.failed));
  print(Boolean(opts.json), { run_id: runId, cleared }, () => (cleared.length ? `cleared ${cleared.length} task(s) of ${runId}: ${cleared.join(', ')}` : 'nothing to clear'));
}

export function registerRunCommands(program: Command, cli: Cli): void {
  confOptions(program.command('trigger <dag_id>').description('create a run now (manual), validated against the DAG\'s params'), 'one run parameter (repeatable); values parse as JSON when they can')
    .option('--wait', 'follow the run and exit 0 on success, 1 on failure')
    .option('--json', 'print JSON')
    .action((dagId: string, opts: ConfFlags & Json & { wait?: boolean }) => triggerCommand(cli, dagId, opts));

  confOptions(program.command('backfill <dag_id>')
    .description('one run per data interval whose logical date is in [--from, --to], oldest first, under maxActiveRuns')
    .requiredOption('--from <date>', 'first logical date (ISO, in the DAG\'s time zone)')
    .requiredOption('--to <date>', 'last logical date (ISO, in the DAG\'s time zone; a day without a time includes the whole day)'))
    .option('--rerun-failed', 'clear and re-run intervals whose run failed')
    .option('--dry-run', 'print what would be created; change nothing')
    .option('--json', 'print JSON')
    .action((dagId: string, opts: ConfFlags & Json & { from: string; to: string; rerunFailed?: boolean; dryRun?: boolean }) => backfillCommand(cli, dagId, opts));

  const runs = program.command('runs').description('DAG runs');
  runs.command('list')
    .description('newest runs first')
    .option('--dag <dag_id>', 'only this DAG')
    .addOption(new Option('--state <state>', 'only this state').choices(Object.values(RunState)))
    .option('--limit <n>', 'at most n runs', positiveInt('--limit'), 25)
    .option('--after <cursor>', 'the page after this one (the `next` cursor a page printed)')
    .option('--json', 'print JSON')
    .action((opts: Json & { dag?: string; state?: RunState; limit: number; after?: string }) => listCommand(cli, opts));
  runs.command('show <run_id>')
    .description('a run and every task instance: state, tries, start, end, duration, last error')
    .option('--json', 'print JSON')
    .action((runId: string, opts: Json) => showCommand(cli, runId, opts));
  runs.command('cancel <run_id>')
    .description('fail a run: running tasks are aborted, tasks not started are skipped')
    .option('--json', 'print JSON')
    .action((runId: string, opts: Json) => cancelCommand(cli, runId, opts));

  program.command('clear <run_id>')
    .description('re-run the tasks of a finished run (with --failed: only failed ones) and everything downstream')
    .option('--failed', 'only failed and upstream_failed tasks')
    .option('--json', 'print JSON')
    .action((runId: string, opts: Json & { failed?: boolean }) => clearCommand(cli, runId, opts));
}
