/**
 * The emails weir itself sends: any templated email (what `ctx.queueEmail` queues and
 * building blocks send), and the failure alert of a task that failed for good or will
 * be retried. Templates live in `templates/`; every value is redacted before rendering,
 * so a secret that slipped into an error message or a log tail never reaches an inbox.
 */
import { sendMail, type MailerOptions, type SendResult } from './mailer.ts';
import { renderEmail } from './templates.ts';
import { redact } from './redact.ts';
import type { QueuedEmail } from './authoring/dag.ts';

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
  return sendMail({ to: email.to, subject: redact(email.subject), html, text }, mailer);
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
