/**
 * The secrets store: `weir secrets set` reads the value from stdin (never argv), seals it
 * (the database holds no plaintext; the key file is made 0600), `list` shows names only;
 * a task reads it with ctx.secret and every way it tries to leak it (log line, log field,
 * error, output, state) is masked; an environment variable of the same name wins; a worker
 * holding another key says so. A rotating OAuth2 refresh token kept in the store is
 * refreshed by three tasks at once on two worker processes, each under the secret's lock:
 * the token server never sees a replaced token, and the stored one is the latest issued.
 * A refused refresh token fails for good, saying how to store a new one.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { ROOT, eventually, runWeir, startWeir, type RunningProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

const VALUE = 'tok-7f3a9c1e5b2d-store';
let testDb: TestDatabase;
let pool: pg.Pool;
let home: string;
let env: Record<string, string>;
const procs: RunningProcess[] = [];

/** An OAuth2 token endpoint that rotates refresh tokens and refuses replaced ones, as QuickBooks does. */
const tokens = { current: 'rt-1', issued: 1, presented: [] as string[], refusedReplaced: 0 };
let tokenServer: http.Server;
let tokenUrl: string;

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new pg.Pool({ connectionString: testDb.url });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-secret-store-'));
  tokenServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      // A slow token endpoint (300 ms, as real ones can be): refreshes that are not taken in turn overlap.
      if (req.url === '/token') setTimeout(() => {
        const presented = new URLSearchParams(body).get('refresh_token') ?? '';
        tokens.presented.push(presented);
        if (presented !== tokens.current) {
          if (/^rt-\d+$/.test(presented)) tokens.refusedReplaced++;
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
          return;
        }
        tokens.issued++;
        tokens.current = `rt-${tokens.issued}`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `at-${tokens.issued}`, expires_in: 3600, refresh_token: tokens.current, token_type: 'bearer' }));
      }, 300);
      else {
        const ok = /^Bearer at-\d+$/.test(req.headers.authorization ?? '');
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ ok }));
      }
    });
  });
  await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', () => r()));
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}`;
  env = { WEIR_DATABASE_URL: testDb.url, WEIR_HOME: home, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-secret-store'), TOKEN_SERVER_URL: tokenUrl };
  expect((await runWeir(['db', 'migrate'], env)).code).toBe(0);
}, 60_000);

afterAll(async () => {
  for (const p of procs) await p.stop('SIGTERM');
  await new Promise((r) => tokenServer?.close(r));
  await pool?.end();
  await testDb?.drop();
  fs.rmSync(home, { recursive: true, force: true });
});

async function trigger(dagId: string, params: string[] = [], extraEnv: Record<string, string> = {}): Promise<string> {
  const out = await runWeir(['trigger', dagId, ...params.flatMap((p) => ['-p', p]), '--json'], { ...env, ...extraEnv });
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout).run_id as string;
}
const ended = (runId: string) => eventually(async () => {
  const r = (await pool.query<{ state: string }>('SELECT state::text FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0];
  return r && ['success', 'failed'].includes(r.state) ? r.state : undefined;
}, 60_000, `run ${runId}`);
async function worker(extraEnv: Record<string, string> = {}): Promise<RunningProcess> {
  const w = startWeir(['worker'], { ...env, ...extraEnv });
  procs.push(w);
  await w.waitFor(/worker started/);
  return w;
}

test('weir secrets set reads stdin and seals the value; list shows names only; bad input is exit 2', async () => {
  const set = await runWeir(['secrets', 'set', 'API_TOKEN'], env, { input: `${VALUE}\n` });
  expect([set.code, set.stderr]).toEqual([0, '']);
  expect(set.stdout).toMatch(/^stored API_TOKEN \(version 1, key [0-9a-f]{16} from .*secret\.key\)\n$/);
  expect(fs.statSync(path.join(home, 'secret.key')).mode & 0o777).toBe(0o600);
  const { rows } = await pool.query('SELECT ciphertext, nonce, tag FROM weir.secret WHERE name = $1', ['API_TOKEN']);
  expect(Buffer.concat([rows[0].ciphertext, rows[0].nonce, rows[0].tag]).includes(Buffer.from(VALUE))).toBe(false);
  expect((await pool.query("SELECT count(*)::int AS n FROM weir.secret WHERE ciphertext::text LIKE '%' || $1 || '%'", [VALUE])).rows[0].n).toBe(0);

  const listed = await runWeir(['secrets', 'list', '--json'], env);
  expect(JSON.parse(listed.stdout).secrets.map((s: { name: string; version: number; updated_by: string }) => [s.name, s.version, s.updated_by])).toEqual([['API_TOKEN', 1, 'cli']]);
  expect(listed.stdout + (await runWeir(['secrets', 'list'], env)).stdout).not.toContain(VALUE);

  // Never from argv; names and values checked.
  const argv = await runWeir(['secrets', 'set', 'API_TOKEN', VALUE], env, { input: 'x' });
  expect(argv.code).toBe(2);
  expect(argv.stderr).not.toContain('stored');
  expect(await runWeir(['secrets', 'set', '9BAD'], env, { input: 'x' })).toMatchObject({ code: 2, stderr: expect.stringContaining("a secret's name is letters, digits and _") });
  expect(await runWeir(['secrets', 'set', 'EMPTY_ONE'], env, { input: '' })).toMatchObject({ code: 2, stderr: 'weir: secret EMPTY_ONE: the value is empty\n' });
  expect(await runWeir(['secrets', 'delete', 'NOPE'], env)).toMatchObject({ code: 2, stderr: 'weir: no secret NOPE is stored (see `weir secrets list`)\n' });
  expect((await pool.query('SELECT version FROM weir.secret WHERE name = $1', ['API_TOKEN'])).rows[0].version).toBe(1);
}, 60_000);

test('a task reads the stored secret; its log, error, output and state never show it; the environment wins; another key is named', async () => {
  const w = await worker();
  const ok = await trigger('secret_use');
  expect(await ended(ok)).toBe('success');
  const failed = await trigger('secret_use', ['fail=true']);
  expect(await ended(failed)).toBe('failed');
  const { rows } = await pool.query("SELECT t.logs::text AS logs, t.error, ti.output::text AS output FROM weir.task_try t JOIN weir.task_instance ti USING (run_id, task_id) WHERE t.run_id = ANY($1)", [[ok, failed]]);
  const stored = JSON.stringify(rows) + JSON.stringify((await pool.query('SELECT value FROM weir.dag_state')).rows);
  expect(stored).toContain('calling the API with ***');
  expect(stored).toContain('the API refused ***');
  expect(stored).not.toContain(VALUE);
  expect((await runWeir(['tasks', 'logs', failed, 'use'], env)).stdout).not.toContain(VALUE);
  expect(w.output()).not.toContain(VALUE);
  const out = (await pool.query("SELECT output FROM weir.task_instance WHERE run_id = $1 AND task_id = 'use'", [ok])).rows[0].output;
  expect(out).toEqual({ echoed: '***', length: VALUE.length });

  // Unknown: fails for good, saying how to set it.
  const unknown = await trigger('secret_use', ['name=NOT_STORED']);
  expect(await ended(unknown)).toBe('failed');
  expect((await pool.query("SELECT error FROM weir.task_try WHERE run_id = $1", [unknown])).rows).toEqual([
    { error: 'no secret NOT_STORED: store it with `weir secrets set NOT_STORED` (the value on stdin), or set the environment variable NOT_STORED' },
  ]);
  await w.stop('SIGTERM');

  // The environment wins over the store.
  const withEnv = await worker({ API_TOKEN: 'tok-from-the-environment' });
  const envRun = await trigger('secret_use');
  expect(await ended(envRun)).toBe('success');
  expect((await pool.query("SELECT output FROM weir.task_instance WHERE run_id = $1", [envRun])).rows[0].output).toEqual({ echoed: '***', length: 'tok-from-the-environment'.length });
  await withEnv.stop('SIGTERM');

  // A worker with another key cannot open it, and says why.
  const other = await worker({ WEIR_SECRET_KEY: 'a-different-passphrase-for-this-test' });
  const wrong = await trigger('secret_use');
  expect(await ended(wrong)).toBe('failed');
  expect((await pool.query("SELECT error FROM weir.task_try WHERE run_id = $1", [wrong])).rows[0].error).toMatch(/^secret API_TOKEN was stored with another key \(key id [0-9a-f]{16}; this process has [0-9a-f]{16} from WEIR_SECRET_KEY\): every process needs the same WEIR_SECRET_KEY or key file$/);
  await other.stop('SIGTERM');
}, 120_000);

test('a rotating refresh token in the store: three tasks on two workers refresh at once, in turn, and the latest token is the one stored', async () => {
  expect((await runWeir(['secrets', 'set', 'ROTATING_REFRESH_TOKEN'], env, { input: 'rt-1' })).code).toBe(0);
  expect((await runWeir(['secrets', 'set', 'CLIENT_SECRET'], env, { input: 'client-secret-value' })).code).toBe(0);
  await worker();
  await worker();
  const runId = await trigger('token_rotation');
  expect(await ended(runId)).toBe('success');
  // Each task refreshed once, each with the token the one before it was given.
  expect(tokens.presented).toEqual(['rt-1', 'rt-2', 'rt-3']);
  expect(tokens.refusedReplaced).toBe(0);
  const { rows } = await pool.query("SELECT version, updated_by FROM weir.secret WHERE name = 'ROTATING_REFRESH_TOKEN'");
  expect(rows[0].version).toBe(4);
  expect(rows[0].updated_by).toMatch(/^token_rotation\/.+\/[abc]\/1$/);
  // The stored token is the newest: a refresh with it is accepted.
  tokens.presented = [];
  const again = await trigger('token_rotation');
  expect(await ended(again)).toBe('success');
  expect(tokens.presented).toEqual(['rt-4', 'rt-5', 'rt-6']);

  // A refused refresh token fails for good and says how to store a new one.
  expect((await runWeir(['secrets', 'set', 'ROTATING_REFRESH_TOKEN'], env, { input: 'revoked-token' })).code).toBe(0);
  const refused = await trigger('token_rotation');
  expect(await ended(refused)).toBe('failed');
  const errors = (await pool.query("SELECT task_id, try_number, error FROM weir.task_try WHERE run_id = $1 ORDER BY task_id", [refused])).rows;
  expect(errors).toHaveLength(3);
  for (const e of errors) {
    expect(e.try_number).toBe(1);
    expect(e.error).toContain('the OAuth2 refresh token or client credentials were refused; re-authorise the app and store the new refresh token with `weir secrets set ROTATING_REFRESH_TOKEN`');
  }
}, 120_000);
