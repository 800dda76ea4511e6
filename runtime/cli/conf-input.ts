/**
 * Where run parameters come from on the command line: `--conf JSON`, `--conf -`
 * (standard input) or `--conf-file PATH`, with one size limit for all three (a
 * shell caps one argument at 128 KiB, so big confs need a file or stdin).
 */
import fs from 'node:fs';
import { InputError } from '../errors.ts';
import type { ConfInput } from '../engine/params.ts';
import { readStdin } from './stdin.ts';

/** Largest run conf accepted: 1 MiB of JSON (it is stored with the run and sent to every task). */
export const MAX_CONF_BYTES = 1024 * 1024;

const tooBig = (source: string, bytes: number | string) =>
  new InputError('conf_too_large', `${source} is ${bytes} bytes, over the ${MAX_CONF_BYTES}-byte (1 MiB) limit for run parameters; pass a path or a table name instead of the data`);

/** The `--conf`/`--conf-file`/`-p` options of a command, read and size-checked. */
export async function readConfInput(opts: { conf?: string; confFile?: string; param?: string[] }): Promise<ConfInput> {
  if (opts.conf !== undefined && opts.confFile !== undefined) throw new InputError('bad_option', 'give either --conf or --conf-file, not both');
  if (opts.confFile !== undefined) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(opts.confFile);
    } catch {
      throw new InputError('conf_file', `--conf-file ${opts.confFile}: no such file`);
    }
    if (stat.size > MAX_CONF_BYTES) throw tooBig(`--conf-file ${opts.confFile}`, stat.size);
    return { conf: fs.readFileSync(opts.confFile, 'utf8'), pairs: opts.param, confSource: `--conf-file ${opts.confFile}` };
  }
  if (opts.conf === '-') return { conf: await readStdin(MAX_CONF_BYTES, () => tooBig('--conf - (standard input)', `more than ${MAX_CONF_BYTES}`)), pairs: opts.param, confSource: '--conf - (standard input)' };
  if (opts.conf !== undefined && Buffer.byteLength(opts.conf) > MAX_CONF_BYTES) throw tooBig('--conf', Buffer.byteLength(opts.conf));
  return { conf: opts.conf, pairs: opts.param };
}
