/** `weir pools set|list|delete`: pools that cap how many tries of their tasks run at once, across all workers. */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { sql } from '../../database/sql.ts';
import { POOL_NAME } from '../../loader/rules.ts';
import { table } from '../render.ts';
import { print, type Cli } from '../options.ts';

interface PoolRow {
  name: string;
  slots: number;
  description: string | null;
  running: number;
  waiting: number;
  updated_at: Date;
  updated_by: string;
}

async function setCommand(cli: Cli, name: string, opts: { slots: string; description?: string }): Promise<void> {
  if (!POOL_NAME.test(name)) throw new InputError('bad_pool', `a pool's name is lowercase letters, digits and _ (starting with a letter), at most 64: got "${name}"`);
  if (!/^\d+$/.test(opts.slots) || Number(opts.slots) > 1_000_000) throw new InputError('bad_pool', `--slots must be a whole number from 0 to 1000000, got "${opts.slots}"`);
  const { pool } = await cli.session().database();
  await pool.query(sql('set_pool'), [name, Number(opts.slots), opts.description ?? null, 'cli']);
  // Tries waiting for it may fit now.
  await pool.query(sql('pool_freed'), [[name]]);
  process.stdout.write(`pool ${name}: ${opts.slots} slot(s)\n`);
}

async function listCommand(cli: Cli, opts: { json?: boolean }): Promise<void> {
  const { pool } = await cli.session().database();
  const { rows } = await pool.query<PoolRow>(sql('list_pools'));
  print(Boolean(opts.json), { pools: rows }, () => (rows.length
    ? table(['pool', 'slots', 'running', 'waiting', 'description'], rows.map((r) => [r.name, String(r.slots), String(r.running), String(r.waiting), r.description ?? '']))
    : 'no pools: tasks without a pool are not limited (weir pools set NAME --slots N)'));
}

async function deleteCommand(cli: Cli, name: string): Promise<void> {
  const { pool } = await cli.session().database();
  if (!(await pool.query(sql('delete_pool'), [name])).rows.length) throw new InputError('unknown_pool', `no pool ${name} (see \`weir pools list\`)`);
  process.stdout.write(`deleted pool ${name}\n`);
}

export function registerPoolCommands(program: Command, cli: Cli): void {
  const pools = program.command('pools').description('pools: at most N tries of their tasks run at once, across every worker');
  pools.command('set <name>').description('create or resize a pool').requiredOption('--slots <n>', 'how many slots (a task takes poolSlots of them, default 1)').option('--description <text>', 'what it protects')
    .action((name: string, opts: { slots: string; description?: string }) => setCommand(cli, name, opts));
  pools.command('list').description('each pool: slots, the slots in use, the tries waiting').option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listCommand(cli, opts));
  pools.command('delete <name>').description('remove a pool (its tasks wait until it exists again)')
    .action((name: string) => deleteCommand(cli, name));
}
