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
import type { MailerOptions, SendResult } from '../runtime/mailer.ts';
import { sendTemplatedEmail } from '../runtime/alerts.ts';
import type { DailyPrice } from './clean.ts';
import type { QueuedEmail } from '../runtime/authoring/dag.ts';

/** An email from a template: `template` is the base name in `templates/` (`<template>.html.njk` and `.txt.njk`). */
export type TemplatedEmail = QueuedEmail;
export { sendTemplatedEmail };

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
