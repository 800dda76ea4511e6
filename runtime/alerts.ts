/**
 * What weir itself sends, on two channels: emails (any templated email, what
 * `ctx.queueEmail` queues and building blocks send, and the failure alert of a task that
 * failed for good or will be retried) and webhook posts (failure alerts to a DAG's
 * `alertWebhooks`). Templates live in `templates/`; every value is redacted before rendering,
 * so a secret that slipped into an error message or a log tail never reaches an inbox.
 */
import crypto from 'node:crypto';
import { outboxDir, writeOutboxFile } from './outbox.ts';
import path from 'node:path';
import { sendMail, type MailerOptions, type SendResult } from './mailer.ts';
import { renderEmail } from './templates.ts';
import { redact, registerSecret } from './redact.ts';
import { envUrl } from './env.ts';
import { loadConfig } from './config.ts';
import { WeirError, toError } from './errors.ts';
import type { QueuedEmail, QueuedNotification } from './authoring/dag.ts';

function redactDeep(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)]));
  }
  return value;
}

/** Render `template` with `context` (values redacted, HTML autoescaped) and send it. */
export async function sendTemplatedEmail(email: QueuedEmail, mailer: MailerOptions = {}): Promise<SendResult> {
  const { html, text } = renderEmail(email.template, redactDeep(email.context) as Record<string, unknown>);
  const attachments = (email.images ?? []).map((i) => ({ filename: i.filename, cid: i.cid, contentType: 'image/png', content: Buffer.from(i.pngBase64, 'base64') }));
  return sendMail({ to: email.to, subject: redact(email.subject), html, text, attachments }, mailer);
}

/** A task failed for good (or, with emailOnRetry, will be retried). */
export interface TaskFailureAlert {
  to: string | string[];
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  maxTries?: number;
  error: string;
  /** Last log lines of the failed try. Default none. */
  logTail?: string[];
  logicalDate?: string;
}

/** Send `templates/task-failure` (a task failed for good: DAG-level `email_on_failure`). */
export async function sendTaskFailureAlert(alert: TaskFailureAlert, mailer: MailerOptions = {}): Promise<SendResult> {
  return sendTemplatedEmail(
    {
      to: alert.to,
      subject: `[weir] task ${alert.dagId}.${alert.taskId} failed (run ${alert.runId}, try ${alert.tryNumber})`,
      template: 'task-failure',
      context: { ...alert, logTail: alert.logTail ?? [] },
    },
    mailer,
  );
}

/** A message for a webhook channel: `text` is what Slack- and Teams-style incoming webhooks show. */
export interface WebhookMessage {
  /** The webhook's name: its URL is `WEIR_WEBHOOK_<NAME>`. */
  webhook: string;
  text: string;
}

export interface WebhookOptions {
  env?: NodeJS.ProcessEnv;
  /** weir's home; without the webhook's URL the message goes to `${home}/outbox`. Default: WEIR_HOME, else ./.weir. */
  home?: string;
  timeoutMs?: number;
}

/** The variable that holds a webhook's URL. */
export function webhookVariable(name: string): string {
  return `WEIR_WEBHOOK_${name.toUpperCase()}`;
}

/**
 * POST `{ "text": … }` as JSON to the webhook's URL (from its variable, registered as a
 * secret: an incoming webhook's URL is its credential). Without the variable the message
 * is written to the outbox as JSON, as emails are without SMTP. Any answer but 2xx, or
 * no answer, throws (the alert queue retries it); the URL never appears in the error.
 */
export async function sendWebhook(message: WebhookMessage, options: WebhookOptions = {}): Promise<{ transport: 'webhook' | 'outbox'; status?: number; files?: { json: string } }> {
  const env = options.env ?? process.env;
  const variable = webhookVariable(message.webhook);
  let url: string | undefined;
  try {
    url = envUrl(variable, env, ['http:', 'https:']);
  } catch {
    // Not echoed: a webhook's URL is its credential, even a mistyped one.
    throw new WeirError('bad_config', `${variable} is not an http or https URL (an incoming webhook's, e.g. https://hooks.slack.com/services/…)`);
  }
  const text = redact(message.text);
  if (!url) {
    // weir's home as the mailer finds it (ResolvedConfig), so both channels share one outbox.
    const dir = outboxDir(options.home ?? loadConfig(env).home);
    const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-webhook-${message.webhook.toLowerCase()}-${crypto.randomBytes(3).toString('hex')}.json`);
    await writeOutboxFile(file, `${JSON.stringify({ webhook: message.webhook, text }, null, 2)}\n`);
    return { transport: 'outbox', files: { json: file } };
  }
  registerSecret(url);
  let status: number;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    status = response.status;
    await response.body?.cancel();
  } catch (err) {
    throw new WeirError('webhook_failed', redact(`posting to webhook ${message.webhook} (${variable}) failed: ${toError(err).message}`));
  }
  if (status < 200 || status >= 300) throw new WeirError('webhook_failed', `webhook ${message.webhook} (${variable}) answered HTTP ${status}; the alert queue retries it`);
  return { transport: 'webhook', status };
}

/** The failure alert's text for a webhook: one line a channel shows well, then the error. */
export function taskFailureText(alert: Omit<TaskFailureAlert, 'to'>): string {
  return `weir: task ${alert.dagId}.${alert.taskId} failed (run ${alert.runId}, try ${alert.tryNumber})\n${alert.error}`;
}

/** A run past its deadline, as the scheduler found it (sql/queries/missed_deadlines.sql). */
export interface MissedDeadline {
  dagId: string;
  runId: string;
  state: string;
  deadline: Date;
  of: 'data_interval_end' | 'created';
  withinMs: number;
  createdAt: Date;
  dataIntervalEnd: Date;
}

const minutes = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

/** The one-line account of a missed deadline, for webhooks and the email's title. */
export function deadlineText(m: MissedDeadline): string {
  const ref = m.of === 'created' ? `its creation (${m.createdAt.toISOString()})` : `its data interval's end (${m.dataIntervalEnd.toISOString()})`;
  return `weir: run ${m.runId} of ${m.dagId} missed its deadline: still ${m.state} at ${m.deadline.toISOString()}, ${minutes(m.withinMs)} after ${ref}`;
}

/** A missed deadline's alerts: an email to the DAG's recipients and a post to each of its webhooks. */
export function deadlineNotifications(m: MissedDeadline, channels: { alertRecipients: string[]; alertWebhooks: string[] }): QueuedNotification[] {
  const out: QueuedNotification[] = channels.alertWebhooks.map((webhook) => ({ webhook, text: deadlineText(m) }));
  if (channels.alertRecipients.length) {
    out.unshift({
      to: channels.alertRecipients,
      subject: `[weir] Deadline missed: ${m.dagId} run ${m.runId}`,
      template: 'report',
      context: {
        title: `Deadline missed: ${m.dagId}`,
        subtitle: deadlineText(m),
        kpis: [
          { label: 'Run', value: m.runId },
          { label: 'State', value: m.state },
          { label: 'Deadline', value: m.deadline.toISOString() },
          { label: 'Within', value: `${minutes(m.withinMs)} of ${m.of === 'created' ? 'creation' : 'the data interval end'}` },
        ],
        tables: [],
        charts: [],
        dagId: m.dagId,
        runId: m.runId,
      },
    });
  }
  return out;
}
