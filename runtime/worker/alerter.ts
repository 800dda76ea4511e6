/**
 * The alerter: sends the emails the engine enqueued on the `weir_alert` queue
 * (a task failed for good; optionally, a task will be retried; an email a task
 * queued with `ctx.queueEmail`, such as a threshold alert). Alerts travel
 * through pg-boss with their own retries (exponential backoff to 15 min, for about ten days),
 * so an SMTP outage delays an alert but never drops it; a failed send is logged
 * with the SMTP password masked.
 */
import { EventEmitter } from 'node:events';
import type { PgBoss } from 'pg-boss';
import type { LogLine, QueuedEmail } from '../authoring/dag.ts';
import { ALERT_QUEUE, ensureQueue } from '../queue.ts';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';
import { redact } from '../redact.ts';

export type AlertJob =
  | {
    kind: 'task_failure' | 'task_retry';
    dagId: string;
    runId: string;
    taskId: string;
    tryNumber: number;
    error: string | null;
    logTail: LogLine[];
    recipients: string[];
  }
  // taskId and tryNumber are absent for a run's own alerts (a missed deadline).
  | { kind: 'email'; dagId: string; runId: string; taskId?: string; tryNumber?: number; email: QueuedEmail }
  | { kind: 'webhook_failure'; webhook: string; dagId: string; runId: string; taskId: string; tryNumber: number; error: string | null }
  | { kind: 'webhook'; webhook: string; text: string; dagId: string; runId: string; taskId?: string; tryNumber?: number };

/** Emits `alert:sent` ({ kind, dag_id, run_id, task_id, transport, files }) for each alert sent. */
export class Alerter extends EventEmitter {
  private workId: string | undefined;

  /** `pollingIntervalSeconds`: how often to look for alerts between notifications. Default 2. */
  constructor(private readonly boss: PgBoss, private readonly options: { pollingIntervalSeconds?: number } = {}) {
    super();
  }

  async start(): Promise<void> {
    await ensureQueue(this.boss, ALERT_QUEUE);
    // Loaded lazily: nodemailer and the template engine are only needed once an alert exists.
    const { sendTaskFailureAlert, sendTemplatedEmail, sendWebhook, taskFailureText } = await import('../alerts.ts');
    this.workId = await this.boss.work<AlertJob>(ALERT_QUEUE, { batchSize: 1, pollingIntervalSeconds: this.options.pollingIntervalSeconds ?? 2 }, async ([job]) => {
      const a = job!.data;
      try {
        const sent = a.kind === 'email' ? await sendTemplatedEmail(a.email) : a.kind === 'webhook' ? await sendWebhook(a) : a.kind === 'webhook_failure' ? await sendWebhook({
          webhook: a.webhook,
          text: taskFailureText({ dagId: a.dagId, runId: a.runId, taskId: a.taskId, tryNumber: a.tryNumber, error: a.error ?? 'unknown error' }),
        }) : await sendTaskFailureAlert({
          to: a.recipients,
          dagId: a.dagId,
          runId: a.runId,
          taskId: a.taskId,
          tryNumber: a.tryNumber,
          error: a.kind === 'task_retry' ? `(will be retried) ${a.error ?? ''}` : a.error ?? 'unknown error',
          logTail: a.logTail.map((l) => `${l.ts} ${l.level.toUpperCase()} ${l.msg}`),
        });
        const files = 'files' in sent ? sent.files : undefined;
        logger.info({ dag_id: a.dagId, run_id: a.runId, task_id: a.taskId, transport: sent.transport, files }, 'alert sent');
        this.emit('alert:sent', { kind: a.kind, dag_id: a.dagId, run_id: a.runId, task_id: a.taskId, transport: sent.transport, files });
      } catch (err) {
        logger.warn({ dag_id: a.dagId, run_id: a.runId, task_id: a.taskId, err: redact(toError(err).message) }, 'sending an alert failed; pg-boss retries it');
        throw err;
      }
    });
  }

  async stop(): Promise<void> {
    if (this.workId) await this.boss.offWork(ALERT_QUEUE, { id: this.workId, wait: true }).catch(() => {});
    this.workId = undefined;
  }
}
