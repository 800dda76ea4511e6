/** `weir state list|get|set|delete`: a DAG's state between runs (ctx.state). */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { listDagState, stateEntry, writeDagState } from '../../engine/state.ts';
import { table } from '../render.ts';
import { print, type Cli } from '../options.ts';

type Json = { json?: boolean };

const show = (value: unknown) => JSON.stringify(value);

async function listCommand(cli: Cli, dagId: string, opts: Json): Promise<void> {
  await cli.session().dag(dagId);
  const { pool } = await cli.session().database();
  const rows = await listDagState(pool, dagId);
  print(Boolean(opts.json), { dag_id: dagId, state: rows }, () =>
    rows.length ? table(['key', 'value', 'updated', 'by'], rows.map((r) => [r.key, show(r.value).slice(0, 80), r.updated_at.toISOString(), r.updated_by])) : `DAG ${dagId} has no state`);
}

async function getCommand(cli: Cli, dagId: string, key: string, opts: Json): Promise<void> {
  await cli.session().dag(dagId);
  const { pool } = await cli.session().database();
  const row = (await listDagState(pool, dagId, key))[0];
  if (!row) throw new InputError('unknown_state_key', `DAG "${dagId}" has no state key "${key}" (see \`weir state list ${dagId}\`)`);
  print(Boolean(opts.json), row, () => JSON.stringify(row.value, null, 2));
}

async function setCommand(cli: Cli, dagId: string, key: string, json: string): Promise<void> {
  await cli.session().dag(dagId);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new InputError('bad_state_json', `the value for "${key}" is not valid JSON: ${(err as Error).message}`);
  }
  const entry = stateEntry(key, value);
  if ('problem' in entry) throw new InputError('bad_state_value', entry.problem);
  const { pool } = await cli.session().database();
  await writeDagState(pool, dagId, [[entry.key, entry.text]], 'cli');
  process.stdout.write(`set ${dagId} ${key}\n`);
}

async function deleteCommand(cli: Cli, dagId: string, key: string): Promise<void> {
  await cli.session().dag(dagId);
  const { pool } = await cli.session().database();
  if (!(await listDagState(pool, dagId, key))[0]) throw new InputError('unknown_state_key', `DAG "${dagId}" has no state key "${key}"`);
  await writeDagState(pool, dagId, [[key, null]], 'cli');
  process.stdout.write(`deleted ${dagId} ${key}\n`);
}

export function registerStateCommands(program: Command, cli: Cli): void {
  const state = program.command('state').description('a DAG\'s state between runs (ctx.state: watermarks, cursors)');
  state.command('list <dag_id>').description('every key with its value, when and by whom it was written').option('--json', 'print JSON')
    .action((dagId: string, opts: Json) => listCommand(cli, dagId, opts));
  state.command('get <dag_id> <key>').description('one key\'s value, as JSON').option('--json', 'print JSON (with when and by whom)')
    .action((dagId: string, key: string, opts: Json) => getCommand(cli, dagId, key, opts));
  state.command('set <dag_id> <key> <json>').description('write a key by hand (a JSON value, e.g. \'"2024-06-01T00:00:00Z"\'); tasks see it on their next read')
    .action((dagId: string, key: string, json: string) => setCommand(cli, dagId, key, json));
  state.command('delete <dag_id> <key>').description('forget a key')
    .action((dagId: string, key: string) => deleteCommand(cli, dagId, key));
}
