/**
 * `weir server` as a real HTTP server on a Session (port 0): the admin secret made once
 * with mode 0600, the bind rules, and the live event stream — a triggered run's
 * task-instance and run events arrive, and a client reconnecting with Last-Event-ID gets
 * exactly the events it missed (or a reset when they are not kept).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from '../runtime/cli/session.ts';
import { loadConfig } from '../runtime/config.ts';
import { startServer, type RunningServer } from '../runtime/server/serve.ts';
import { serverBanner } from '../runtime/cli/commands/server.ts';
import { createToken } from '../runtime/server/tokens.ts';
import { Worker } from '../runtime/worker/worker.ts';
import { enqueueNotifications } from '../runtime/engine/runs.ts';
import { withTransaction } from '../runtime/engine/transaction.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { ROOT } from './support/cli.ts';

let testDb: TestDatabase;
let session: Session;
let server: RunningServer;
let worker: Worker;
let token: string;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-server-home-'));

interface SseEvent { id?: string; event: string; data: Record<string, unknown> }

/** Read SSE events from the server until `until` says stop (or the timeout). */
async function readEvents(url: string, headers: Record<string, string>, until: (seen: SseEvent[]) => boolean, onReady?: () => Promise<void>, timeoutMs = 30_000): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const seen: SseEvent[] = [];
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    while (!until(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { event: 'message', data: {} };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
        }
        if (block.startsWith(':')) continue;
        seen.push(e);
        if (e.event === 'ready') await onReady?.();
      }
    }
    await reader.cancel();
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return seen;
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  session = new Session(loadConfig({ WEIR_DATABASE_URL: testDb.url, WEIR_DAGS_FOLDER: path.join(ROOT, 'tests', 'fixtures', 'dags-cli'), WEIR_HOME: home }));
  await session.database({ migrate: true });
  server = await startServer(session, { port: 0 });
  worker = new Worker(await session.engine(), await session.dags(), { pollIntervalMs: 500 });
  await worker.start();
  token = (await createToken((await session.database()).pool, { role: 'operator', name: 'live' })).token;
});

afterAll(async () => {
  await worker?.stop();
  await server?.close();
  await session?.close();
  await testDb?.drop();
  fs.rmSync(home, { recursive: true, force: true });
});

test('the admin secret is made at first start with mode 0600 and printed once', async () => {
  const file = path.join(home, 'server', 'admin-secret');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(server.firstSecret).toBe(fs.readFileSync(file, 'utf8').trim());
  expect(serverBanner(server)).toContain(server.firstSecret!);
  const again = await startServer(session, { port: 0 });
  try {
    expect(again.firstSecret).toBeUndefined();
    expect(serverBanner(again)).not.toContain(server.firstSecret!);
    expect(serverBanner(again)).toContain(file);
  } finally {
    await again.close();
  }
});

test('a non-loopback address is refused without WEIR_SERVER_ALLOWED_HOSTS', async () => {
  await expect(startServer(session, { host: '0.0.0.0', port: 0 })).rejects.toThrow(/not a loopback address: set WEIR_SERVER_ALLOWED_HOSTS/);
});

test('live events: a run\'s task instances and its end arrive; a reconnect with Last-Event-ID gets exactly what it missed', async () => {
  const url = `${server.url}api/weir/v1/events?dag_id=greet`;
  let runId = '';
  // Triggered once the stream is open: its `ready` event says it is subscribed.
  const trigger = async () => {
    const res = await fetch(`${server.url}api/v2/dags/greet/dagRuns`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ conf: { name: 'sse' } }) });
    expect(res.status).toBe(200);
    runId = ((await res.json()) as { dag_run_id: string }).dag_run_id;
  };
  const all = await readEvents(url, {}, (seen) => seen.some((e) => e.event === 'run' && e.data.run_id === runId && e.data.state === 'success'), trigger);
  expect(all[0]!.event).toBe('ready');
  const events = all.filter((e) => e.event !== 'ready');
  const tis = events.filter((e) => e.event === 'task_instance' && e.data.run_id === runId);
  expect(tis.filter((e) => e.data.state === 'success').map((e) => e.data.task_id).sort()).toEqual(['hello', 'shout']);
  expect(tis.some((e) => e.data.state === 'running')).toBe(true);
  expect(events.every((e) => e.data.dag_id === 'greet')).toBe(true);

  // Resume after the first event: everything after it, in order, and nothing else.
  const resumeFrom = events[0]!.id!;
  const expected = events.slice(1).map((e) => e.id);
  const resumed = await readEvents(url, { 'last-event-id': resumeFrom }, (seen) => seen.filter((e) => e.id && e.event !== 'ready').length >= expected.length);
  expect(resumed.filter((e) => e.event !== 'ready').slice(0, expected.length).map((e) => e.id)).toEqual(expected);

  // Workers coming and going reach every stream.
  const second = new Worker(await session.engine(), await session.dags(), { pollIntervalMs: 500 });
  const workerEvents = await readEvents(url, {}, (seen) => seen.some((e) => e.event === 'worker' && e.data.status === 'stopped'), async () => {
    await second.start();
    await second.stop();
  });
  const statuses = workerEvents.filter((e) => e.event === 'worker').map((e) => e.data.status);
  expect(statuses[0]).toBe('alive');
  expect(statuses[statuses.length - 1]).toBe('stopped');

  const stale = await readEvents(url, { 'last-event-id': 'otherboot.5' }, (seen) => seen.some((e) => e.event === 'ready'));
  expect(stale[0]!.event).toBe('reset');
});

test('/metrics: runs and tries counted by DAG and state, durations and queue waits observed, workers alive; a token is needed', async () => {
  const before = await (await fetch(`${server.url}metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const runsBefore = value(before, 'weir_runs_total{dag_id="greet",state="success"}');
  let runId = '';
  await readEvents(`${server.url}api/weir/v1/events?dag_id=greet`, {}, (seen) => seen.some((e) => e.event === 'run' && e.data.run_id === runId && e.data.state === 'success'), async () => {
    const res = await fetch(`${server.url}api/v2/dags/greet/dagRuns`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({}) });
    runId = ((await res.json()) as { dag_run_id: string }).dag_run_id;
  });
  const res = await fetch(`${server.url}metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
  const text = await res.text();
  expect(value(text, 'weir_runs_total{dag_id="greet",state="success"}')).toBe(runsBefore + 1);
  expect(value(text, 'weir_task_tries_total{dag_id="greet",state="success"}')).toBeGreaterThanOrEqual(2);
  expect(value(text, 'weir_task_duration_seconds_count{dag_id="greet"}')).toBeGreaterThanOrEqual(2);
  expect(text).toMatch(/^weir_queue_wait_seconds_count\{dag_id="greet"\} \d+$/m);
  expect(value(text, 'weir_workers_alive')).toBeGreaterThanOrEqual(1);
  // Alerts by outcome, read from the alert queue: one queued now, with no alerter running, is pending.
  const pendingBefore = value(text, 'weir_alerts{outcome="pending"}');
  expect(text).toMatch(/^weir_alerts\{outcome="sent"\} \d+$/m);
  const engine = await session.engine();
  await withTransaction(engine.pool, (client) => enqueueNotifications(engine, client, { dagId: 'greet', runId }, [{ webhook: 'ops', text: 'metrics test' }]));
  const after = await (await fetch(`${server.url}metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  expect(value(after, 'weir_alerts{outcome="pending"}')).toBe(pendingBefore + 1);
  expect((await fetch(`${server.url}metrics`)).status).toBe(401);
});
