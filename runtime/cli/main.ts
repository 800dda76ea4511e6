/**
 * The `weir` CLI (commander). Every command that prints data takes `--json`
 * (one JSON document on stdout, nothing else there; logs go to stderr).
 * Exit codes: 0 success, 1 a run or task failed, 2 bad usage or bad input.
 */
import { Command, CommanderError, Option } from 'commander';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { Session } from './session.ts';
import { unknownDag } from '../loader/loader.ts';
import { InputError, WeirError, toError } from '../errors.ts';
import { redact } from '../redact.ts';
import { sql } from '../database/sql.ts';
import { migrate } from '../database/migrator.ts';
import { parseConf } from '../engine/params.ts';
import { cancelRun, clearRun, createRun } from '../engine/runs.ts';
import { Worker } from '../worker/worker.ts';
import { createTaskContext, createTaskLogger, MAX_LOG_LINES } from '../worker/context.ts';
import { runTry } from '../worker/execute.ts';
import { followRun } from './progress.ts';
import { reportConnectionBudget } from '../database/connect.ts';
import { readConfInput } from './conf-input.ts';
import { waitingReason } from '../engine/waiting.ts';
import { table, duration, time, oneLine } from './render.ts';
import { ensureQueue } from '../queue.ts';
import { logger } from '../log.ts';
import type { LogLine, QueuedEmail } from '../authoring/dag.ts';
import { RUN_FINISHED, RunState } from '../states.ts';

