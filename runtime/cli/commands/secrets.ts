/**
 * `weir secrets set|list|delete`: the secrets store (engine/secrets.ts). A value is read
 * from standard input (piped) or typed at a prompt that does not echo — never from the
 * command line, where shell history and `ps` would keep it. Nothing prints a value.
 */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { deleteSecret, listSecrets, MAX_SECRET_BYTES, secretKey, secretProblem, writeSecret } from '../../engine/secrets.ts';
import { table } from '../render.ts';
import { readStdin } from '../stdin.ts';
import { print, type Cli } from '../options.ts';

/** The value: all of stdin when piped (one trailing newline dropped), else a silent prompt. */
async function readValue(name: string): Promise<string> {
  if (!process.stdin.isTTY) {
    // Room for the trailing newline a shell's echo adds; the value itself is checked after.
    const text = await readStdin(MAX_SECRET_BYTES + 2, () => new InputError('bad_secret', `secret ${name}: the value is over ${MAX_SECRET_BYTES} bytes`));
    return text.replace(/\r?\n$/, '');
  }
  process.stderr.write(`value for ${name} (not shown): `);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return resolve(value);
        }
        if (ch === '\u0003') {
          done();
          return reject(new InputError('cancelled', 'cancelled'));
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

async function setCommand(cli: Cli, name: string): Promise<void> {
  const bad = secretProblem(name);
  if (bad) throw new InputError('bad_secret', bad);
  const value = await readValue(name);
  const problem = secretProblem(name, value);
  if (problem) throw new InputError('bad_secret', problem);
  const key = secretKey(cli.session().config.home, process.env, true)!;
  const { pool } = await cli.session().database();
  const version = await writeSecret(pool, key, name, value, 'cli');
  process.stdout.write(`stored ${name} (version ${version}, key ${key.id} from ${key.source})\n`);
  if (process.env[name]) process.stderr.write(`weir: note: the environment variable ${name} is set and takes precedence over the stored value\n`);
}

async function listCommand(cli: Cli, opts: { json?: boolean }): Promise<void> {
  const { pool } = await cli.session().database();
  const rows = (await listSecrets(pool)).map((r) => ({ ...r, overridden_by_env: Boolean(process.env[r.name]) }));
  print(Boolean(opts.json), { secrets: rows }, () => (rows.length
    ? table(['name', 'version', 'updated', 'by', 'env overrides'], rows.map((r) => [r.name, String(r.version), r.updated_at.toISOString(), r.updated_by, r.overridden_by_env ? 'yes' : '']))
    : 'no secrets stored (weir secrets set NAME, the value on stdin)'));
}

async function deleteCommand(cli: Cli, name: string): Promise<void> {
  const { pool } = await cli.session().database();
  if (!(await deleteSecret(pool, name))) throw new InputError('unknown_secret', `no secret ${name} is stored (see \`weir secrets list\`)`);
  process.stdout.write(`deleted ${name}\n`);
}

export function registerSecretCommands(program: Command, cli: Cli): void {
  const secrets = program.command('secrets').description('the secrets store: values encrypted at rest, read by tasks with ctx.secret(NAME)');
  secrets.command('set <name>').description('store a secret: the value from stdin (`printf %s "$TOKEN" | weir secrets set NAME`) or a prompt; never from the command line')
    .action((name: string) => setCommand(cli, name));
  secrets.command('list').description('stored names, versions and who wrote them (never values)').option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listCommand(cli, opts));
  secrets.command('delete <name>').description('forget a stored secret')
    .action((name: string) => deleteCommand(cli, name));
}
