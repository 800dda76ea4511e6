/** `weir dags list|validate|show|test|pause|unpause|next` and `weir demo`. */
import { Option, type Command } from 'commander';
import { DateTime } from 'luxon';
import { unknownDag } from '../../loader/loader.ts';
import { InputError } from '../../errors.ts';
import { sql } from '../../database/sql.ts';
import { parseConf } from '../../engine/params.ts';
import { getRunDetail } from '../../read/runs.ts';
import { readConfInput } from '../conf-input.ts';
import { runInProcess } from '../in-process.ts';
import { table, formatRun } from '../render.ts';
import { confOptions, collect, positiveInt, print, type Cli, type ConfFlags } from '../options.ts';

type Json = { json?: boolean };

async function discover(cli: Cli) {
  const session = cli.session();
  const { discoverDags, defaultCacheDir } = await import('../../discovery/index.ts');
  return discoverDags(session.config.dagsFolder, { cacheDir: defaultCacheDir(session.config.home) });
}

async function listCommand(cli: Cli, opts: Json): Promise<void> {
  const result = await discover(cli);
  const { formatDagTable, toDagListJson } = await import('../../discovery/index.ts');
  const { pausedIfReachable } = await import('../paused.ts');
  const paused = await pausedIfReachable(cli.session().config);
  print(Boolean(opts.json), toDagListJson(result, { paused }), () => formatDagTable(result, { paused }));
  if (result.errors.length) cli.setExit(1);
}

async function validateCommand(cli: Cli, opts: Json): Promise<void> {
  const session = cli.session();
  const { validateDags, defaultCacheDir, formatDiagnostic } = await import('../../discovery/index.ts');
  const v = await validateDags(session.config.dagsFolder, { cacheDir: defaultCacheDir(session.config.home) });
  print(Boolean(opts.json), { ok: v.ok, dags: v.result.dags.length, errors: v.errors.map((e) => ({ ...e, message: formatDiagnostic(e) })) }, () =>
    v.ok ? `ok: ${v.result.dags.length} DAG(s), no problems` : [...v.errors.map(formatDiagnostic), '', `${v.errors.length} problem(s) in ${new Set(v.errors.map((e) => e.file)).size} file(s)`].join('\n'));
  if (!v.ok) cli.setExit(1);
}

async function showCommand(cli: Cli, dagId: string, opts: { format: 'tree' | 'mermaid' | 'dot' | 'json'; json?: boolean }): Promise<void> {
  const result = await discover(cli);
  const record = result.dags.find((d) => d.dagId === dagId);
  if (!record) throw unknownDag(dagId, result.dags.map((d) => d.dagId), result.broken.map((b) => b.file));
  const { renderGraph } = await import('../../discovery/index.ts');
  process.stdout.write(`${renderGraph(record, opts.json ? 'json' : opts.format)}\n`);
  if (record.errors.length) cli.setExit(1);
}

/** Like Airflow's `dags test`: the whole DAG, run by this process against the real database. */
async function testCommand(cli: Cli, dagId: string, opts: ConfFlags & Json): Promise<void> {
  const session = cli.session();
  const graph = await session.dag(dagId);
  const conf = parseConf(graph.dag, await readConfInput(opts));
  await runInProcess(session, graph, { runType: 'test', conf, queuePrefix: 'weir_test', concurrency: 8, shutdownGraceMs: 1000 }, async ({ runId, state, engine }) => {
    const detail = await getRunDetail(engine.pool, runId);
    print(Boolean(opts.json), detail, () => formatRun(detail));
    if (state !== 'success') cli.setExit(1);
  });
}

async function setPausedCommand(cli: Cli, dagId: string, paused: boolean): Promise<void> {
  await cli.session().dag(dagId);
  const { pool } = await cli.session().database();
  await pool.query(sql('set_paused'), [dagId, paused]);
  process.stdout.write(`${paused ? 'paused' : 'unpaused'} ${dagId}\n`);
}

