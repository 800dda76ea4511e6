/**
 * The `weir` CLI end to end, in child processes, against a real database:
 * bad input (exit 2, one line, no run created), trigger/--wait, runs, logs,
 * cancel, clear, tasks test, dags test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { ROOT, WEIR_BIN, runWeir, startWeir, eventually, type RunningProcess } from './support/cli.ts';

let testDb: TestDatabase;
let pool: pg.Pool;
let env: Record<string, string>;
let worker: RunningProcess | undefined;

const runCount = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM weir.dag_run')).rows[0]!.n;

beforeAll(async () => {
  testDb = await createTestDatabase();
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-cli'), WEIR_HOME: path.join(ROOT, '.weir') };
  const migrated = await runWeir(['db', 'migrate', '--json'], env);
  expect(migrated.code).toBe(0);
  expect(JSON.parse(migrated.stdout).applied).toContain('0001_init');
  pool = new pg.Pool({ connectionString: testDb.url });
});

afterAll(async () => {
  await worker?.stop();
  await pool?.end();
  await testDb?.drop();
});

describe('bad input: exit 2, one line on stderr naming the problem, no run created', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown DAG', ['trigger', 'nope'], /^weir: unknown DAG "nope"; known DAGs: fails, greet, slow$/],
    ['malformed JSON', ['trigger', 'greet', '--conf', '{"name": '], /^weir: --conf is not valid JSON: /],
    ['conf that is not an object', ['trigger', 'greet', '--conf', '[1,2]'], /^weir: --conf must be a JSON object/],
    ['params that fail validation', ['trigger', 'greet', '-p', 'times=9'], /^weir: param "times": .*(<=5|5)/],
    ['wrong type', ['trigger', 'greet', '--conf', '{"times": "three"}'], /^weir: param "times": .*number/],
    ['unknown -p key', ['trigger', 'greet', '-p', 'nme=bob'], /^weir: -p nme: DAG "greet" has no parameter "nme" \(its parameters: name, times\)$/],
    ['unknown --conf key', ['trigger', 'greet', '--conf', '{"colour": "red"}'], /^weir: param "colour": DAG "greet" has no such parameter/],
    ['-p without =', ['trigger', 'greet', '-p', 'name'], /^weir: -p name: expected key=value$/],
    ['unknown run', ['runs', 'show', 'manual__nope'], /^weir: unknown run "manual__nope"/],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
  ];
  test.each(cases)('%s', async (_name, args, pattern) => {
    const result = await runWeir(args, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')[0]).toMatch(pattern);
    expect(await runCount()).toBe(0);
  });
});

describe('regression: confs PostgreSQL cannot store, or too big for an argument, exit 2 with one line (they crashed with exit 1)', () => {
  const big = path.join(os.tmpdir(), `weir-big-conf-${process.pid}.json`);
  beforeAll(() => fs.writeFileSync(big, JSON.stringify({ name: 'x'.repeat(10 * 1024 * 1024) })));
  afterAll(() => fs.rmSync(big, { force: true }));
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  const cases: [string, () => string[], RegExp][] = [
    ['a NUL character', () => ['trigger', 'greet', '--conf', '{"name":"a\\u0000b"}'], /^weir: params cannot be stored: they have a NUL character \(\\u0000\) at \$\.name$/],
    ['a lone surrogate', () => ['trigger', 'greet', '--conf', '{"name":"a\\ud800b"}'], /^weir: params cannot be stored: they have a lone surrogate \(\\ud800\) at \$\.name$/],
    ['nesting 5,000 levels deep', () => ['trigger', 'greet', '--conf-file', writeTemp('deep', deep)], /^weir: params cannot be stored: they have nesting deeper than 100 levels at \$(\.a)+$/],
    ['a 10 MB --conf-file', () => ['trigger', 'greet', '--conf-file', big], /^weir: --conf-file .* is \d+ bytes, over the 1048576-byte \(1 MiB\) limit for run parameters/],
    ['a missing --conf-file', () => ['trigger', 'greet', '--conf-file', '/nonexistent/conf.json'], /^weir: --conf-file \/nonexistent\/conf\.json: no such file$/],
    ['--conf and --conf-file together', () => ['trigger', 'greet', '--conf', '{}', '--conf-file', big], /^weir: give either --conf or --conf-file, not both$/],
  ];
  test.each(cases)('%s', async (_name, args, pattern) => {
    const result = await runWeir(args(), env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(pattern);
    expect(await runCount()).toBe(0);
  });
});

function writeTemp(name: string, text: string): string {
  const file = path.join(os.tmpdir(), `weir-${name}-${process.pid}.json`);
  fs.writeFileSync(file, text);
  return file;
}

test('a DAG whose file does not load (syntax error, cycle): trigger exits 2 with one line naming the file, no run created', async () => {
  const syntax = await runWeir(['trigger', 'syntax_broken'], { ...env, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-broken', 'syntax-error') });
  expect(syntax.code).toBe(2);
  expect(syntax.stderr.trim()).toBe('weir: unknown DAG "syntax_broken"; no DAGs found in the DAGs folder; 1 DAG file(s) failed to load (broken_syntax.ts): see `weir dags list`');
  const cycle = await runWeir(['trigger', 'cyclic'], { ...env, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-broken', 'cycle') });
  expect(cycle.code).toBe(2);
  expect(cycle.stderr.trim().split('\n')).toHaveLength(1);
  expect(cycle.stderr).toMatch(/^weir: DAG "cyclic" is broken: .*cycle\.ts: .*cycle a -> b -> c -> a$/m);
  expect(await runCount()).toBe(0);
});

test('regression: a worker logs a DAG file that does not compile with the compiler\'s error and place (it logged "Transform failed with 1 error:")', async () => {
  const worker = startWeir(['worker'], { ...env, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-broken', 'syntax-error') });
  try {
    await worker.waitFor(/broken DAG file skipped/);
    expect(worker.output()).toMatch(/broken_syntax\.ts: cannot import: .*broken_syntax\.ts:4:36: ERROR: Expected \\"}\\" but found \\";\\"/);
    expect(worker.output()).not.toMatch(/Transform failed/);
  } finally {
    await worker.stop();
  }
});

test('trigger --wait with no worker says it is waiting for one, and finishes once one starts', async () => {
  const waiting = startWeir(['trigger', 'greet', '-p', 'name=bo', '--wait'], env);
  let late: RunningProcess | undefined;
  try {
    await waiting.waitFor(/waiting for a worker: start one with `npx weir worker`/, 20_000);
    expect(waiting.child.exitCode).toBeNull();
    late = startWeir(['worker'], env);
    const code = await new Promise<number | null>((resolve) => (waiting.child.exitCode !== null ? resolve(waiting.child.exitCode) : waiting.child.once('exit', resolve)));
    expect(code).toBe(0);
    expect(waiting.output()).toMatch(/shout success/);
  } finally {
    await waiting.stop();
    await late?.stop();
  }
});

test('a run triggered with no worker waits queued; a worker started later runs it', async () => {
  const created = await runWeir(['trigger', 'greet', '-p', 'name=ada', '--json'], env);
  expect(created.code).toBe(0);
  const { run_id: runId, conf } = JSON.parse(created.stdout);
  expect(conf).toEqual({ name: 'ada', times: 1 });
  const listed = await runWeir(['runs', 'list', '--json', '--state', 'queued'], env);
  expect(JSON.parse(listed.stdout).runs.map((r: { run_id: string }) => r.run_id)).toEqual([runId]);

  worker = startWeir(['worker', '--concurrency', '4'], { ...env, WEIR_HEARTBEAT_INTERVAL_MS: '200', WEIR_TASK_LOST_AFTER_MS: '2000', WEIR_REAP_INTERVAL_MS: '200' });
  await worker.waitFor(/worker started/);
  await eventually(async () => (await pool.query("SELECT 1 FROM weir.dag_run WHERE run_id = $1 AND state = 'success'", [runId])).rowCount, 20_000, 'queued run to succeed');
  const shown = JSON.parse((await runWeir(['runs', 'show', runId, '--json'], env)).stdout);
  expect(shown.state).toBe('success');
  expect(shown.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([['hello', 'success'], ['shout', 'success']]);
});

test('trigger --wait follows the run and exits 0; runs show and tasks logs tell what happened', async () => {
  const result = await runWeir(['trigger', 'greet', '-p', 'name=bob', '-p', 'times=2', '--wait'], env);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/\(greet, manual\): success/);
  // try and max_tries mean the same in the table as in --json (tries started; retries allowed).
  expect(result.stdout).toMatch(/shout\s+success\s+1\s+0\s/);
  expect(result.stdout).toMatch(/^ {2}conf \{"name":"bob","times":2\}$/m);
  const runId = /run (manual__\S+)/.exec(result.stdout)![1]!;
  const output = await runWeir(['tasks', 'output', runId, 'shout'], env);
  expect([output.code, output.stdout]).toEqual([0, '"HELLO BOBHELLO BOB"\n']);
  expect(JSON.parse((await runWeir(['tasks', 'output', runId, 'hello', '--json'], env)).stdout)).toEqual({ run_id: runId, task_id: 'hello', try_number: 1, output: 'hello bob' });
  const unknown = await runWeir(['tasks', 'output', runId, 'nope'], env);
  expect([unknown.code, unknown.stderr.trim()]).toEqual([2, `weir: run ${runId} has no task "nope" (see \`weir runs show ${runId}\`)`]);
  const { rows } = await pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1 AND task_id = $2', [runId, 'shout']);
  expect(rows[0].output).toBe('HELLO BOBHELLO BOB');
  const logs = await runWeir(['tasks', 'logs', runId, 'hello'], env);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toMatch(/INFO\s+saying hello \{"name":"bob"\}/);
});

test('a run that fails for good: --wait exits 1 and runs show names the error and the tries', async () => {
  const result = await runWeir(['trigger', 'fails', '--wait', '--json'], env);
  expect(result.code).toBe(1);
  const run = JSON.parse(result.stdout);
  expect(run.state).toBe('failed');
  expect(run.task_instances[0]).toMatchObject({ task_id: 'boom', state: 'failed', try_number: 2, max_tries: 1, last_error: 'the source is down' });
  const noOutput = await runWeir(['tasks', 'output', run.run_id, 'boom'], env);
  expect([noOutput.code, noOutput.stderr.trim()]).toEqual([2, `weir: task "boom" of run ${run.run_id} has no output: it is failed, and only a successful task stores one`]);

  // clear --failed re-runs it with renewed retries: tries 3 and 4.
  const cleared = await runWeir(['clear', run.run_id, '--failed', '--json'], env);
  expect(JSON.parse(cleared.stdout).cleared).toEqual(['boom']);
  await eventually(async () => (await pool.query("SELECT 1 FROM weir.dag_run WHERE run_id = $1 AND state = 'failed'", [run.run_id])).rowCount, 20_000, 'cleared run to fail again');
  const tries = await pool.query('SELECT try_number FROM weir.task_try WHERE run_id = $1 ORDER BY try_number', [run.run_id]);
  expect(tries.rows.map((r) => r.try_number)).toEqual([1, 2, 3, 4]);
  const all = await runWeir(['tasks', 'logs', run.run_id, 'boom', '--all'], env);
  expect(all.stdout.match(/^--- try \d: /gm)).toHaveLength(4);
});

test('runs cancel aborts a running task through its signal and fails the run; the cancelled try keeps its row, reason and log lines', async () => {
  const created = JSON.parse((await runWeir(['trigger', 'slow', '--json'], env)).stdout);
  await eventually(async () => (await pool.query("SELECT 1 FROM weir.task_instance WHERE run_id = $1 AND state = 'running'", [created.run_id])).rowCount, 20_000, 'slow task to run');
  const cancelled = await runWeir(['runs', 'cancel', created.run_id], env);
  expect(cancelled.code).toBe(0);
  expect(cancelled.stdout).toMatch(/cancelled run/);
  const shown = JSON.parse((await runWeir(['runs', 'show', created.run_id, '--json'], env)).stdout);
  expect(shown.state).toBe('failed');
  expect(shown.note).toBe('cancelled by weir runs cancel');
  expect(shown.task_instances[0].state).toBe('failed');
  expect(shown.task_instances[0].last_error).toBe('cancelled by weir runs cancel');
  // The worker dropped the aborted try's result instead of recording it over the cancel.
  await worker!.waitFor(/try result dropped/, 10_000);
  // Regression: `tasks logs --all` said the task "has no recorded tries" after a cancel.
  const logs = await runWeir(['tasks', 'logs', created.run_id, 'wait', '--all', '--json'], env);
  expect(logs.code).toBe(0);
  const [only] = JSON.parse(logs.stdout).tries;
  expect(only).toMatchObject({ try_number: 1, state: 'failed', error: 'cancelled by weir runs cancel' });
  expect(only.end_date).not.toBeNull();
  expect(only.logs.map((l: { msg: string }) => l.msg)).toContain('waiting to be cancelled');
});

test('tasks test runs one task in-process and writes nothing', async () => {
  const before = await runCount();
  const result = await runWeir(['tasks', 'test', 'greet', 'shout', '-p', 'times=2', '--outputs', '{"hello": "hi"}', '--json'], env);
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({ state: 'success', output: 'HIHI' });
  expect(await runCount()).toBe(before);
});

test('dags test runs the whole DAG in-process against the database', async () => {
  const result = await runWeir(['dags', 'test', 'greet', '--conf', '{"name": "eve"}', '--json'], env);
  expect(result.code).toBe(0);
  const run = JSON.parse(result.stdout);
  expect(run).toMatchObject({ run_type: 'test', state: 'success' });
});

test('dags list, dags show and dags validate read the files statically and print one JSON document with --json', async () => {
  const listed = JSON.parse((await runWeir(['dags', 'list', '--json'], env)).stdout);
  expect(listed.dags.map((d: { dag_id: string }) => d.dag_id).sort()).toEqual(['fails', 'greet', 'slow']);
  const shown = JSON.parse((await runWeir(['dags', 'show', 'greet', '--json'], env)).stdout);
  expect(shown.params.map((p: { name: string; type: string; default: unknown }) => [p.name, p.type, p.default])).toEqual([['name', 'string', 'world'], ['times', 'number', 1]]);
  expect(shown.tasks.map((t: { task_id: string; upstream: string[] }) => [t.task_id, t.upstream])).toEqual([['hello', []], ['shout', ['hello']]]);
  const mermaid = await runWeir(['dags', 'show', 'greet', '--format', 'mermaid'], env);
  expect(mermaid.stdout).toMatch(/^flowchart LR[\s\S]*hello --> shout/);
  const validated = await runWeir(['dags', 'validate', '--json'], env);
  expect(validated.code).toBe(0);
  expect(JSON.parse(validated.stdout)).toMatchObject({ ok: true, dags: 3, errors: [] });
});

test('dags validate exits 1 and names file:line:column for broken DAG files', async () => {
  const broken = await runWeir(['dags', 'validate', '--json'], { ...env, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-invalid') });
  expect(broken.code).toBe(1);
  const report = JSON.parse(broken.stdout);
  expect(report.ok).toBe(false);
  expect(report.errors.map((e: { message: string }) => e.message).join('\n')).toMatch(/syntax_error\.ts:\d+:\d+: /);
});

test('--conf-file and --conf - (standard input) pass run parameters', async () => {
  // A worker is running by now (started by an earlier test).
  const fromFile = await runWeir(['trigger', 'greet', '--conf-file', writeTemp('conf', '{"name": "file"}'), '--wait', '--json'], env);
  expect(fromFile.code).toBe(0);
  expect(JSON.parse(fromFile.stdout)).toMatchObject({ state: 'success', conf: { name: 'file', times: 1 } });
  const child = spawn(process.execPath, [WEIR_BIN, 'trigger', 'greet', '--conf', '-', '--wait', '--json'], { env: { ...process.env, WEIR_LOG_LEVEL: 'warn', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stdin.end('{"name": "stdin", "times": 2}');
  const code = await new Promise((resolve) => child.on('close', resolve));
  expect(code).toBe(0);
  expect(JSON.parse(out)).toMatchObject({ state: 'success', conf: { name: 'stdin', times: 2 } });
});

test('weir --version prints the package version', async () => {
  const result = await runWeir(['--version'], env);
  expect(result.code).toBe(0);
  expect(result.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});

test.each<[string, string[], Record<string, string>, RegExp]>([
  ['an invalid WEIR_LOG_LEVEL', ['runs', 'list'], { WEIR_LOG_LEVEL: 'loud' }, /^weir: configuration WEIR_LOG_LEVEL="loud": must be one of trace, debug, info, warn, error, fatal, silent$/],
  ['a worker setting that is not a number', ['worker'], { WEIR_WORKER_CONCURRENCY: 'abc', WEIR_LOG_LEVEL: 'error' }, /^weir: worker option WEIR_WORKER_CONCURRENCY must be a number >= 1, got "abc"$/],
])('regression: %s exits 2 with one line naming the variable and its value (it printed a stack trace)', async (_name, args, extra, pattern) => {
  const result = await runWeir(args, { ...env, ...extra });
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr.trim()).toMatch(pattern);
});

test('regression: duration_ms in runs list/show --json is a number (it was the string "119.917000")', async () => {
  const listed = JSON.parse((await runWeir(['runs', 'list', '--json', '--state', 'success', '--limit', '1'], env)).stdout).runs;
  expect(typeof listed[0].duration_ms).toBe('number');
  const shown = JSON.parse((await runWeir(['runs', 'show', listed[0].run_id, '--json'], env)).stdout);
  expect(typeof shown.duration_ms).toBe('number');
  expect(typeof shown.task_instances[0].duration_ms).toBe('number');
});

test('the README\'s hello DAG is the shipped dags/hello.ts, and its commands work as written', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```ts\n(\/\/ dags\/hello\.ts\n[\s\S]*?)```/.exec(readme)![1];
  expect(fs.readFileSync(path.join(ROOT, 'dags', 'hello.ts'), 'utf8')).toBe(block);
  const dagsEnv = { ...env, WEIR_DAGS_FOLDER: path.join(ROOT, 'dags') };
  const worker = startWeir(['worker'], dagsEnv);
  try {
    await worker.waitFor(/worker started/);
    const waited = await runWeir(['trigger', 'hello', '-p', 'name=ada', '-p', 'times=2', '--wait', '--json'], dagsEnv);
    expect(waited.code).toBe(0);
    const run = JSON.parse(waited.stdout);
    expect(Object.fromEntries(run.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state]))).toEqual({ greet: 'success', shout: 'success', maybe: 'skipped' });
    const output = await runWeir(['tasks', 'output', run.run_id, 'shout'], dagsEnv);
    expect(output.stdout.trim()).toBe('"HELLO ADAHELLO ADA"');
    const queued = await runWeir(['trigger', 'hello', '--conf', '{"name": "ada"}'], dagsEnv);
    expect([queued.code, queued.stdout]).toEqual([0, expect.stringMatching(/^created run manual__\S+ \(queued\)\n$/)]);
  } finally {
    await worker.stop();
  }
});
