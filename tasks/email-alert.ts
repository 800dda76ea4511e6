/**
 * The email alert task helpers: render a template from `templates/` and send it
 * through the mailer (SMTP, or the outbox when WEIR_SMTP_URL is unset). Every value
 * is redacted before rendering, so a secret that slipped into an error message or a
 * log tail never reaches an inbox.
 *
 * ```ts
 * const email_alert = d.task({ id: 'email_alert', upstream: [check] }, async (ctx) => {
 *   const c = ctx.output(check);
 *   if (!c.breached) throw new SkipTask('within bounds');
 *   // Queued durably with the task's success; a worker's alerter sends it (SMTP outages delay it).
 *   ctx.queueEmail(thresholdAlertEmail({ to: ctx.params.recipients, symbol: c.symbol, ... }));
 * });
 * ```
 */
import { sendMail } from '../runtime/mailer.ts';
import type { MailerOptions, SendResult } from '../runtime/mailer.ts';
import { renderEmail } from '../runtime/templates.ts';
import { redact } from '../runtime/redact.ts';
import type { DailyPrice } from './clean.ts';
import type { QueuedEmail } from '../runtime/authoring/dag.ts';

/** An email from a template: `template` is the base name in `templates/` (`<template>.html.njk` and `.txt.njk`). */
export type TemplatedEmail = QueuedEmail;

function redactDeep(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)]));
  }
  return value;
}

/** Render `template` with `context` (values redacted, HTML autoescaped) and send it. */
export async function sendTemplatedEmail(email: TemplatedEmail, mailer: MailerOptions = {}): Promise<SendResult> {
  const { html, text } = renderEmail(email.template, redactDeep(email.context) as Record<string, unknown>);
  return sendMail({ to: email.to, subject: redact(email.subject), html, text }, mailer);
}

/** One row of the alert's table of recent prices: a cleaned daily bar of the checked symbol. */
export type RecentPrice = Omit<DailyPrice, 'symbol' | 'extracted_at'>;

export interface ThresholdAlert {
  to: string | string[];
  symbol: string;
  startDate: string;
  endDate: string;
  value: number;
  min: number | null;
  max: number | null;
  /** Newest first; a handful is enough (the DAG sends 10). Default none. */
  recentPrices?: RecentPrice[];
  dagId: string;
  runId: string;
  checkName?: string;
}

/**
 * The `templates/threshold-alert` email for a breached check, for `ctx.queueEmail`
 * (sent durably once the task succeeds). Subject: `[weir] AMZN average price 95.14 below [130, 150]`.
 */
export function thresholdAlertEmail(alert: ThresholdAlert): TemplatedEmail {
  const direction = alert.min !== null && alert.value < alert.min ? 'below' : 'above';
  const bounds = `[${alert.min ?? '-inf'}, ${alert.max ?? 'inf'}]`;
  return {
    to: alert.to,
    subject: `[weir] ${alert.symbol} average price ${alert.value.toFixed(2)} ${direction} ${bounds} (${alert.startDate} to ${alert.endDate})`,
    template: 'threshold-alert',
    context: { ...alert, direction, recentPrices: alert.recentPrices ?? [] },
  };
}

/** Send the threshold alert now (see thresholdAlertEmail for the durable way from a task). */
export async function sendThresholdAlert(alert: ThresholdAlert, mailer: MailerOptions = {}): Promise<SendResult> {
  return sendTemplatedEmail(thresholdAlertEmail(alert), mailer);
}

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
