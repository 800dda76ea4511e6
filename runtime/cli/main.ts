/**
 * The `weir` CLI (commander): one handler per command, in files by command group
 * (./commands/). Every command that prints data takes `--json` (one JSON document
 * on stdout, nothing else there; logs go to stderr).
 * Exit codes: 0 success, 1 a run or task failed, 2 bad usage or bad input.
 */
import { Command, CommanderError } from 'commander';
import { Session } from './session.ts';
import { WeirError, toError } from '../errors.ts';
import { redact } from '../redact.ts';
import type { Cli } from './options.ts';
import { registerDbCommands } from './commands/db.ts';
import { registerDagsCommands } from './commands/dags.ts';
import { registerRunCommands } from './commands/runs.ts';
import { registerTaskCommands } from './commands/tasks.ts';
import { registerProcessCommands } from './commands/processes.ts';
import { registerEmailCommands } from './commands/email.ts';
import { registerInitCommand } from './commands/init.ts';
import { registerServerCommands } from './commands/server.ts';
import { registerStateCommands } from './commands/state.ts';
import { registerAssetCommands } from './commands/assets.ts';
import { registerSecretCommands } from './commands/secrets.ts';
import { registerPoolCommands } from './commands/pools.ts';
import { WEIR_VERSION } from '../package/manifest.mjs';


/** Build the program; `session` is created on first use so `--help` opens nothing. */
export function buildProgram(getSession: () => Session, setExit: (code: number) => void): Command {
  const program = new Command('weir')
    .description('Airflow-style DAG scheduler for Node.js: TypeScript DAGs run on PostgreSQL')
    .version(WEIR_VERSION, '-V, --version', 'print weir\'s version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const cli: Cli = { session: getSession, setExit };
  for (const register of [registerDbCommands, registerDagsCommands, registerRunCommands, registerTaskCommands, registerProcessCommands, registerEmailCommands, registerInitCommand, registerServerCommands, registerStateCommands, registerAssetCommands, registerSecretCommands, registerPoolCommands]) {
    register(program, cli);
  }
  return program;
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
