/**
 * The events_every_3_min DAG against the Pub/Sub stand-in (runtime/dev/pubsub-server.ts),
 * run by real `weir worker` processes: every message published lands in the table exactly
 * once through duplicate deliveries and a worker SIGKILLed mid-load (its unacked messages
 * come back and are stored once); the watermark does not move while that load is
 * uncommitted; a volume drop sends one alert with the numbers to the webhook.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import events from '../dags/events_every_3_min.ts';
import { startPubSubServer, type PubSubServer } from '../runtime/dev/pubsub-server.ts';
import { listDagState, writeDagState } from '../runtime/engine/state.ts';
import { buildApp } from '../runtime/server/app.ts';
import { EventHub } from '../runtime/server/events.ts';
import { allowedHosts } from '../runtime/server/security.ts';
import { createToken } from '../runtime/server/tokens.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { DateTime } from 'luxon';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually, startWeir, type RunningProcess } from './support/cli.ts';
import { startHookServer } from './support/webhook.ts';

let te: TestEngine;
let pubsub: PubSubServer;
let hook: Awaited<ReturnType<typeof startHookServer>>;
let home: string;
let env: Record<string, string>;
const posts = () => hook.received.map((r) => r.body as { text: string });
const workers: RunningProcess[] = [];

beforeAll(async () => {
  pubsub = await startPubSubServer({ ackDeadlineMs: 3000, duplicateRate: 0.05 });
  hook = await startHookServer();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-events-'));
  te = await startTestEngine([events], { worker: false });
  env = {
    WEIR_DATABASE_URL: te.testDb.url,
    WEIR_CONN_WAREHOUSE: te.testDb.url,
    WEIR_HOME: home,
    EVENTS_PUBSUB_URL: pubsub.url,
    WEIR_WEBHOOK_EVENTS_OPS: `${hook.url}/`,
    WEIR_HEARTBEAT_INTERVAL_MS: '250',
    WEIR_TASK_LOST_AFTER_MS: '1500',
    WEIR_REAP_INTERVAL_MS: '250',
    WEIR_ALERT_RETRY_DELAY_S: '1',
  };
});
afterAll(async () => {
  for (const w of workers) await w.stop('SIGKILL');
  await te?.close();
  await pubsub?.close();
  await hook?.close();
  fs.rmSync(home, { recursive: true, force: true });
});

async function startWorker(): Promise<RunningProcess> {
  const w = startWeir(['worker'], env);
  workers.push(w);
  await w.waitFor(/worker started/);
  return w;
}
const stored = async () => Number((await te.db.pool.query('SELECT count(*) FROM events.messages')).rows[0].count);
const watermark = async () => (await listDagState(te.db.pool, 'events_every_3_min')).find((r) => r.key === 'watermark')?.value as string | undefined;
const output = async (runId: string, task: string) => (await te.db.pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1 AND task_id = $2', [runId, task])).rows[0]!.output;

test('every message exactly once through duplicates and a worker SIGKILLed mid-load; the watermark waits for the commit', async () => {
  const first = await startWorker();
  pubsub.publish(2000);
  const warm = await te.trigger('events_every_3_min', { batch_size: 200 });
  expect(await te.waitForRun(warm, 60_000)).toBe('success');
  expect(await stored()).toBe(2000);
  const mark = await watermark();
  expect(mark).toBe((await output(warm, 'ingest')).watermark);
  expect((await output(warm, 'ingest')).duplicates).toBeGreaterThan(0);

  // A big backlog in small batches: the load takes long enough to be killed in the middle.
  pubsub.publish(40_000);
  const runId = await te.trigger('events_every_3_min', { batch_size: 50 });
  await eventually(async () => (await stored()) > 4000, 60_000, 'the load under way');
  await first.stop('SIGKILL');
  const partial = await stored();
  expect(partial).toBeLessThan(42_000);
  // The killed try committed some batches, but its watermark was never stored.
  expect(await watermark()).toBe(mark);

  await startWorker();
  expect(await te.waitForRun(runId, 120_000)).toBe('success');
  expect(await stored()).toBe(42_000);
  const { rows } = await te.db.pool.query('SELECT count(DISTINCT message_id)::int AS ids, min(message_id::int) AS lo, max(message_id::int) AS hi FROM events.messages');
  expect(rows[0]).toEqual({ ids: 42_000, lo: 1, hi: 42_000 });
  const stats = pubsub.stats();
  expect(stats).toMatchObject({ published: 42_000, acked: 42_000 });
  // All that is left are duplicate copies the source will still deliver: the next run stores nothing of them.
  expect(stats.outstanding).toBe(stats.duplicatesQueued);
  const { rows: tries } = await te.db.pool.query("SELECT try_number FROM weir.task_instance WHERE run_id = $1 AND task_id = 'ingest'", [runId]);
  expect(tries[0].try_number).toBe(2);
  const last = await output(runId, 'ingest');
  expect(last.loaded).toBe(42_000 - partial);
  expect(await watermark()).toBe(last.watermark);
  expect(last.watermark > mark!).toBe(true);
}, 240_000);

test('a volume drop sends one alert with the numbers', async () => {
  // A fresh baseline (the backlog above would be part of it), as `weir state delete` does.
  await writeDagState(te.db.pool, 'events_every_3_min', [['volume:messages loaded', null]], 'test');
  const counts: number[] = [];
  for (const n of [1000, 1000, 1000, 1000, 100]) {
    pubsub.publish(n);
    const runId = await te.trigger('events_every_3_min', {});
    expect(await te.waitForRun(runId, 60_000)).toBe('success');
    counts.push((await output(runId, 'ingest')).loaded);
    if (n === 100) {
      const volume = await output(runId, 'volume');
      expect(volume).toMatchObject({ passed: false, count: 100, median: 1000, lower: 500 });
      await eventually(async () => posts().some((p) => p.text.includes(runId)), 30_000, 'the volume alert');
      expect(posts().filter((p) => p.text.includes('volume alert'))).toEqual([{ text: `weir: events_every_3_min run ${runId}: volume alert: messages loaded: 100 is below 500 (0.5 × the median 1,000 of the last 4 runs)` }]);
    }
  }
  expect(counts).toEqual([1000, 1000, 1000, 1000, 100]);
}, 180_000);

test('GET /api/v1/{id} reads a stored message back: 404 for an unknown id, 400 naming a malformed one, 401 without a token', async () => {
  process.env.WEIR_CONN_WAREHOUSE = te.testDb.url;
  const hub = new EventHub(te.engine.pool);
  const app = buildApp({ pool: te.engine.pool, engine: async () => te.engine, dags: () => te.dags, adminSecret: 'x'.repeat(32), allowedHosts: allowedHosts('127.0.0.1', 8080, []), events: hub });
  const { token } = await createToken(te.engine.pool, { role: 'viewer', name: 'reader' });
  const get = (p: string, auth = true) => app.request(`http://127.0.0.1:8080${p}`, { headers: { host: '127.0.0.1:8080', ...(auth ? { authorization: `Bearer ${token}` } : {}) } });
  try {
    const found = await get('/api/v1/7');
    expect(found.status).toBe(200);
    const body = (await found.json()) as { message_id: string; payload: Record<string, unknown>; publish_time: string };
    expect(body.message_id).toBe('7');
    expect(body.payload).toEqual({ event_id: 7, kind: 'signup', value: 7 });
    const unknown = await get('/api/v1/999999999');
    expect([unknown.status, await unknown.json()]).toEqual([404, { detail: 'no message with that id' }]);
    const bad = await get('/api/v1/abc');
    expect([bad.status, await bad.json()]).toEqual([400, { detail: 'id: a message id is a positive whole number' }]);
    expect((await get('/api/v1/7', false)).status).toBe(401);
    // weir's own paths are not shadowed by the route.
    expect((await get('/api/v2/version')).status).toBe(200);
  } finally {
    await hub.close();
  }
});

test('on its schedule: the scheduler registers it paused, and once unpaused each */3 interval that ends makes a run that loads what arrived', async () => {
  let clock = DateTime.fromISO('2026-06-01T12:00:01Z', { zone: 'UTC' });
  const scheduler = new Scheduler(te.engine, te.dags, { now: () => clock, safetyTickMs: 3_600_000 });
  await scheduler.start();
  try {
    const scheduled = async () => (await te.db.pool.query("SELECT run_id, data_interval_end FROM weir.dag_run WHERE dag_id = 'events_every_3_min' AND run_type = 'scheduled' ORDER BY logical_date")).rows;
    await scheduler.tick('events_every_3_min');
    expect(await scheduled()).toHaveLength(0);   // pausedOnCreation: nothing until unpaused
    await te.db.pool.query("UPDATE weir.dag SET is_paused = false WHERE dag_id = 'events_every_3_min'");
    const before = await stored();
    for (const n of [700, 900]) {
      pubsub.publish(n);
      await scheduler.tick('events_every_3_min');
      const runs = await scheduled();
      const last = runs[runs.length - 1]!;
      expect(last.data_interval_end.toISOString()).toBe(clock.startOf('minute').minus({ minutes: clock.minute % 3 }).toUTC().toISO({ suppressMilliseconds: false }));
      expect(await te.waitForRun(last.run_id, 60_000)).toBe('success');
      expect((await output(last.run_id, 'ingest')).loaded).toBe(n);
      clock = clock.plus({ minutes: 3 });
    }
    expect(await stored()).toBe(before + 1600);
  } finally {
    await scheduler.stop();
  }
}, 120_000);
