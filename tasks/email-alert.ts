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
 *   ctx.queueEmail(thresholdAlertEmail({ to: ctx.params.recipients, metric: 'daily revenue', value: c.value, min: c.min, max: c.max, ... }));
 * });
 * ```
 */
import type { MailerOptions, SendResult } from '../runtime/mailer.ts';
import { sendTemplatedEmail } from '../runtime/alerts.ts';
import type { QueuedEmail } from '../runtime/authoring/dag.ts';

/** An email from a template: `template` is the base name in `templates/` (`<template>.html.njk` and `.txt.njk`). */
export type TemplatedEmail = QueuedEmail;
export { sendTemplatedEmail };

/** A column of the alert's table of context rows. */
export interface AlertColumn {
  /** Key of the value in each row. */
  key: string;
  label: string;
  /** `fixed`: two decimals; `thousands`: a rounded number with separators; default: as text. */
  format?: 'fixed' | 'thousands' | 'text';
}

/** A check's value outside its bounds, in the words of the DAG that checked it. */
export interface ThresholdAlert {
  to: string | string[];
  /** What was measured, e.g. `AAPL average price` or `daily revenue`. */
  metric: string;
  value: number;
  min: number | null;
  max: number | null;
  /** Appended to the value, e.g. `USD`. Default none. */
  unit?: string;
  /** How the value is computed, shown as its label, e.g. `Average (H+L)/2`. Default `Value`. */
  description?: string;
  /** The data window checked, inclusive. Default none. */
  window?: { start: string; end: string };
  /** A small table of context (a handful of rows), e.g. the latest prices. Default none. */
  rows?: Record<string, unknown>[];
  /** The table's columns; default: the first row's keys, as text. */
  columns?: AlertColumn[];
  /** The table's title. Default `Context`. */
  rowsTitle?: string;
  dagId: string;
  runId: string;
  checkName?: string;
}

/**
 * The `templates/threshold-alert` email for a breached check, for `ctx.queueEmail`
 * (sent durably once the task succeeds). Subject: `[weir] <metric> <value> below [min, max] (<window>)`.
 */
export function thresholdAlertEmail(alert: ThresholdAlert): TemplatedEmail {
  const direction = alert.min !== null && alert.value < alert.min ? 'below' : 'above';
  const bounds = `[${alert.min ?? '-inf'}, ${alert.max ?? 'inf'}]`;
  const unit = alert.unit ? ` ${alert.unit}` : '';
  const window = alert.window ? ` (${alert.window.start} to ${alert.window.end})` : '';
  const rows = alert.rows ?? [];
  const columns: AlertColumn[] = alert.columns ?? Object.keys(rows[0] ?? {}).map((key) => ({ key, label: key }));
  return {
    to: alert.to,
    subject: `[weir] ${alert.metric} ${alert.value.toFixed(2)}${unit} ${direction} ${bounds}${window}`,
    template: 'threshold-alert',
    context: {
      ...alert, direction, unit: alert.unit ?? '', description: alert.description ?? 'Value', rowsTitle: alert.rowsTitle ?? 'Context',
      // Cells as the template shows them: each value with its column's format.
      columns: columns.map((c) => ({ label: c.label, format: c.format ?? 'text' })),
      rows: rows.map((r) => columns.map((c) => ({ value: r[c.key], format: c.format ?? 'text' }))),
    },
  };
}

/** Send the threshold alert now (see thresholdAlertEmail for the durable way from a task). */
export async function sendThresholdAlert(alert: ThresholdAlert, mailer: MailerOptions = {}): Promise<SendResult> {
  return sendTemplatedEmail(thresholdAlertEmail(alert), mailer);
}
