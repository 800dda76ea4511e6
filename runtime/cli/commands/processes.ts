/**
 * The long-running commands: `weir worker`, `weir scheduler` and `weir standalone`,
 * each stopped by SIGTERM/SIGINT through its `stop()`; and `weir workers list`.
 */
import type { Command } from 'commander';
import { Worker } from '../../worker/worker.ts';
import { reportConnectionBudget } from '../../database/connect.ts';
import { TASK_QUEUE } from '../../queue.ts';
import { listWorkers } from '../../read/runs.ts';
import { logger } from '../../log.ts';
import { table, time } from '../render.ts';
import { positiveInt, print, type Cli } from '../options.ts';
import { taskQueuesOf } from '../../loader/graph.ts';

/**
 * SIGINT/SIGTERM go through `stop` (graceful: in-flight work drains). A second signal
 * calls `hurry` (abandon the drain, but still record what is abandoned); a third exits.
 */
export async function waitForSignal(stop: () => Promise<void>, hurry: () => void = () => {}): Promise<void> {
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

async function workerCommand(cli: Cli, opts: { concurrency?: number; queue: string; queues?: string }): Promise<void> {
  const session = cli.session();
  const loaded = await session.dags();
  for (const [file, errors] of loaded.broken) logger.error({ file, errors }, 'broken DAG file skipped');
  const engine = await session.engine({ supervise: true, bossMax: 6 });
  await reportConnectionBudget(engine.pool, 'worker', { pool: engine.pool.options.max ?? 10, 'pg-boss': 6, LISTEN: 1, heartbeat: 1 });
  const queues = opts.queues?.split(',').map((q) => q.trim()).filter(Boolean);
  const worker = new Worker(engine, loaded, { concurrency: opts.concurrency, queue: opts.queue, queues });
  const { Alerter } = await import('../../worker/alerter.ts');
  const alerter = new Alerter(engine.boss);
  await worker.start();
  await alerter.start();
  await waitForSignal(async () => {
    await worker.stop();
    await alerter.stop();
  }, () => worker.abandon());
}

async function schedulerCommand(cli: Cli): Promise<void> {
  const session = cli.session();
  const loaded = await session.dags();
  for (const [file, errors] of loaded.broken) logger.error({ file, errors }, 'broken DAG file: not scheduled');
  const engine = await session.engine();
  await reportConnectionBudget(engine.pool, 'scheduler', { pool: engine.pool.options.max ?? 10, 'pg-boss': 4, LISTEN: 1 });
  const { Scheduler } = await import('../../scheduler/scheduler.ts');
  const scheduler = new Scheduler(engine, loaded);
  // The scheduler sends the alerts it queues (missed deadlines) itself: no worker needed.
  const { Alerter } = await import('../../worker/alerter.ts');
  const alerter = new Alerter(engine.boss);
  await alerter.start();
  await scheduler.start();
  await waitForSignal(async () => {
    await scheduler.stop();
    await alerter.stop();
  });
}

async function standaloneCommand(cli: Cli, opts: { concurrency?: number }): Promise<void> {
  const session = cli.session();
  const loaded = await session.dags();
  for (const [file, errors] of loaded.broken) logger.error({ file, errors }, 'broken DAG file skipped');
  const engine = await session.engine({ supervise: true, bossMax: 6 });
  const { Scheduler } = await import('../../scheduler/scheduler.ts');
  // One process runs everything: every task queue the DAGs use at start.
  const worker = new Worker(engine, loaded, { concurrency: opts.concurrency, queues: taskQueuesOf(loaded.dags.values()) });
  const scheduler = new Scheduler(engine, loaded);
  const { Alerter } = await import('../../worker/alerter.ts');
  const alerter = new Alerter(engine.boss);
  await worker.start();
  await alerter.start();
  await scheduler.start();
  const { startServer } = await import('../../server/serve.ts');
  const { serverBanner } = await import('./server.ts');
  const server = await startServer(session);
  process.stderr.write(`weir standalone: scheduling ${scheduler.dagIds.length} DAG(s), worker running; Ctrl-C to stop\n${serverBanner(server)}\n`);
  await waitForSignal(async () => {
    await server.close();
    await scheduler.stop();
    await worker.stop();
    await alerter.stop();
  }, () => worker.abandon());
}

async function workersListCommand(cli: Cli, opts: { limit: number; json?: boolean }): Promise<void> {
  const { pool } = await cli.session().database();
  const rows = await listWorkers(pool, opts.limit);
  print(Boolean(opts.json), { workers: rows }, () =>
    rows.length
      ? table(['worker_id', 'status', 'version', 'queue', 'slots', 'running', 'started', 'last seen', 'dags', 'broken files'], rows.map((w) => [
        w.worker_id as string, w.status as string, w.version as string, w.queue as string, w.concurrency as number, w.running as number,
        time(w.started_at as Date), time(w.last_seen_at as Date),
        (w.dags as { dag_id: string }[]).map((d) => d.dag_id).join(', '), (w.broken as { file: string }[]).map((b) => b.file).join(', '),
      ]))
      : 'no workers have registered (start one with `npx weir worker`)');
}

export function registerProcessCommands(program: Command, cli: Cli): void {
  program.command('worker')
    .description('execute tasks until stopped (SIGTERM/SIGINT drain in-flight tasks first)')
    .option('-c, --concurrency <n>', 'tasks run at once', positiveInt('--concurrency'))
    .option('--queue <name>', 'pg-boss queue of the runs to work', TASK_QUEUE)
    .option('--queues <list>', 'task queues to work, comma-separated (a task\'s `queue`; default: default)')
    .action((opts: { concurrency?: number; queue: string; queues?: string }) => workerCommand(cli, opts));
  program.command('scheduler')
    .description('create scheduled runs when their intervals end, until SIGTERM/SIGINT')
    .action(() => schedulerCommand(cli));
  program.command('standalone')
    .description('scheduler and worker (and the embedded database) in one process, for local use')
    .option('-c, --concurrency <n>', 'tasks run at once', positiveInt('--concurrency'))
    .action((opts: { concurrency?: number }) => standaloneCommand(cli, opts));
  program.command('workers').description('registered workers')
    .command('list')
    .description('workers, live ones first: host, pid, version, concurrency, started and last seen, loaded DAGs; a silent one shows as gone')
    .option('--limit <n>', 'at most n workers', positiveInt('--limit'), 50)
    .option('--json', 'print JSON')
    .action((opts: { limit: number; json?: boolean }) => workersListCommand(cli, opts));
}
