/**
 * Running the real `weir` command (bin/weir.js) in a child process, and
 * long-running ones (worker) with a handle to stop them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEIR_BIN = path.join(ROOT, 'bin', 'weir.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to its end, with its output. */
export function runCommand(command: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} ${args.join(' ')} timed out\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export function runWeir(args: string[], env: Record<string, string>, options: { timeoutMs?: number; cwd?: string; input?: string } = {}): Promise<CliResult> {
  return runCommand(process.execPath, [WEIR_BIN, ...args], { ...options, env: { WEIR_LOG_LEVEL: 'warn', ...env } });
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves when a line matching `pattern` has been printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `count` `weir worker --concurrency N` processes, each started (its "worker started" line seen) before the next; added to `into`. */
export async function startWorkers(count: number, concurrency: number, env: Record<string, string>, into: RunningProcess[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const w = startWeir(['worker', '--concurrency', String(concurrency)], env);
    into.push(w);
    await w.waitFor(/worker started/);
  }
}

export function startWeir(args: string[], env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, [WEIR_BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, WEIR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs = 30_000) {
      if (pattern.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Poll a condition (a database state written by another process) until it holds. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
