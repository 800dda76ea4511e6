/**
 * Regression (issue 10): secrets leaked into stored errors, CLI output, log fields and
 * failure emails. Every secret-bearing setting is registered at start-up of every
 * process and isolate, and redacted where errors, stacks, log lines and emails are
 * written. Real worker, real database, the email outbox.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ROOT, runWeir, startWeir, eventually } from './support/cli.ts';
import { createTestDatabase } from './support/database.ts';

const SECRETS = ['hunter2secret', 'tdkey-1234567', 'tok-abcdef987'];

test('no secret-bearing setting appears in worker logs, stored errors and logs, CLI output (text and --json) or the failure email', async () => {
  const testDb = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: testDb.url });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-secrets-'));
  const env = {
    WEIR_DATABASE_URL: testDb.url,
    WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-secrets'),
    WEIR_HOME: home,
    WEIR_CONN_WAREHOUSE: `postgres://loader:${SECRETS[0]}@127.0.0.1:1/warehouse`,
    TWELVE_DATA_API_KEY: SECRETS[1],
    MY_SERVICE_TOKEN: SECRETS[2],
  };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
  const worker = startWeir(['worker'], env);
  try {
    await worker.waitFor(/worker started/);
    const triggered = await runWeir(['trigger', 'leaky', '--wait', '--json'], env);
    expect(triggered.code).toBe(1);
    const runId = JSON.parse(triggered.stdout).run_id as string;
    const outbox = path.join(home, 'outbox');
    const emails = await eventually(async () => fs.existsSync(outbox) && fs.readdirSync(outbox).length >= 2 && fs.readdirSync(outbox), 30_000, 'failure email in the outbox');
    const texts: [string, string][] = [
      ['worker output', worker.output()],
      ['trigger --wait', triggered.stdout + triggered.stderr],
      ...await Promise.all([
        ['runs', 'show', runId], ['runs', 'show', runId, '--json'], ['tasks', 'logs', runId, 'leak', '--all'], ['tasks', 'logs', runId, 'leak', '--all', '--json'],
      ].map(async (args) => [args.join(' '), JSON.stringify(await runWeir(args, env))] as [string, string])),
      ['task_try rows', JSON.stringify((await pool.query('SELECT error, error_stack, logs FROM weir.task_try WHERE run_id = $1', [runId])).rows)],
      ...emails.map((f) => [`outbox ${f}`, fs.readFileSync(path.join(outbox, f), 'utf8')] as [string, string]),
    ];
    // The leak happened (the error and the lines are there), masked.
    expect(texts.find(([n]) => n === 'task_try rows')![1]).toContain('could not reach postgres: postgres://loader:***@127.0.0.1:1/warehouse *** ***');
    expect(worker.output()).toContain('console: postgres://loader:***@');
    for (const [where, text] of texts) for (const secret of SECRETS) expect(`${where}: ${text.includes(secret) ? secret : 'clean'}`).toBe(`${where}: clean`);
  } finally {
    await worker.stop();
    await pool.end();
    await testDb.drop();
    fs.rmSync(home, { recursive: true, force: true });
  }
});