const WEIR_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InputError('bad_option', `${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

/** Build the program; `session` is created on first use so `--help` opens nothing. */
export function buildProgram(getSession: () => Session, setExit: (code: number) => void): Command {
  const program = new Command('weir')
    .description('Airflow-style DAG scheduler for Node.js: TypeScript DAGs run on PostgreSQL')
    .version(WEIR_VERSION, '-V, --version', 'print weir\'s version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const db = program.command('db').description('weir\'s own database');
  db.command('migrate')
    .description('apply weir\'s migrations and pg-boss\'s schema (idempotent)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const session = getSession();
      const { resolveDatabaseUrl, openDatabaseUrl } = await import('../database/connect.ts');
      const { url } = await resolveDatabaseUrl(session.config);
      const database = await openDatabaseUrl(url, { migrate: false, skipVersionCheck: true });
      let applied: string[];
      try {
        applied = await migrate(database.pool);
      } finally {
        await database.close();
      }
      const engine = await session.engine();
      await ensureQueue(engine.boss, 'weir_task');
      await ensureQueue(engine.boss, 'weir_alert');
      print(Boolean(opts.json), { applied }, () => (applied.length ? `applied ${applied.join(', ')}` : 'weir\'s schema is up to date'));
    });

  db.command('stop')
    .description('stop the embedded PostgreSQL of this WEIR_HOME (the next weir command starts it again)')
    .action(async () => {
      const session = getSession();
      if (session.config.databaseUrl) throw new InputError('not_embedded', 'WEIR_DATABASE_URL is set: weir does not run that server, so it will not stop it');
      const { stopEmbeddedPostgres } = await import('../database/embedded.ts');
      const stopped = await stopEmbeddedPostgres(session.config.home);
      process.stdout.write(stopped ? 'embedded PostgreSQL stopped\n' : 'embedded PostgreSQL was not running\n');
    });

  const dags = program.command('dags').description('DAG files');
  const discover = async (typeCheck = false) => {
    const session = getSession();
    const { discoverDags, validateDags, defaultCacheDir } = await import('../discovery/index.ts');
    const options = { cacheDir: defaultCacheDir(session.config.home) };
    if (typeCheck) return { validated: await validateDags(session.config.dagsFolder, options) };
    return { result: await discoverDags(session.config.dagsFolder, options) };
  };

  dags.command('list')
    .description('every DAG in WEIR_DAGS_FOLDER, read statically (no DAG code runs), with broken files and their errors')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { result } = await discover();
      const { formatDagTable, toDagListJson } = await import('../discovery/index.ts');
      const { pausedIfReachable } = await import('./paused.ts');
      const paused = await pausedIfReachable(getSession().config);
      print(Boolean(opts.json), toDagListJson(result!, { paused }), () => formatDagTable(result!, { paused }));
      if (result!.errors.length) setExit(1);
    });
  dags.command('validate')
    .description('type-check and validate every DAG file (syntax, types, ids, upstream, cycles); exit 1 if any is broken')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { validated } = await discover(true);
      const { formatDiagnostic } = await import('../discovery/index.ts');
      const v = validated!;
      print(Boolean(opts.json), { ok: v.ok, dags: v.result.dags.length, errors: v.errors.map((e) => ({ ...e, message: formatDiagnostic(e) })) }, () =>
        v.ok ? `ok: ${v.result.dags.length} DAG(s), no problems` : [...v.errors.map(formatDiagnostic), '', `${v.errors.length} problem(s) in ${new Set(v.errors.map((e) => e.file)).size} file(s)`].join('\n'));
      if (!v.ok) setExit(1);
    });
  dags.command('show <dag_id>')
    .description('tasks, edges, schedule and params with defaults, read statically')
    .addOption(new Option('--format <format>', 'output format').choices(['tree', 'mermaid', 'dot', 'json']).default('tree'))
    .option('--json', 'same as --format json')
    .action(async (dagId: string, opts: { format: 'tree' | 'mermaid' | 'dot' | 'json'; json?: boolean }) => {
      const { result } = await discover();
      const record = result!.dags.find((d) => d.dagId === dagId);
      if (!record) throw unknownDag(dagId, result!.dags.map((d) => d.dagId), result!.broken.map((b) => b.file));
      const { renderGraph } = await import('../discovery/index.ts');
      process.stdout.write(`${renderGraph(record, opts.json ? 'json' : opts.format)}\n`);
      if (record.errors.length) setExit(1);
    });
  dags.command('test <dag_id>')
    .description('run the whole DAG in this process against the real database (like Airflow\'s `dags test`)')
    .option('--conf <json>', 'run parameters as a JSON object (`-` reads it from standard input)')
    .option('--conf-file <path>', 'run parameters from a JSON file (at most 1 MiB)')
    .option('-p, --param <key=value>', 'one run parameter (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { conf?: string; confFile?: string; param?: string[]; json?: boolean }) => {
      const session = getSession();
      const graph = await session.dag(dagId);
      const conf = parseConf(graph.dag, await readConfInput(opts));
      const engine = await session.engine();
      // A private queue: only this process runs the test run's tasks.
      const queue = `weir_test_${crypto.randomBytes(4).toString('hex')}`;
      const worker = new Worker(engine, await session.dags(), { queue, concurrency: 8, shutdownGraceMs: 1000 });
      await worker.start();
      try {
        const now = new Date();
        const created = await createRun(engine, graph, { runType: 'test', conf, logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now, queue });
        if (!created) throw new WeirError('run_exists', 'test run was not created');
        const state = await followRun(engine.url, engine.pool, created.runId);
        await printRun(engine.pool, created.runId, Boolean(opts.json));
        if (state !== 'success') setExit(1);
      } finally {
        await worker.stop();
        await engine.boss.deleteQueue(queue).catch(() => {});
      }
    });

  const setPaused = (paused: boolean) => async (dagId: string) => {
    await getSession().dag(dagId);
    const { pool } = await getSession().database();
    await pool.query(sql('set_paused'), [dagId, paused]);
    process.stdout.write(`${paused ? 'paused' : 'unpaused'} ${dagId}\n`);
  };
  dags.command('pause <dag_id>')
    .description('no scheduled runs for this DAG until unpaused (running runs go on)')
    .action(setPaused(true));
  dags.command('unpause <dag_id>')
    .description('resume scheduling (with catchup off, only the latest interval is created: no burst)')
    .action(setPaused(false));
  dags.command('next <dag_id>')
    .description('the next logical dates and data intervals, in the DAG\'s time zone and UTC')
    .option('-n, --count <n>', 'how many', positiveInt('--count'), 5)
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { count: number; json?: boolean }) => {
      const g = await getSession().dag(dagId);
      const { nextRuns } = await import('../schedule/timetable.ts');
      const tt = g.options.timetable;
      if (tt.kind === 'manual') throw new InputError('not_scheduled', `DAG "${dagId}" has no schedule (manual runs only)`);
      const next = nextRuns(tt, DateTime.now(), opts.count).map((i) => ({
        logical_date: i.iso.local.logicalDate,
        data_interval_start: i.iso.local.start,
        data_interval_end: i.iso.local.end,
        logical_date_utc: i.iso.utc.logicalDate,
        runs_after_utc: i.iso.utc.runAfter,
      }));
      print(Boolean(opts.json), { dag_id: dagId, schedule: g.dag.options.schedule, timezone: tt.timezone, next }, () =>
        tt.timezone === 'UTC'
          ? table(['logical date (UTC)', 'data interval', 'created after (UTC)'], next.map((n) => [n.logical_date, `[${n.data_interval_start}, ${n.data_interval_end})`, n.runs_after_utc]))
          : table([`logical date (${tt.timezone})`, `data interval (${tt.timezone})`, 'logical date (UTC)', 'created after (UTC)'], next.map((n) => [n.logical_date, `[${n.data_interval_start}, ${n.data_interval_end})`, n.logical_date_utc, n.runs_after_utc])));
    });

  program.command('scheduler')
    .description('create scheduled runs when their intervals end, until SIGTERM/SIGINT')
    .action(async () => {
      const session = getSession();
      const loaded = await session.dags();
      for (const [file, errors] of loaded.broken) logger.error({ file, errors }, 'broken DAG file: not scheduled');
      const engine = await session.engine();
      await reportConnectionBudget(engine.pool, 'scheduler', { pool: engine.pool.options.max ?? 10, 'pg-boss': 4, LISTEN: 1 });
      const { Scheduler } = await import('../scheduler/scheduler.ts');
      const scheduler = new Scheduler(engine, loaded);
      await scheduler.start();
      await waitForSignal(() => scheduler.stop());
    });

  program.command('standalone')
    .description('scheduler and worker (and the embedded database) in one process, for local use')
    .option('-c, --concurrency <n>', 'tasks run at once', positiveInt('--concurrency'))
    .action(async (opts: { concurrency?: number }) => {
      const session = getSession();
      const loaded = await session.dags();
      for (const [file, errors] of loaded.broken) logger.error({ file, errors }, 'broken DAG file skipped');
      const engine = await session.engine({ supervise: true, bossMax: 6 });
      const { Scheduler } = await import('../scheduler/scheduler.ts');
      const worker = new Worker(engine, loaded, { concurrency: opts.concurrency });
      const scheduler = new Scheduler(engine, loaded);
      const { Alerter } = await import('../worker/alerter.ts');
      const alerter = new Alerter(engine.boss);
      await worker.start();
      await alerter.start();
      await scheduler.start();
      process.stderr.write(`weir standalone: scheduling ${scheduler.dagIds.length} DAG(s), worker running; Ctrl-C to stop\n`);
      await waitForSignal(async () => {
        await scheduler.stop();
        await worker.stop();
        await alerter.stop();
      }, () => worker.abandon());
    });

  program.command('backfill <dag_id>')
    .description('one run per data interval whose logical date is in [--from, --to], oldest first, under maxActiveRuns')
    .requiredOption('--from <date>', 'first logical date (ISO, in the DAG\'s time zone)')
    .requiredOption('--to <date>', 'last logical date (ISO, in the DAG\'s time zone)')
    .option('--conf <json>', 'run parameters as a JSON object (`-` reads it from standard input)')
    .option('--conf-file <path>', 'run parameters from a JSON file (at most 1 MiB)')
    .option('-p, --param <key=value>', 'one run parameter (repeatable)', collect)
    .option('--rerun-failed', 'clear and re-run intervals whose run failed')
    .option('--dry-run', 'print what would be created; change nothing')
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { from: string; to: string; conf?: string; confFile?: string; param?: string[]; rerunFailed?: boolean; dryRun?: boolean; json?: boolean }) => {
      const session = getSession();
      const graph = await session.dag(dagId);
      const conf = parseConf(graph.dag, await readConfInput(opts));
      const { runBackfill } = await import('./backfill.ts');
      const summary = await runBackfill(session, graph, { from: opts.from, to: opts.to, conf, rerunFailed: Boolean(opts.rerunFailed), dryRun: Boolean(opts.dryRun), json: Boolean(opts.json) });
      print(Boolean(opts.json), summary, () => summary.text);
      if (summary.interrupted) setExit(130);
    });

  program.command('trigger <dag_id>')
    .description('create a run now (manual), validated against the DAG\'s params')
    .option('--conf <json>', 'run parameters as a JSON object (`-` reads it from standard input)')
    .option('--conf-file <path>', 'run parameters from a JSON file (at most 1 MiB)')
    .option('-p, --param <key=value>', 'one run parameter (repeatable); values parse as JSON when they can', collect)
    .option('--wait', 'follow the run and exit 0 on success, 1 on failure')
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { conf?: string; confFile?: string; param?: string[]; wait?: boolean; json?: boolean }) => {
      const session = getSession();
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
      await printRun(engine.pool, created.runId, Boolean(opts.json));
      if (state !== 'success') setExit(1);
    });

  const runs = program.command('runs').description('DAG runs');
  runs.command('list')
    .description('newest runs first')
    .option('--dag <dag_id>', 'only this DAG')
    .addOption(new Option('--state <state>', 'only this state').choices(Object.values(RunState)))
    .option('--limit <n>', 'at most n runs', positiveInt('--limit'), 25)
    .option('--json', 'print JSON')
    .action(async (opts: { dag?: string; state?: string; limit: number; json?: boolean }) => {
      const { pool } = await getSession().database();
      const { rows } = await pool.query(sql('list_runs'), [opts.dag ?? null, opts.state ?? null, opts.limit]);
      print(Boolean(opts.json), { runs: rows }, () =>
        rows.length
          ? table(['run_id', 'dag_id', 'type', 'state', 'logical_date', 'started', 'duration'], rows.map((r) => [r.run_id, r.dag_id, r.run_type, r.state, time(r.logical_date), time(r.start_date), duration(r.duration_ms)]))
          : 'no runs');
    });
  runs.command('show <run_id>')
    .description('a run and every task instance: state, tries, start, end, duration, last error')
    .option('--json', 'print JSON')
    .action(async (runId: string, opts: { json?: boolean }) => {
      const { pool } = await getSession().database();
      const state = await printRun(pool, runId, Boolean(opts.json));
      if (state === 'failed') setExit(1);
    });
  runs.command('cancel <run_id>')
    .description('fail a run: running tasks are aborted, tasks not started are skipped')
    .option('--json', 'print JSON')
    .action(async (runId: string, opts: { json?: boolean }) => {
      const session = getSession();
      const engine = await session.engine();
      const run = await getRun(engine.pool, runId);
      const graph = (await session.dags()).dags.get(run.dag_id);
      const cancelled = await cancelRun(engine, graph, runId);
      print(Boolean(opts.json), { run_id: runId, cancelled }, () => (cancelled ? `cancelled run ${runId}` : `run ${runId} had already finished (${run.state}); nothing to cancel`));
    });

  program.command('clear <run_id>')
    .description('re-run the tasks of a finished run (with --failed: only failed ones) and everything downstream')
    .option('--failed', 'only failed and upstream_failed tasks')
    .option('--json', 'print JSON')
    .action(async (runId: string, opts: { failed?: boolean; json?: boolean }) => {
      const session = getSession();
      const engine = await session.engine();
      const run = await getRun(engine.pool, runId);
      const graph = await session.dag(run.dag_id);
      const cleared = await clearRun(engine, graph, runId, Boolean(opts.failed));
      print(Boolean(opts.json), { run_id: runId, cleared }, () => (cleared.length ? `cleared ${cleared.length} task(s) of ${runId}: ${cleared.join(', ')}` : 'nothing to clear'));
    });

  const tasks = program.command('tasks').description('task instances');
  tasks.command('logs <run_id> <task_id>')
    .description('log lines of a task instance\'s tries (default: the last try)')
    .option('--try <n>', 'this try number', positiveInt('--try'))
    .option('--all', 'every try')
    .option('--json', 'print JSON')
    .action(async (runId: string, taskId: string, opts: { try?: number; all?: boolean; json?: boolean }) => {
      const { pool } = await getSession().database();
      await getRun(pool, runId);
      const { rows } = await pool.query(sql('task_tries'), [runId, taskId]);
      if (!rows.length) throw new InputError('no_tries', `task "${taskId}" of run ${runId} has no recorded tries (unknown task, or not run yet)`);
      const chosen = opts.all ? rows : opts.try ? rows.filter((r) => r.try_number === opts.try) : [rows[rows.length - 1]];
      if (!chosen.length) throw new InputError('no_try', `task "${taskId}" of run ${runId} has no try ${opts.try} (tries: ${rows.map((r) => r.try_number).join(', ')})`);
      print(Boolean(opts.json), { run_id: runId, task_id: taskId, tries: chosen }, () =>
        chosen.map((t) => [
          `--- try ${t.try_number}: ${t.state} (${time(t.start_date)} → ${time(t.end_date)}, ${duration(t.duration_ms)}${t.hostname ? `, ${t.hostname}` : ''})`,
          ...(t.logs as LogLine[]).map((l) => `${l.ts} ${l.level.toUpperCase().padEnd(5)} ${l.msg}${l.fields ? ` ${JSON.stringify(l.fields)}` : ''}`),
          ...(t.error ? [`error: ${t.error}`, ...(t.error_stack ? [t.error_stack] : [])] : []),
        ].join('\n')).join('\n'));
    });
  tasks.command('test <dag_id> <task_id>')
    .description('run one task in this process; nothing is written to the database')
    .option('--conf <json>', 'run parameters as a JSON object (`-` reads it from standard input)')
    .option('--conf-file <path>', 'run parameters from a JSON file (at most 1 MiB)')
    .option('-p, --param <key=value>', 'one run parameter (repeatable)', collect)
    .option('--outputs <json>', 'outputs of upstream tasks, as {"task_id": value}')
    .option('--json', 'print JSON')
    .action(async (dagId: string, taskId: string, opts: { conf?: string; confFile?: string; param?: string[]; outputs?: string; json?: boolean }) => {
      const graph = await getSession().dag(dagId);
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
      const logs: LogLine[] = [];
      // Emails the task queues are shown, not sent: nothing leaves `tasks test`.
      const emails: QueuedEmail[] = [];
      const log = createTaskLogger(MAX_LOG_LINES, (l) => {
        logs.push(l);
        if (!opts.json) process.stderr.write(`${l.level.toUpperCase().padEnd(5)} ${l.msg}${l.fields ? ` ${JSON.stringify(l.fields)}` : ''}\n`);
      });
      const now = new Date();
      const controller = new AbortController();
      const ctx = createTaskContext({
        dagId, runId: `test__${now.toISOString()}`, taskId, params, logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now,
        tryNumber: 1, maxTries: task.retries, timezone: graph.options.timezone, upstream: task.upstream,
        outputs: new Map(Object.entries(outputs)), log, signal: controller.signal, emails,
      });
      const outcome = await runTry(task, ctx, controller);
      const state = outcome.kind;
      print(Boolean(opts.json), { dag_id: dagId, task_id: taskId, state, output: outcome.kind === 'success' ? outcome.output : null, error: outcome.kind === 'failed' ? outcome.error.message : outcome.kind === 'skipped' ? outcome.message : null, logs, queued_emails: emails }, () =>
        outcome.kind === 'success' ? `${taskId}: success\n${JSON.stringify(outcome.output, null, 2)}` : outcome.kind === 'skipped' ? `${taskId}: skipped (${outcome.message})` : `${taskId}: failed: ${outcome.error.message}`);
      if (outcome.kind === 'failed') setExit(1);
    });

  program.command('demo')
    .description('run the flagship stock_prices DAG end to end on the zero-setup defaults')
    .option('--conf <json>', 'override run parameters')
    .option('-p, --param <key=value>', 'override one run parameter (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(async (opts: { conf?: string; param?: string[]; json?: boolean }) => {
      const { runDemo } = await import('./demo.ts');
      const result = await runDemo(getSession(), { conf: opts.conf, pairs: opts.param, json: Boolean(opts.json) });
      print(Boolean(opts.json), result.summary, () => result.text);
      if (result.state !== 'success') setExit(1);
    });

  const email = program.command('email').description('email settings');
  email.command('test')
    .description('send a test message with the current settings (WEIR_SMTP_URL, or the outbox)')
    .requiredOption('--to <address>', 'recipient')
    .option('--json', 'print JSON')
    .action(async (opts: { to: string; json?: boolean }) => {
      if (!/^[^@\s]+@[^@\s]+$/.test(opts.to)) throw new InputError('bad_address', `--to "${opts.to}" is not an email address`);
      const { sendTestEmail } = await import('../mailer.ts');
      const sent = await sendTestEmail(opts.to);
      print(Boolean(opts.json), sent, () => (sent.transport === 'outbox' ? `test email written to ${sent.files?.html} (no WEIR_SMTP_URL set)` : `test email sent to ${opts.to} via SMTP (message id ${sent.messageId})`));
    });

  program.command('worker')
    .description('execute tasks until stopped (SIGTERM/SIGINT drain in-flight tasks first)')
    .option('-c, --concurrency <n>', 'tasks run at once', positiveInt('--concurrency'))
    .option('--queue <name>', 'pg-boss queue to work', 'weir_task')
    .action(async (opts: { concurrency?: number; queue: string }) => {
      const session = getSession();
      const loaded = await session.dags();
      for (const [file, errors] of loaded.broken) logger.error({ file, errors }, 'broken DAG file skipped');
      const engine = await session.engine({ supervise: true, bossMax: 6 });
      await reportConnectionBudget(engine.pool, 'worker', { pool: engine.pool.options.max ?? 10, 'pg-boss': 6, LISTEN: 1, heartbeat: 1 });
      const worker = new Worker(engine, loaded, { concurrency: opts.concurrency, queue: opts.queue });
      const { Alerter } = await import('../worker/alerter.ts');
      const alerter = new Alerter(engine.boss);
      await worker.start();
      await alerter.start();
      await waitForSignal(async () => {
        await worker.stop();
        await alerter.stop();
      }, () => worker.abandon());
    });

  const workers = program.command('workers').description('registered workers');
  workers.command('list')
    .description('workers, live ones first: host, pid, version, concurrency, started and last seen, loaded DAGs; a silent one shows as gone')
    .option('--limit <n>', 'at most n workers', positiveInt('--limit'), 50)
    .option('--json', 'print JSON')
    .action(async (opts: { limit: number; json?: boolean }) => {
      const { pool } = await getSession().database();
      const { rows } = await pool.query(sql('list_workers'), [opts.limit]);
      print(Boolean(opts.json), { workers: rows }, () =>
        rows.length
          ? table(['worker_id', 'status', 'version', 'queue', 'slots', 'running', 'started', 'last seen', 'dags', 'broken files'], rows.map((w) => [
            w.worker_id, w.status, w.version, w.queue, w.concurrency, w.running, time(w.started_at), time(w.last_seen_at),
            (w.dags as { dag_id: string }[]).map((d) => d.dag_id).join(', '), (w.broken as { file: string }[]).map((b) => b.file).join(', '),
          ]))
          : 'no workers have registered (start one with `npx weir worker`)');
    });

  return program;
}

/**
 * SIGINT/SIGTERM go through `stop` (graceful: in-flight work drains). A second signal
 * calls `hurry` (abandon the drain, but still record what is abandoned); a third exits.
 */
async function waitForSignal(stop: () => Promise<void>, hurry: () => void = () => {}): Promise<void> {
  await new Promise<void>((resolve) => {
    let received = 0;
    const handler = (signal: NodeJS.Signals) => {
      received++;
      if (received === 1) {
        logger.info({ signal }, 'stopping');
        stop().finally(() => {
          process.off('SIGINT', handler);
          process.off('SIGTERM', handler);
          resolve();
        });
      } else if (received === 2) {
        logger.warn({ signal }, 'second signal: aborting in-flight tries now (they are recorded and retried elsewhere); a third signal exits at once');
        hurry();
      } else {
        process.exit(130);
      }
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

interface RunRow {
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
}

async function getRun(pool: import('pg').Pool, runId: string): Promise<RunRow> {
  const { rows } = await pool.query<RunRow>(sql('get_run'), [runId]);
  if (!rows[0]) throw new InputError('unknown_run', `unknown run "${runId}" (see \`weir runs list\`)`);
  return rows[0];
}

