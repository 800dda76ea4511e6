/** `weir db migrate` and `weir db stop`. */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { migrate } from '../../database/migrator.ts';
import { ALERT_QUEUE, TASK_QUEUE, ensureQueue } from '../../queue.ts';
import { print, type Cli } from '../options.ts';

async function migrateCommand(cli: Cli, opts: { json?: boolean }): Promise<void> {
  const session = cli.session();
  const { resolveDatabaseUrl, openDatabaseUrl } = await import('../../database/connect.ts');
  const { url } = await resolveDatabaseUrl(session.config);
  const database = await openDatabaseUrl(url, { migrate: false, skipVersionCheck: true });
  let applied: string[];
  try {
    applied = await migrate(database.pool);
  } finally {
    await database.close();
  }
  const engine = await session.engine();
  await ensureQueue(engine.boss, TASK_QUEUE);
  await ensureQueue(engine.boss, ALERT_QUEUE);
  print(Boolean(opts.json), { applied }, () => (applied.length ? `applied ${applied.join(', ')}` : 'weir\'s schema is up to date'));
}

async function stopCommand(cli: Cli): Promise<void> {
  const session = cli.session();
  if (session.config.databaseUrl) throw new InputError('not_embedded', 'WEIR_DATABASE_URL is set: weir does not run that server, so it will not stop it');
  const { stopEmbeddedPostgres } = await import('../../database/embedded.ts');
  const stopped = await stopEmbeddedPostgres(session.config.home);
  process.stdout.write(stopped ? 'embedded PostgreSQL stopped\n' : 'embedded PostgreSQL was not running\n');
}

export function registerDbCommands(program: Command, cli: Cli): void {
  const db = program.command('db').description('weir\'s own database');
  db.command('migrate')
    .description('apply weir\'s migrations and pg-boss\'s schema (idempotent)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => migrateCommand(cli, opts));
  db.command('stop')
    .description('stop the embedded PostgreSQL of this WEIR_HOME (the next weir command starts it again)')
    .action(() => stopCommand(cli));
}
