/**
 * Failure alerts to webhooks (runtime/alerts.ts sendWebhook): a task that fails for good
 * has its DAG's alertWebhooks posted to, through the alert queue. A local HTTP server
 * behaves as a Slack- or Teams-style incoming webhook: it answers 500 twice, then 200.
 * The alert arrives exactly once, as JSON `{ text }`, with the URL (a credential) nowhere
 * in logs or stored errors. Without the webhook's variable, the post goes to the outbox.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { dag, NonRetryableError } from '../runtime/index.ts';
import { Alerter } from '../runtime/worker/alerter.ts';
import { sendWebhook } from '../runtime/alerts.ts';
import { redact, registerEnvSecrets } from '../runtime/redact.ts';
import { startHookServer } from './support/webhook.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';

const failing = dag({ id: 'hooked', alertWebhooks: ['ops'] });
failing.task({ id: 'load' }, async () => {
  throw new NonRetryableError('warehouse refused the batch');
});

const notifying = dag({ id: 'notifying' });
notifying.task({ id: 'check', retries: 1, retryDelayMs: 10 }, async (ctx) => {
  ctx.queueWebhook({ webhook: 'ops', text: `revenue 54,450 EUR below [60,000, 80,000] for ${ctx.logicalDate.toISODate()}` });
  if (ctx.tryNumber === 1) throw new Error('flaky source');  // a failed try queues nothing
  return 'checked';
});


/** An alerter and the `kind:run_id` of each alert it sent. */
async function startAlerter(): Promise<{ alerter: Alerter; sent: string[] }> {
  const alerter = new Alerter(te.engine.boss, { pollingIntervalSeconds: 0.5 });
  const sent: string[] = [];
  alerter.on('alert:sent', (e: { kind: string; run_id: string }) => sent.push(`${e.kind}:${e.run_id}`));
  await alerter.start();
  return { alerter, sent };
}

let te: TestEngine;
const saved = { ...process.env };
afterAll(async () => {
  await te?.close();
  process.env = saved;
});

test('a task that fails for good posts to its DAG\'s webhooks; a webhook answering 500 delays the alert, never drops or doubles it', async () => {
  const hook = await startHookServer(2);
  const secretPath = '/services/T000/B000/s3cretHookToken';
  process.env.WEIR_WEBHOOK_OPS = `${hook.url}${secretPath}`;
  process.env.WEIR_ALERT_RETRY_DELAY_S = '1';
  te = await startTestEngine([failing, notifying]);
  const { alerter, sent } = await startAlerter();
  try {
    const runId = await te.trigger('hooked');
    expect(await te.waitForRun(runId)).toBe('failed');
    await eventually(async () => hook.received.length > 0, 60_000, 'the webhook post after two refusals');
    expect(hook.refusals).toBe(0);
    expect(hook.received).toEqual([{ path: secretPath, type: 'application/json', body: { text: `weir: task hooked.load failed (run ${runId}, try 1)\nwarehouse refused the batch` } }]);
    await eventually(async () => sent.length > 0, 10_000, 'the alerter to record it');
    expect(sent).toEqual([`webhook_failure:${runId}`]);
    // The URL is a credential: the retries' stored errors name the webhook and its variable, never the URL.
    const { rows } = await te.db.pool.query<{ output: unknown }>("SELECT output FROM pgboss.job WHERE name = 'weir_alert'");
    expect(JSON.stringify(rows)).not.toContain('s3cretHookToken');
    // And every process masks WEIR_WEBHOOK_* values in what it logs or stores.
    registerEnvSecrets(process.env);
    expect(redact(`posting to ${process.env.WEIR_WEBHOOK_OPS} failed`)).not.toContain('s3cretHookToken');
  } finally {
    await alerter.stop();
    await hook.close();
  }
});

test('without WEIR_WEBHOOK_<NAME>, the post is written to the outbox as JSON', async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'weir-webhook-'));
  try {
    const sent = await sendWebhook({ webhook: 'team_chat', text: 'weir: task d.t failed' }, { env: {}, home });
    expect(sent.transport).toBe('outbox');
    expect(path.dirname(sent.files!.json)).toBe(path.join(home, 'outbox'));
    expect(JSON.parse(await readFile(sent.files!.json, 'utf8'))).toEqual({ webhook: 'team_chat', text: 'weir: task d.t failed' });
    const bad = await sendWebhook({ webhook: 'ops', text: 'x' }, { env: { WEIR_WEBHOOK_OPS: 'hooks.slack.com/services/x' }, home }).catch((e: unknown) => e);
    expect((bad as Error).message).toBe('WEIR_WEBHOOK_OPS is not an http or https URL (an incoming webhook\'s, e.g. https://hooks.slack.com/services/…)');
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('ctx.queueWebhook posts once the try succeeds; the failed try before it queued nothing', async () => {
  const hook = await startHookServer();
  process.env.WEIR_WEBHOOK_OPS = `${hook.url}/hook`;
  const { alerter, sent } = await startAlerter();
  try {
    const runId = await te.trigger('notifying');
    expect(await te.waitForRun(runId)).toBe('success');
    await eventually(async () => sent.length > 0, 30_000, 'the queued webhook post');
    expect(sent).toEqual([`webhook:${runId}`]);
    expect(hook.received.map((r) => r.body)).toEqual([{ text: expect.stringMatching(/^revenue 54,450 EUR below \[60,000, 80,000\] for \d{4}-\d{2}-\d{2}$/) }]);
  } finally {
    await alerter.stop();
    await hook.close();
  }
});