async function printRun(pool: import('pg').Pool, runId: string, json: boolean): Promise<string> {
  const run = await getRun(pool, runId);
  const { rows } = await pool.query(sql('run_task_instances'), [runId]);
  const waiting = !RUN_FINISHED.has(run.state) ? (await waitingReason(pool, runId)) ?? null : null;
  print(json, { ...run, waiting, task_instances: rows }, () => [
    `run ${run.run_id} (${run.dag_id}, ${run.run_type}): ${run.state}${run.note ? ` — ${run.note}` : ''}`,
    `  logical date ${DateTime.fromJSDate(run.logical_date).toUTC().toISO()}, interval [${time(run.data_interval_start)}, ${time(run.data_interval_end)}), duration ${duration(run.duration_ms)}`,
    `  DAG file ${run.dag_file ?? '?'} (content hash ${run.dag_hash ?? '?'})`,
    ...(waiting ? [`  waiting: ${waiting}`] : []),
    '',
    table(['task_id', 'state', 'tries', 'start', 'end', 'duration', 'last error'], rows.map((r) => [r.task_id, r.state, `${r.try_number}/${r.max_tries + 1}`, time(r.start_date), time(r.end_date), duration(r.duration_ms), oneLine(r.last_error)])),
  ].join('\n'));
  return run.state;
}


/** Run the CLI; returns the exit code. Errors become one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  let session: Session | undefined;
  let exitCode = 0;
  const program = buildProgram(() => (session ??= new Session()), (code) => (exitCode = Math.max(exitCode, code)));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander already printed the message
    }
    const e = toError(err);
    const message = redact(e.message);
    if (e instanceof WeirError) {
      process.stderr.write(`weir: ${message.split('\n').join('\nweir: ')}\n`);
      return e.exitCode;
    }
    process.stderr.write(`weir: ${message}\n`);
    if (process.env.WEIR_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  } finally {
    await session?.close();
  }
}
