/**
 * weir's server in-process (Hono's app.request) on a real database and worker: the
 * Airflow-compatible REST API route by route, bad input (422/400/404, nothing
 * changed), the guards (401, 403 for a viewer's write, cross-origin cookie writes,
 * foreign Host headers, the token endpoint's rate limit), escaping, and the served
 * OpenAPI document checked by an independent validator.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { dag, z } from '../runtime/index.ts';
import { buildApp } from '../runtime/server/app.ts';
import { EventHub } from '../runtime/server/events.ts';
import { allowedHosts, SESSION_COOKIE } from '../runtime/server/security.ts';
import { createToken } from '../runtime/server/tokens.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { registerEnvSecrets } from '../runtime/redact.ts';
import { saveArtifact } from '../tasks/artifacts.ts';
import { getRunDetail } from '../runtime/read/runs.ts';

const greet = dag({
  id: 'greet', description: 'says hello', tags: ['demo'], owner: 'data-eng',
  params: z.object({ name: z.string().min(1).default('world').describe('who to greet'), times: z.number().int().min(1).max(5).default(1) }),
});
const hello = greet.task({ id: 'hello' }, async (ctx) => {
  for (let i = 0; i < 25; i++) ctx.log.info(`line ${i}`, { i });
  return { greeting: `hello ${ctx.params.name}` };
});
greet.task({ id: 'shout', upstream: [hello] }, async (ctx) => ctx.output(hello).greeting.toUpperCase());

const nasty = dag({ id: 'nasty', schedule: '@daily', startDate: '2026-01-01', tags: ['xss'] });
nasty.task({ id: 'inject', retries: 0 }, async (ctx) => {
  ctx.log.warn('<script>alert(1)</script>');
  throw new Error('<img src=x onerror=alert(1)>');
});

// A secret as a worker registers it from its environment (a *_API_KEY variable).
const LEAKED = 'sk-live-5f0c1d2e3a4b';
const leaky = dag({ id: 'leaky' });
leaky.task({ id: 'call', retries: 0 }, async (ctx) => {
  ctx.log.info(`calling with key ${LEAKED}`);
  throw new Error(`401 from https://api.example.com/?apikey=${LEAKED}`);
});

const reporting = dag({ id: 'reporting' });
reporting.task({ id: 'summary' }, async (ctx) => {
  await saveArtifact(ctx, 'summary.html', '<h1>Sales</h1><script>window.parent.pwned = 1</script>', 'text/html', { db: te.engine.pool });
  return 'saved';
});

const gate = dag({ id: 'gate' });
gate.task({ id: 'wait' }, async (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'))));

let te: TestEngine;
let app: ReturnType<typeof buildApp>;
let events: EventHub;
let operator: string;
let viewer: string;
const HOST = '127.0.0.1:8080';
const SECRET = 'test-admin-secret-0123456789';

// Response bodies are asserted field by field.
type Answer = Omit<Response, 'json'> & { json(): Promise<any> };

function call(path: string, init: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { host: HOST, ...(init.headers ?? {}) };
  const token = init.token === undefined ? operator : init.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return app.request(`http://${HOST}${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }) as Promise<Answer>;
}
const runCount = async () => Number((await te.db.pool.query('SELECT count(*) FROM weir.dag_run')).rows[0].count);

beforeAll(async () => {
  registerEnvSecrets({ EXAMPLE_API_KEY: LEAKED });
  te = await startTestEngine([greet, nasty, gate, leaky, reporting]);
  te.dags.broken.set('/dags/broken.ts', ['/dags/broken.ts:3:1: <b>syntax</b> error']);
  await te.startWorker();
  events = new EventHub(te.engine.pool);
  app = buildApp({ pool: te.engine.pool, engine: async () => te.engine, dags: () => te.dags, adminSecret: SECRET, allowedHosts: allowedHosts('127.0.0.1', 8080, []), events });
  operator = (await createToken(te.engine.pool, { role: 'operator', name: 'ops' })).token;
  viewer = (await createToken(te.engine.pool, { role: 'viewer', name: 'viewer' })).token;
});

afterAll(async () => {
  await events?.close();
  await te?.close();
});

describe('guards', () => {
  test('no token → 401 for the API (with WWW-Authenticate); version and health need none', async () => {
    const r = await call('/api/v2/dags', { token: null });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect((await call('/api/v2/dags', { token: 'weir_nope_nope' })).status).toBe(401);
    const v = await call('/api/v2/version', { token: null });
    expect(v.status).toBe(200);
    expect(await v.json()).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), git_version: null });
    const h = await (await call('/api/v2/monitor/health', { token: null })).json();
    expect(h.metadatabase.status).toBe('healthy');
    expect(h.workers.some((w: { status: string }) => w.status === 'alive')).toBe(true);
  });

  test('a browser without a session is sent to the login page', async () => {
    const r = await call('/', { token: null });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/login?next=%2F');
  });

  test('a viewer reads but cannot write (403), and nothing changes', async () => {
    expect((await call('/api/v2/dags/greet', { token: viewer })).status).toBe(200);
    const before = await runCount();
    const r = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', token: viewer, body: { logical_date: null } });
    expect(r.status).toBe(403);
    expect((await r.json()).detail).toMatch(/viewer may only read/);
    expect((await call('/api/v2/dags/greet', { method: 'PATCH', token: viewer, body: { is_paused: true } })).status).toBe(403);
    expect(await runCount()).toBe(before);
  });

  test('a Host this server does not answer to is refused (DNS rebinding)', async () => {
    const r = await call('/api/v2/version', { headers: { host: 'evil.example:8080' } });
    expect(r.status).toBe(421);
  });

  test('security headers: a CSP of self, nosniff, no framing', async () => {
    const r = await call('/api/v2/version');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
  });

  test('POST /auth/token: the admin secret gives a working token, a wrong one 401, and attempts are rate-limited (429)', async () => {
    const bad = await call('/auth/token', { method: 'POST', token: null, body: { username: 'admin', password: 'guess' } });
    expect(bad.status).toBe(401);
    const good = await call('/auth/token', { method: 'POST', token: null, body: { username: 'admin', password: SECRET } });
    expect(good.status).toBe(201);
    const { access_token } = await good.json();
    expect((await call('/api/v2/dags', { token: access_token })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await call('/auth/token', { method: 'POST', token: null, body: { username: 'admin', password: 'guess' } })).status);
    expect(statuses).toContain(429);
  });

  test('a cookie session writes only from its own origin (CSRF): cross-site → 403, same origin → 200', async () => {
    const login = await app.request(`http://${HOST}/login`, { method: 'POST', headers: { host: HOST, origin: `http://${HOST}`, 'content-type': 'application/x-www-form-urlencoded' }, body: `password=${SECRET}&next=/` });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=weir_`));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = cookie.split(';')[0]!;
    const patch = (headers: Record<string, string>) => app.request(`http://${HOST}/api/v2/dags/gate`, { method: 'PATCH', headers: { host: HOST, cookie: session, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ is_paused: true }) });
    expect((await patch({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await patch({})).status).toBe(403);
    const paused = () => te.db.pool.query("SELECT is_paused FROM weir.dag WHERE dag_id = 'gate'");
    expect((await paused()).rows[0]?.is_paused ?? false).toBe(false);
    expect((await patch({ origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await paused()).rows[0].is_paused).toBe(true);
    await call('/api/v2/dags/gate', { method: 'PATCH', body: { is_paused: false } });
  });
});

describe('DAGs', () => {
  test('list: paging, tag / paused / id-pattern filters, Airflow shape', async () => {
    const all = await (await call('/api/v2/dags')).json();
    expect(all.total_entries).toBe(5);
    expect(all.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(['gate', 'greet', 'leaky', 'nasty', 'reporting']);
    expect(all.dags[1]).toMatchObject({ dag_id: 'greet', description: 'says hello', owners: ['data-eng'], tags: [{ name: 'demo', dag_id: 'greet' }], is_paused: false, timetable_summary: null });
    const page = await (await call('/api/v2/dags?limit=1&offset=1')).json();
    expect(page).toMatchObject({ total_entries: 5, dags: [{ dag_id: 'greet' }] });
    expect((await (await call('/api/v2/dags?tags=xss')).json()).dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(['nasty']);
    expect((await (await call('/api/v2/dags?dag_id_pattern=g%25')).json()).dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(['gate', 'greet']);
    const nastyDag = (await (await call('/api/v2/dags/nasty')).json());
    expect(nastyDag.next_dagrun_logical_date).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00/);
    expect((await call('/api/v2/dags?limit=101')).status).toBe(422);
  });

  test('details carry the params as JSON Schema with their defaults; tasks list the graph', async () => {
    const d = await (await call('/api/v2/dags/greet/details')).json();
    expect(d.params.name).toMatchObject({ value: 'world', description: 'who to greet' });
    expect(d.params_schema.properties.times).toMatchObject({ type: 'integer', minimum: 1, maximum: 5, default: 1 });
    const t = await (await call('/api/v2/dags/greet/tasks')).json();
    expect(t.tasks.map((x: { task_id: string; downstream_task_ids: string[] }) => [x.task_id, x.downstream_task_ids])).toEqual([['hello', ['shout']], ['shout', []]]);
  });

  test('PATCH is_paused pauses and unpauses; unknown DAG → 404; bad body → 422', async () => {
    expect((await (await call('/api/v2/dags/nasty', { method: 'PATCH', body: { is_paused: true } })).json()).is_paused).toBe(true);
    expect((await (await call('/api/v2/dags?paused=true')).json()).dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(['nasty']);
    await call('/api/v2/dags/nasty', { method: 'PATCH', body: { is_paused: false } });
    expect((await call('/api/v2/dags/nope', { method: 'PATCH', body: { is_paused: true } })).status).toBe(404);
    const bad = await call('/api/v2/dags/greet', { method: 'PATCH', body: { is_paused: 'yes' } });
    expect(bad.status).toBe(422);
    expect((await bad.json()).detail[0].loc).toEqual(['json', 'is_paused']);
  });

  test('import errors list the broken files', async () => {
    const r = await (await call('/api/v2/importErrors')).json();
    expect(r).toMatchObject({ total_entries: 1, import_errors: [{ filename: '/dags/broken.ts', stack_trace: expect.stringContaining('syntax') }] });
  });
});

describe('runs and task instances', () => {
  let runId: string;

  test('trigger: params that fail the schema → 422 naming the field, malformed JSON → 400, and no run is created', async () => {
    const before = await runCount();
    const bad = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: { logical_date: null, conf: { times: 9 } } });
    expect(bad.status).toBe(422);
    expect(JSON.stringify(await bad.json())).toMatch(/param \\"times\\"/);
    const unknown = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: { logical_date: null, conf: { colour: 'red' } } });
    expect(unknown.status).toBe(422);
    const malformed = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: '{"conf": ' });
    expect([400, 422]).toContain(malformed.status);
    const extra = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: { confx: {} } });
    expect(extra.status).toBe(422);
    expect((await call('/api/v2/dags/nope/dagRuns', { method: 'POST', body: {} })).status).toBe(404);
    expect(await runCount()).toBe(before);
  });

  test('trigger with conf, dag_run_id and note; then the run, its task instances, tries, logs and output', async () => {
    const created = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: { dag_run_id: 'api_run_1', logical_date: '2026-05-01T00:00:00Z', conf: { name: 'ada' }, note: 'from the API' } });
    expect(created.status).toBe(200);
    const run = await created.json();
    expect(run).toMatchObject({ dag_run_id: 'api_run_1', dag_id: 'greet', run_type: 'manual', conf: { name: 'ada', times: 1 }, note: 'from the API', logical_date: '2026-05-01T00:00:00.000Z' });
    runId = run.dag_run_id;
    expect(await te.waitForRun(runId)).toBe('success');
    const dup = await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: { dag_run_id: 'api_run_1' } });
    expect(dup.status).toBe(409);

    const got = await (await call(`/api/v2/dags/greet/dagRuns/${runId}`)).json();
    expect(got).toMatchObject({ state: 'success', duration: expect.any(Number) });
    expect((await call(`/api/v2/dags/gate/dagRuns/${runId}`)).status).toBe(404);

    const tis = await (await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances`)).json();
    expect(tis.total_entries).toBe(2);
    expect(tis.task_instances.map((t: { task_id: string; state: string; try_number: number }) => `${t.task_id}:${t.state}:${t.try_number}`).sort()).toEqual(['hello:success:1', 'shout:success:1']);
    const one = await (await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello`)).json();
    expect(one).toMatchObject({ task_id: 'hello', dag_run_id: runId, map_index: -1, max_tries: 0 });
    const tries = await (await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello/tries`)).json();
    expect(tries).toMatchObject({ total_entries: 1, task_instances: [{ try_number: 1, state: 'success' }] });

    const page1 = await (await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello/logs/1?limit=10`)).json();
    expect(page1.content.map((l: { event: string }) => l.event)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
    expect(page1.content[3]).toMatchObject({ i: 3, level: 'info' });
    const page3 = await (await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello/logs/1?limit=10&token=${page1.continuation_token}`)).json();
    expect(page3.content[0].event).toBe('line 10');
    const ndjson = await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello/logs/1`, { headers: { accept: 'application/x-ndjson' } });
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await ndjson.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(25);
    expect(lines[24].event).toBe('line 24');

    const xcom = await (await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello/xcomEntries/return_value`)).json();
    expect(xcom).toMatchObject({ key: 'return_value', task_id: 'hello', value: { greeting: 'hello ada' } });
    expect((await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/hello/xcomEntries/other`)).status).toBe(422);
    expect((await call(`/api/v2/dags/greet/dagRuns/${runId}/taskInstances/nope`)).status).toBe(404);
  });

  test('runs list: per DAG and across DAGs (~), paged, filtered by state, ordered; a bad order_by → 422', async () => {
    await call('/api/v2/dags/greet/dagRuns', { method: 'POST', body: { dag_run_id: 'api_run_2', conf: {} } });
    await te.waitForRun('api_run_2');
    const list = await (await call('/api/v2/dags/greet/dagRuns?order_by=-id&limit=1')).json();
    expect(list).toMatchObject({ total_entries: 2, dag_runs: [{ dag_run_id: 'api_run_2' }] });
    const second = await (await call('/api/v2/dags/greet/dagRuns?order_by=-id&limit=1&offset=1')).json();
    expect(second.dag_runs[0].dag_run_id).toBe('api_run_1');
    const across = await (await call('/api/v2/dags/~/dagRuns?state=success')).json();
    expect(across.dag_runs.every((r: { state: string }) => r.state === 'success')).toBe(true);
    expect(across.total_entries).toBeGreaterThanOrEqual(2);
    expect((await call('/api/v2/dags/greet/dagRuns?order_by=drop table')).status).toBe(422);
  });

  test('PATCH state failed cancels a running run; clear has a dry run that changes nothing, then clears', async () => {
    const created = await (await call('/api/v2/dags/gate/dagRuns', { method: 'POST', body: {} })).json();
    const states = await te.taskStates(created.dag_run_id);
    expect(Object.keys(states)).toEqual(['wait']);
    const cancelled = await call(`/api/v2/dags/gate/dagRuns/${created.dag_run_id}`, { method: 'PATCH', body: { state: 'failed' } });
    expect(cancelled.status).toBe(200);
    expect(await te.waitForRun(created.dag_run_id)).toBe('failed');
    expect((await call(`/api/v2/dags/gate/dagRuns/${created.dag_run_id}`, { method: 'PATCH', body: { state: 'success' } })).status).toBe(422);

    const failed = await (await call('/api/v2/dags/nasty/dagRuns', { method: 'POST', body: {} })).json();
    expect(await te.waitForRun(failed.dag_run_id)).toBe('failed');
    const dry = await (await call(`/api/v2/dags/nasty/dagRuns/${failed.dag_run_id}/clear`, { method: 'POST', body: { dry_run: true, only_failed: true } })).json();
    expect(dry.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(['inject']);
    expect((await te.taskStates(failed.dag_run_id)).inject).toBe('failed');
    const cleared = await call(`/api/v2/dags/nasty/dagRuns/${failed.dag_run_id}/clear`, { method: 'POST', body: { dry_run: false } });
    expect(cleared.status).toBe(200);
    expect(await te.waitForRun(failed.dag_run_id)).toBe('failed');
    const tries = await (await call(`/api/v2/dags/nasty/dagRuns/${failed.dag_run_id}/taskInstances/inject/tries`)).json();
    expect(tries.total_entries).toBe(2);
    // Values from task code come back as JSON data, never markup: the error text is as it was thrown.
    expect(tries.task_instances[0].error).toContain('<img src=x onerror=alert(1)>');
    // In a page the error and the log line are text: escaped, never elements.
    const html = await (await call(`/dags/nasty/runs/${failed.dag_run_id}/tasks/inject?try=1`)).text();
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).not.toMatch(/<img src=x|<script>alert/);
  });
});

test('a secret in a task\'s error and log lines is masked in everything served: API, NDJSON logs and pages', async () => {
  const run = await (await call('/api/v2/dags/leaky/dagRuns', { method: 'POST', body: {} })).json();
  expect(await te.waitForRun(run.dag_run_id)).toBe('failed');
  const base = `/api/v2/dags/leaky/dagRuns/${run.dag_run_id}/taskInstances/call`;
  const served = [
    await (await call(`${base}/tries`)).text(),
    await (await call(`${base}/logs/1`)).text(),
    await (await call(`${base}/logs/1`, { headers: { accept: 'application/x-ndjson' } })).text(),
    await (await call(`/dags/leaky/runs/${run.dag_run_id}`)).text(),
    await (await call(`/dags/leaky/runs/${run.dag_run_id}/tasks/call`)).text(),
  ];
  expect(served[0]).toContain('401 from https://api.example.com/');
  expect(served[1]).toContain('calling with key');
  for (const body of served) expect(body).not.toContain(LEAKED);
});

test('an artifact a task saved is listed with its run and served sandboxed as it was stored', async () => {
  const run = await (await call('/api/v2/dags/reporting/dagRuns', { method: 'POST', body: {} })).json();
  expect(await te.waitForRun(run.dag_run_id)).toBe('success');
  const detail = await getRunDetail(te.engine.pool, run.dag_run_id);
  expect(detail.artifacts).toMatchObject([{ task_id: 'summary', try_number: 1, name: 'summary.html', content_type: 'text/html', bytes: Buffer.byteLength('<h1>Sales</h1><script>window.parent.pwned = 1</script>') }]);
  const page = await (await call(`/dags/reporting/runs/${run.dag_run_id}`)).text();
  expect(page).toContain(`/dags/reporting/runs/${encodeURIComponent(run.dag_run_id)}/artifacts/summary/summary.html?try=1`);
  const file = await call(`/dags/reporting/runs/${run.dag_run_id}/artifacts/summary/summary.html?try=1`);
  expect(file.status).toBe(200);
  expect(file.headers.get('content-type')).toMatch(/^text\/html/);
  expect(file.headers.get('content-security-policy')).toMatch(/^sandbox; default-src 'none'/);
  expect(await file.text()).toBe('<h1>Sales</h1><script>window.parent.pwned = 1</script>');
  expect((await call(`/dags/reporting/runs/${run.dag_run_id}/artifacts/summary/nope.html`)).status).toBe(404);
  expect((await call(`/dags/reporting/runs/${run.dag_run_id}/artifacts/summary/summary.html`, { token: null })).status).toBe(303);
});

describe('marking and backfills', () => {
  test('PATCH a task instance marks it success or failed and decides its run again; a running run → 409; bad state → 422', async () => {
    const run = await (await call('/api/v2/dags/nasty/dagRuns', { method: 'POST', body: {} })).json();
    expect(await te.waitForRun(run.dag_run_id)).toBe('failed');
    const path = `/api/v2/dags/nasty/dagRuns/${run.dag_run_id}/taskInstances/inject`;
    expect((await call(path, { method: 'PATCH', body: { new_state: 'running' } })).status).toBe(422);
    expect((await call(path, { method: 'PATCH', token: viewer, body: { new_state: 'success' } })).status).toBe(403);
    const marked = await call(path, { method: 'PATCH', body: { new_state: 'success' } });
    expect(marked.status).toBe(200);
    expect((await marked.json()).task_instances[0]).toMatchObject({ task_id: 'inject', state: 'success' });
    expect((await (await call(`/api/v2/dags/nasty/dagRuns/${run.dag_run_id}`)).json()).state).toBe('success');
    await call(path, { method: 'PATCH', body: { new_state: 'failed' } });
    expect((await (await call(`/api/v2/dags/nasty/dagRuns/${run.dag_run_id}`)).json()).state).toBe('failed');

    const open = await (await call('/api/v2/dags/gate/dagRuns', { method: 'POST', body: {} })).json();
    const busy = await call(`/api/v2/dags/gate/dagRuns/${open.dag_run_id}/taskInstances/wait`, { method: 'PATCH', body: { new_state: 'success' } });
    expect(busy.status).toBe(409);
    await call(`/api/v2/dags/gate/dagRuns/${open.dag_run_id}`, { method: 'PATCH', body: { state: 'failed' } });
    await te.waitForRun(open.dag_run_id);
  });

  test('backfills: the dry run lists the logical dates and creates nothing; the backfill creates them once', async () => {
    const body = { dag_id: 'nasty', from_date: '2026-02-01T00:00:00Z', to_date: '2026-02-03T00:00:00Z' };
    const before = await runCount();
    const dry = await (await call('/api/v2/backfills/dry_run', { method: 'POST', body })).json();
    expect(dry).toEqual({ total_entries: 3, backfills: [{ logical_date: '2026-02-01T00:00:00.000Z' }, { logical_date: '2026-02-02T00:00:00.000Z' }, { logical_date: '2026-02-03T00:00:00.000Z' }] });
    expect(await runCount()).toBe(before);
    // Paused first so the worker does not race the assertions (backfill runs still wait, queued).
    await call('/api/v2/dags/nasty', { method: 'PATCH', body: { is_paused: true } });
    const made = await (await call('/api/v2/backfills', { method: 'POST', body })).json();
    expect(made).toMatchObject({ dag_id: 'nasty', created_runs: 3, id: null });
    expect(await runCount()).toBe(before + 3);
    const again = await (await call('/api/v2/backfills', { method: 'POST', body })).json();
    expect(again.created_runs).toBe(0);
    expect((await call('/api/v2/backfills', { method: 'POST', body: { ...body, to_date: 'soon' } })).status).toBe(422);
    expect((await call('/api/v2/backfills', { method: 'POST', body: { ...body, dag_id: 'nope' } })).status).toBe(404);
    await call('/api/v2/dags/nasty', { method: 'PATCH', body: { is_paused: false } });
  });

  test('health reports a running scheduler by its heartbeat, and a stopped one as unhealthy', async () => {
    const scheduler = new Scheduler(te.engine, te.dags);
    await scheduler.start();
    const alive = await (await call('/api/v2/monitor/health', { token: null })).json();
    expect(alive.scheduler).toMatchObject({ status: 'healthy', latest_scheduler_heartbeat: expect.stringMatching(/^\d{4}-/) });
    await scheduler.stop();
    const stopped = await (await call('/api/v2/monitor/health', { token: null })).json();
    expect(stopped.scheduler.status).toBe('unhealthy');
  });
});

test('the served OpenAPI document is valid OpenAPI 3.1 (independent validator) and lists the routes', async () => {
  const doc = await (await call('/api/v2/openapi.json', { token: null })).json();
  const validator = new Validator();
  const result = await validator.validate(doc);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
    '/api/v2/dags', '/api/v2/dags/{dag_id}', '/api/v2/dags/{dag_id}/details', '/api/v2/dags/{dag_id}/tasks', '/api/v2/importErrors',
    '/api/v2/dags/{dag_id}/dagRuns', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/clear',
    '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}',
  ]));
});
