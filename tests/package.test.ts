/**
 * weir as a dependency of a user's own project, outside this repository: `npm pack`,
 * `weir init` into a temporary folder with the tarball as its weir, `npm install` from
 * the registry (cached), then in that project: `npx weir --version`, `dags validate`
 * (type-checking against the installed building blocks), a worker, `trigger --wait`,
 * `tasks output`, and the generic alert email the example DAG queues.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { simpleParser } from 'mailparser';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { ROOT, runCommand, runWeir, eventually } from './support/cli.ts';

let testDb: TestDatabase;
let tmp: string;
let project: string;
let env: Record<string, string>;

/** A command in the project, as its user types it. */
const inProject = (command: string, args: string[], timeoutMs = 120_000) =>
  runCommand(command, args, { cwd: project, timeoutMs, env: { WEIR_LOG_LEVEL: 'warn', npm_config_yes: 'false', ...env } });
// npm_config_yes=false: npx never fetches a registry package named weir; this project's own runs.
const weir = (...args: string[]) => inProject('npx', ['weir', ...args]);

beforeAll(async () => {
  testDb = await createTestDatabase();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-project-'));
  project = path.join(tmp, 'my-pipelines');
  // Only the project's own variables: none of this checkout's settings leak in.
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: '', WEIR_HOME: '' };
  const packed = spawnSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const tarball = path.join(tmp, packed.stdout.trim().split('\n').pop()!);
  const init = await runWeir(['init', project, '--weir', tarball, '--json'], {}, { cwd: tmp });
  expect(init.code).toBe(0);
  expect(JSON.parse(init.stdout)).toMatchObject({ dependency: `file:../${path.basename(tarball)}` });
  const installed = await inProject('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], 300_000);
  if (installed.code !== 0) throw new Error(`npm install failed: ${installed.stderr}`);
}, 400_000);

afterAll(async () => {
  await testDb?.drop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('weir init scaffolds the project, and refuses to write over one (exit 2, nothing written)', async () => {
  for (const file of ['package.json', 'tsconfig.json', 'dags/example.ts', 'sql/orders.sql', 'sql/checks/daily_revenue.sql', '.env.example', '.gitignore', 'README.md']) {
    expect(fs.existsSync(path.join(project, file))).toBe(true);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
  expect(manifest).toMatchObject({ name: 'my-pipelines', type: 'module' });
  fs.unlinkSync(path.join(project, 'README.md'));
  const again = await runWeir(['init', project], {}, { cwd: tmp });
  expect(again.code).toBe(2);
  expect(again.stderr.trim()).toBe(`weir: ${path.join(project, 'package.json')} already exists; weir init writes only into a new or empty project (nothing was written)`);
  expect(fs.existsSync(path.join(project, 'README.md'))).toBe(false);
});

test('npx weir in the project runs the installed weir', async () => {
  const version = await weir('--version');
  expect(version.code).toBe(0);
  expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  expect(fs.realpathSync(path.join(project, 'node_modules', 'weir'))).not.toContain(ROOT);
  // An installed weir scaffolds projects that get it from the registry, under its published name.
  const nested = await weir('init', 'nested', '--json');
  expect(nested.code).toBe(0);
  expect(JSON.parse(nested.stdout).dependency).toMatch(/^npm:weir-scheduler@\^\d+\.\d+\.\d+$/);
  fs.rmSync(path.join(project, 'nested'), { recursive: true });
});

test('dags validate type-checks the DAGs against the installed building blocks (weir/tasks/*)', async () => {
  const ok = await weir('dags', 'validate');
  expect(ok.stderr).toBe('');
  expect(ok.stdout.trim()).toBe('ok: 1 DAG(s), no problems');
  expect(ok.code).toBe(0);
  // Wrong types against two building blocks: reported as type errors at their lines,
  // which only happens when 'weir/tasks/http' and 'weir/tasks/postgres' resolve with their types.
  const broken = path.join(project, 'dags', 'typed.ts');
  fs.writeFileSync(broken, [
    "import { dag } from 'weir';",
    "import { createHttpClient } from 'weir/tasks/http';",
    "import { qualifiedName } from 'weir/tasks/postgres';",
    "const d = dag({ id: 'typed' });",
    "d.task({ id: 'a' }, async () => createHttpClient({ baseURL: 42 }));",
    "d.task({ id: 'b' }, async () => qualifiedName(['x']));",
    'export default d;',
    '',
  ].join('\n'));
  try {
    const bad = await weir('dags', 'validate');
    expect(bad.code).toBe(1);
    expect(bad.stdout).not.toMatch(/TS2307/);
    expect(bad.stdout).toMatch(new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5:\\d+: TS2322: Type 'number' is not assignable to type 'string'`));
    expect(bad.stdout).toMatch(/typed\.ts:6:\d+: TS2345: Argument of type 'string\[\]' is not assignable to parameter of type 'string'/);
  } finally {
    fs.unlinkSync(broken);
  }
});

test('a worker of the project runs its DAG with its own SQL; trigger --wait, tasks output and the alert email', async () => {
  const migrated = await weir('db', 'migrate');
  expect(migrated.code).toBe(0);
  const bin = path.join(project, 'node_modules', 'weir', 'bin', 'weir.js');
  // Started by node itself so its PID is weir's (npx would leave weir running when stopped).
  const worker = spawn(process.execPath, [bin, 'worker'], { cwd: project, env: { ...process.env, ...env, WEIR_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  worker.stderr.on('data', (d) => (log += d));
  worker.stdout.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => worker.on('exit', resolve));
  try {
    await eventually(async () => log.includes('worker started') || worker.exitCode !== null, 60_000, 'the worker to start');
    if (!log.includes('worker started')) throw new Error(`the worker did not start:\n${log}`);
    const run = await weir('trigger', 'example', '-p', 'day=2026-03-01', '-p', 'min_revenue=1000', '--wait', '--json');
    expect(run.code).toBe(0);
    const detail = JSON.parse(run.stdout);
    expect(detail.state).toBe('success');
    expect(detail.task_instances.map((t: { task_id: string; state: string }) => `${t.task_id}:${t.state}`).sort())
      .toEqual(['email_alert:success', 'extract:success', 'load:success', 'revenue_check:success']);

    const output = await weir('tasks', 'output', detail.run_id, 'revenue_check', '--json');
    expect(output.code).toBe(0);
    expect(JSON.parse(output.stdout).output).toMatchObject({ day: '2026-03-01', value: 242.5, rows: 3, min: 1000, breached: true });

    // The alert speaks the DAG's words (its metric and unit), not the flagship's.
    const outbox = path.join(project, '.weir', 'outbox');
    const eml = await eventually(async () => fs.existsSync(outbox) && fs.readdirSync(outbox).find((f) => f.endsWith('.eml')), 30_000, 'the alert in the outbox');
    const message = await simpleParser(fs.readFileSync(path.join(outbox, eml)));
    expect(message.subject).toBe('[weir] daily revenue 242.50 USD below [1000, 10000] (2026-03-01 to 2026-03-01)');
    expect(message.html).toContain('Sum of order amounts');
    expect(`${message.html}${message.text}`).not.toMatch(/price|stock/i);
  } finally {
    worker.kill('SIGTERM');
    await exited;
  }
}, 180_000);
