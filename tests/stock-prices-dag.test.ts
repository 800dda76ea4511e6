/**
 * The flagship DAG end to end on the real engine: local Twelve Data dev server, a
 * fresh database as the warehouse, a real in-process SMTP server. Breach (AAPL 2020 →
 * email) and no breach (AMZN 2020 → email_alert skipped, run success), idempotent
 * re-load, API failure modes retried through, an invalid key failing with a clear
 * error, SMTP refusing the first try then accepting.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import stockPrices from '../dags/stock_prices.ts';
import { startTwelveDataServer } from '../runtime/dev/twelve-data-server.ts';
import type { TwelveDataServer } from '../runtime/dev/twelve-data-server.ts';
import { startTestEngine } from './support/engine.ts';
import type { TestEngine } from './support/engine.ts';
import { Alerter } from '../runtime/worker/alerter.ts';
import { eventually } from './support/cli.ts';

const API_KEY = 'dag-test-key-77aa';
let te: TestEngine;
let alerter: Alerter;
let api: TwelveDataServer;
let smtp: SMTPServer;
const inbox: ParsedMail[] = [];
let refuseConnections = 0;
const saved = { ...process.env };

beforeAll(async () => {
  api = await startTwelveDataServer({ apiKey: API_KEY });
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onConnect(_session, cb) {
      if (refuseConnections > 0) {
        refuseConnections--;
        return cb(new Error('service not available, try later'));
      }
      cb();
    },
    onData(stream, _session, cb) {
      simpleParser(stream).then((m) => (inbox.push(m), cb()), cb);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  // Engine settings are resolved when the engine starts (ResolvedConfig.alertRetryDelayS).
  process.env.WEIR_ALERT_RETRY_DELAY_S = '1';
  te = await startTestEngine([stockPrices]);
  // The threshold alert is queued by email_alert and sent by an alerter, as on a worker.
  alerter = new Alerter(te.engine.boss, { pollingIntervalSeconds: 0.5 });
  await alerter.start();
  Object.assign(process.env, {
    TWELVE_DATA_BASE_URL: api.url,
    TWELVE_DATA_API_KEY: API_KEY,
    WEIR_CONN_WAREHOUSE: te.testDb.url,
    WEIR_SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`,
    WEIR_MAIL_FROM: 'weir-tests@example.com',
  });
});
afterAll(async () => {
  await alerter?.stop();
  await te?.close();
  await api?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  process.env = saved;
});
afterEach(() => api.setFailureMode({ kind: 'none' }));

const year2020 = { start_date: '2020-01-01', end_date: '2020-12-31' };

async function outputs(runId: string): Promise<Record<string, any>> {
  const { rows } = await te.db.pool.query<{ task_id: string; output: unknown }>('SELECT task_id, output FROM weir.task_instance WHERE run_id = $1', [runId]);
  return Object.fromEntries(rows.map((r) => [r.task_id, r.output]));
}

test('AAPL over 2020 breaches: loads 756 rows, emails the alert, run success', async () => {
  const runId = await te.trigger('stock_prices', { ...year2020, symbol: 'AAPL', recipients: ['ops@example.com'] });
  expect(await te.waitForRun(runId, 30_000)).toBe('success');
  expect(await te.taskStates(runId)).toEqual({ clean: 'success', email_alert: 'success', extract: 'success', load: 'success', threshold_check: 'success' });
  const out = await outputs(runId);
  expect(out.clean.report).toEqual({ read: 756, kept: 756, dropped: {} });
  expect(out.load).toMatchObject({ inserted: 756, updated: 0, unchanged: 0 });
  expect(out.threshold_check).toMatchObject({ symbol: 'AAPL', breached: true, min: 130, max: 150 });
  expect(out.threshold_check.value).toBeCloseTo(95.14, 2);
  expect(out.email_alert).toMatchObject({ queued: true, to: ['ops@example.com'] });
  const mail = await eventually(async () => inbox.find((m) => m.subject?.includes('AAPL average price 95.14')), 30_000, 'the alert email');
  expect(mail.subject).toContain('AAPL average price 95.14 below [130, 150]');
  expect(String(mail.html)).toContain('2020-12-30');
  expect(JSON.stringify(out) + String(mail.html) + mail.text).not.toContain(API_KEY);
});

test('AMZN over 2020 stays inside: email_alert skipped, run success, and the re-load changes nothing', async () => {
  const mails = inbox.length;
  const runId = await te.trigger('stock_prices', { ...year2020 });
  expect(await te.waitForRun(runId, 30_000)).toBe('success');
  const states = await te.taskStates(runId);
  expect(states.email_alert).toBe('skipped');
  const out = await outputs(runId);
  expect(out.load).toMatchObject({ inserted: 0, updated: 0, unchanged: 756 });
  expect(out.threshold_check).toMatchObject({ symbol: 'AMZN', breached: false });
  expect(out.threshold_check.value).toBeCloseTo(133.86, 2);
  expect(inbox.length).toBe(mails);
});

test('DIS over 2020 breaches too', async () => {
  const runId = await te.trigger('stock_prices', { ...year2020, symbol: 'DIS' });
  expect(await te.waitForRun(runId, 30_000)).toBe('success');
  const out = await outputs(runId);
  expect(out.threshold_check.breached).toBe(true);
  expect(out.threshold_check.value).toBeLessThan(130);
});

test('out of API credits (HTTP 200 error body, twice): retried through, run success', async () => {
  api.setFailureMode({ kind: 'rate_limit', status: 200, retryAfterS: 0, times: 2 });
  const before = api.requests;
  const runId = await te.trigger('stock_prices', { ...year2020 });
  expect(await te.waitForRun(runId, 30_000)).toBe('success');
  expect(api.requests - before).toBe(3);
});

test('a burst of 5xx is retried inside the try; malformed JSON fails the try and the next one succeeds', async () => {
  api.setFailureMode({ kind: 'server_error', status: 503, times: 2 });
  const first = await te.trigger('stock_prices', { ...year2020 });
  expect(await te.waitForRun(first, 30_000)).toBe('success');

  api.setFailureMode({ kind: 'malformed', times: 1 });
  const second = await te.trigger('stock_prices', { ...year2020 });
  expect(await te.waitForRun(second, 30_000)).toBe('success');
  const { rows } = await te.db.pool.query<{ try_number: number; state: string; error: string | null }>(
    `SELECT try_number, state, error FROM weir.task_try WHERE run_id = $1 AND task_id = 'extract' ORDER BY try_number`,
    [second],
  );
  expect(rows.map((r) => r.state)).toEqual(['up_for_retry', 'success']);
  expect(rows[0]!.error).toMatch(/not the expected JSON/);
});

test('an invalid key fails extract at once with a clear error; nothing downstream runs', async () => {
  api.setFailureMode({ kind: 'invalid_key' });
  const runId = await te.trigger('stock_prices', { ...year2020 });
  expect(await te.waitForRun(runId, 30_000)).toBe('failed');
  const states = await te.taskStates(runId);
  expect(states).toMatchObject({ extract: 'failed', clean: 'upstream_failed', email_alert: 'upstream_failed' });
  const { rows } = await te.db.pool.query<{ error: string; error_stack: string; logs: unknown; try_number: number }>(
    `SELECT error, error_stack, logs, try_number FROM weir.task_try WHERE run_id = $1 AND task_id = 'extract'`,
    [runId],
  );
  expect(rows).toHaveLength(1); // not retried
  expect(rows[0]!.error).toMatch(/rejected the API key \(HTTP 401\)/);
  expect(JSON.stringify(rows[0])).not.toContain(API_KEY);
});

test('regression: an SMTP outage delays the threshold alert and never drops it: the task succeeds once the alert is queued, and the alert arrives exactly once', async () => {
  const mails = inbox.length;
  // Longer than the task's own retries could cover before: refused 4 times, retried by the alert queue.
  refuseConnections = 4;
  const sent: string[] = [];
  const onSent = (e: { run_id: string }) => sent.push(e.run_id);
  alerter.on('alert:sent', onSent);
  try {
    const runId = await te.trigger('stock_prices', { ...year2020, symbol: 'AAPL', recipients: ['outage@example.com'] });
    expect(await te.waitForRun(runId, 30_000)).toBe('success');
    const { rows } = await te.db.pool.query<{ try_number: number }>(`SELECT try_number FROM weir.task_instance WHERE run_id = $1 AND task_id = 'email_alert'`, [runId]);
    expect(rows[0]!.try_number).toBe(1);
    await eventually(async () => sent.includes(runId), 60_000, 'the alert to be sent after the outage');
    expect(refuseConnections).toBe(0);
    const arrived = inbox.slice(mails).filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes('outage@example.com'));
    expect(arrived).toHaveLength(1);
    expect(sent.filter((id) => id === runId)).toHaveLength(1);
  } finally {
    alerter.off('alert:sent', onSent);
  }
}, 90_000);
