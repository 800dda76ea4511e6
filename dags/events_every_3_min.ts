/**
 * events_every_3_min — every three minutes, everything a message subscription holds into
 * the warehouse, exactly once, with a volume check.
 *
 *   ingest → volume
 *
 * - ingest: pulls batches (Google Pub/Sub's REST pull, at-least-once: duplicates and
 *   redeliveries happen), stores each message once by its id (events.messages), acks a
 *   batch only after its rows have committed, and moves the watermark (the newest
 *   publish time loaded, in ctx.state) only when the whole try succeeds. A worker killed
 *   mid-load leaves unacked messages, which come back after their ack deadline and are
 *   stored once. Data that is not JSON goes to events.dead_letters, acked.
 * - volume: this run's new messages against the median of the last 10 runs; a drop (or a
 *   flood) alerts `recipients` and the `events_ops` webhook with the numbers.
 *
 * Deadline: a run unfinished 5 minutes after its interval ends alerts (the scheduler sends it).
 * Environment: EVENTS_PUBSUB_URL (default http://127.0.0.1:8085, the stand-in
 * `node --import tsx runtime/dev/pubsub-server.ts`), WEIR_CONN_WAREHOUSE, WEIR_WEBHOOK_EVENTS_OPS.
 */
import { dag, z, NonRetryableError, WeirError } from 'weir';
import { applySqlFile, sqlFile, withConnection } from 'weir/tasks/postgres';
import { checkVolume } from 'weir/tasks/quality';

const params = z.object({
  subscription: z.string().regex(/^projects\/[^/]+\/subscriptions\/[^/]+$/).default('projects/dev/subscriptions/events').describe('the subscription to pull'),
  batch_size: z.number().int().min(1).max(1000).default(1000).describe('messages per pull (Pub/Sub allows 1,000)'),
  max_messages: z.number().int().min(1).default(2_000_000).describe('stop after this many in one run (the rest wait for the next)'),
  recipients: z.array(z.email()).min(1).default(['data-team@example.com']).describe('who hears about volume alerts'),
});

const d = dag({
  id: 'events_every_3_min',
  description: 'A message subscription into events.messages every three minutes, exactly once, with a volume check',
  tags: ['streaming', 'ingestion'],
  owner: 'data-team',
  params,
  schedule: '*/3 * * * *',
  startDate: '2026-01-01',
  catchup: false,
  maxActiveRuns: 1,
  // It needs its source running: `weir dags unpause events_every_3_min` once it is.
  pausedOnCreation: true,
  deadline: { withinMs: 5 * 60_000 },
  alertRecipients: ['data-team@example.com'],
  alertWebhooks: ['events_ops'],
  defaultTaskOptions: { retries: 3, retryDelayMs: 1000, retryExponentialBackoff: true },
});

interface Pulled {
  ackId: string;
  message: { messageId: string; publishTime: string; data: string };
}

async function call<T>(url: string, body: unknown, signal: AbortSignal): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  const text = await res.text();
  if (res.status >= 500 || res.status === 429) throw new WeirError('source_unavailable', `the subscription answered HTTP ${res.status}; retrying`);
  if (!res.ok) throw new NonRetryableError(`the subscription refused the request: HTTP ${res.status} ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WeirError('source_malformed', `the subscription's answer is not JSON (${text.length} bytes); retrying`);
  }
}

const ingest = d.task({ id: 'ingest', timeoutMs: 150_000, description: 'pull, store once by id, ack after commit, move the watermark' }, async (ctx) => {
  const base = `${(process.env.EVENTS_PUBSUB_URL ?? 'http://127.0.0.1:8085').replace(/\/$/, '')}/v1/${ctx.params.subscription}`;
  const previous = await ctx.state.get<string>('watermark');
  let watermark = previous ?? null;
  const counts = { pulled: 0, loaded: 0, duplicates: 0, dead_letters: 0 };
  await withConnection('warehouse', async (pool) => {
    await applySqlFile(pool, 'warehouse/events/schema.sql');
    while (counts.pulled < ctx.params.max_messages) {
      const { receivedMessages = [] } = await call<{ receivedMessages?: Pulled[] }>(`${base}:pull`, { maxMessages: ctx.params.batch_size }, ctx.signal);
      if (!receivedMessages.length) break;
      counts.pulled += receivedMessages.length;
      const good: { id: string; t: string; p: string }[] = [];
      const bad: { id: string; t: string; d: string; r: string }[] = [];
      const seen = new Set<string>();
      for (const { message: m } of receivedMessages) {
        if (seen.has(m.messageId)) continue; // delivered twice in one pull
        seen.add(m.messageId);
        const text = Buffer.from(m.data ?? '', 'base64').toString('utf8');
        try {
          const payload = JSON.parse(text) as unknown;
          good.push({ id: m.messageId, t: m.publishTime, p: JSON.stringify(payload) });
        } catch (err) {
          bad.push({ id: m.messageId, t: m.publishTime, d: text.slice(0, 10_000), r: `not JSON: ${(err as Error).message}` });
        }
      }
      // Committed before the ack: a crash between the two redelivers, and the id dedupes.
      const { rows } = await pool.query<{ message_id: string }>(sqlFile('warehouse/events/load_messages.sql'), [good.map((g) => g.id), good.map((g) => g.t), good.map((g) => g.p), ctx.runId]);
      if (bad.length) await pool.query(sqlFile('warehouse/events/dead_letters.sql'), [bad.map((b) => b.id), bad.map((b) => b.t), bad.map((b) => b.d), bad.map((b) => b.r), ctx.runId]);
      counts.loaded += rows.length;
      counts.duplicates += receivedMessages.length - rows.length - bad.length;
      counts.dead_letters += bad.length;
      for (const g of good) if (!watermark || g.t > watermark) watermark = g.t;
      await call(`${base}:acknowledge`, { ackIds: receivedMessages.map((r) => r.ackId) }, ctx.signal);
      if (receivedMessages.length < ctx.params.batch_size) break;
    }
  });
  // Stored with this try's success only: a try that dies mid-load leaves the watermark where it was.
  if (watermark && watermark !== previous) ctx.state.set('watermark', watermark);
  ctx.log.info('ingested', { ...counts, watermark });
  return { ...counts, watermark, previous_watermark: previous ?? null };
});

d.task({ id: 'volume', upstream: [ingest], description: 'new messages against the median of the last 10 runs' }, async (ctx) => {
  const { loaded } = ctx.output(ingest);
  return checkVolume(ctx, { name: 'messages loaded', count: loaded, alert: { webhook: 'events_ops', to: ctx.params.recipients } });
});

// GET /api/v1/<message id>: one stored message, read back (weir's server, a viewer token).
d.route({
  path: '/api/v1/:id',
  params: z.object({ id: z.string().regex(/^[1-9][0-9]{0,18}$/, 'a message id is a positive whole number') }),
  sql: 'warehouse/events/message_by_id.sql',
  args: ['id'],
  returns: 'one',
  notFound: 'no message with that id',
  description: 'one message loaded by events_every_3_min',
});

export default d;
