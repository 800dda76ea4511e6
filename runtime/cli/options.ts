/** What every command file shares: the lazily opened session, exit codes, printing, and option parsers. */
import type { Command } from 'commander';
import { InputError } from '../errors.ts';
import type { Session } from './session.ts';

export interface Cli {
  /** Created on first use, so `--help` opens nothing. */
  session(): Session;
  /** Raise the exit code (the highest wins): 1 a run or task failed, 130 interrupted. */
  setExit(code: number): void;
}

/** `--json`: one JSON document on stdout and nothing else there; otherwise the text. */
export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InputError('bad_option', `${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

export function nonNegativeInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InputError('bad_option', `${name} must be an integer >= 0, got "${value}"`);
    return n;
  };
}

/** Run parameters as one object, a file or stdin, and key=value pairs (see conf-input.ts). */
export interface ConfFlags {
  conf?: string;
  confFile?: string;
  param?: string[];
}

export function confOptions(command: Command, paramHelp = 'one run parameter (repeatable)'): Command {
  return command
    .option('--conf <json>', 'run parameters as a JSON object (`-` reads it from standard input)')
    .option('--conf-file <path>', 'run parameters from a JSON file (at most 1 MiB)')
    .option('-p, --param <key=value>', paramHelp, collect);
}