async function nextCommand(cli: Cli, dagId: string, opts: { count: number; json?: boolean }): Promise<void> {
  const g = await cli.session().dag(dagId);
  const { nextRuns } = await import('../../schedule/timetable.ts');
  const tt = g.options.timetable;
  if (tt.kind === 'manual') throw new InputError('not_scheduled', `DAG "${dagId}" has no schedule (manual runs only)`);
  const next = nextRuns(tt, DateTime.now(), opts.count).map((i) => ({
    logical_date: i.iso.local.logicalDate,
    data_interval_start: i.iso.local.start,
    data_interval_end: i.iso.local.end,
    logical_date_utc: i.iso.utc.logicalDate,
    runs_after_utc: i.iso.utc.runAfter,
  }));
  print(Boolean(opts.json), { dag_id: dagId, schedule: tt.schedule, timezone: tt.timezone, next }, () =>
    tt.timezone === 'UTC'
      ? table(['logical date (UTC)', 'data interval', 'created after (UTC)'], next.map((n) => [n.logical_date, `[${n.data_interval_start}, ${n.data_interval_end})`, n.runs_after_utc]))
      : table([`logical date (${tt.timezone})`, `data interval (${tt.timezone})`, 'logical date (UTC)', 'created after (UTC)'], next.map((n) => [n.logical_date, `[${n.data_interval_start}, ${n.data_interval_end})`, n.logical_date_utc, n.runs_after_utc])));
}

async function demoCommand(cli: Cli, opts: { conf?: string; param?: string[]; json?: boolean; serve?: boolean }): Promise<void> {
  const { runDemo } = await import('../demo.ts');
  const { startServer } = await import('../../server/serve.ts');
  const { serverBanner } = await import('./server.ts');
  const { waitForSignal } = await import('./processes.ts');
  const session = cli.session();
  // The web UI shows the run as it goes. Port 8080 taken (a server already running): any free port.
  const server = await startServer(session).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'port_in_use') return startServer(session, { port: 0 });
    throw err;
  });
  if (!opts.json) process.stderr.write(`• ${serverBanner(server)}\n`);
  try {
    const result = await runDemo(session, { conf: opts.conf, pairs: opts.param, json: Boolean(opts.json) });
    const serve = opts.serve ?? false;
    print(Boolean(opts.json), result.summary, () => `${result.text}\n\n${serve ? `The web UI stays up at ${server.url} (Ctrl-C to stop).` : `Browse this run in the web UI: npm run demo -- --serve (or npx weir server).`}`);
    if (result.state !== 'success') cli.setExit(1);
    if (serve) await waitForSignal(async () => {});
  } finally {
    await server.close();
  }
}

export function registerDagsCommands(program: Command, cli: Cli): void {
  const dags = program.command('dags').description('DAG files');
  dags.command('list')
    .description('every DAG in WEIR_DAGS_FOLDER, read statically (no DAG code runs), with broken files and their errors')
    .option('--json', 'print JSON')
    .action((opts: Json) => listCommand(cli, opts));
  dags.command('validate')
    .description('type-check and validate every DAG file (syntax, types, ids, upstream, cycles, schedules); exit 1 if any is broken')
    .option('--json', 'print JSON')
    .action((opts: Json) => validateCommand(cli, opts));
  dags.command('show <dag_id>')
    .description('tasks, edges, schedule and params with defaults, read statically')
    .addOption(new Option('--format <format>', 'output format').choices(['tree', 'mermaid', 'dot', 'json']).default('tree'))
    .option('--json', 'same as --format json')
    .action((dagId: string, opts: { format: 'tree' | 'mermaid' | 'dot' | 'json'; json?: boolean }) => showCommand(cli, dagId, opts));
  confOptions(dags.command('test <dag_id>').description('run the whole DAG in this process against the real database (like Airflow\'s `dags test`)'))
    .option('--json', 'print JSON')
    .action((dagId: string, opts: ConfFlags & Json) => testCommand(cli, dagId, opts));
  dags.command('pause <dag_id>')
    .description('no scheduled runs for this DAG until unpaused (running runs go on)')
    .action((dagId: string) => setPausedCommand(cli, dagId, true));
  dags.command('unpause <dag_id>')
    .description('resume scheduling (with catchup off, only the latest interval is created: no burst)')
    .action((dagId: string) => setPausedCommand(cli, dagId, false));
  dags.command('next <dag_id>')
    .description('the next logical dates and data intervals, in the DAG\'s time zone and UTC')
    .option('-n, --count <n>', 'how many', positiveInt('--count'), 5)
    .option('--json', 'print JSON')
    .action((dagId: string, opts: { count: number; json?: boolean }) => nextCommand(cli, dagId, opts));

  program.command('demo')
    .description('run the flagship stock_prices DAG end to end on the zero-setup defaults')
    .option('--conf <json>', 'override run parameters')
    .option('-p, --param <key=value>', 'override one run parameter (repeatable)', collect)
    .option('--serve', 'keep the web UI running after the run, until Ctrl-C')
    .option('--json', 'print JSON')
    .action((opts: { conf?: string; param?: string[]; json?: boolean; serve?: boolean }) => demoCommand(cli, opts));
}
