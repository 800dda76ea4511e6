/**
 * DEV/TEST TOOL — a local stand-in for a message topic with Google Pub/Sub's pull
 * semantics over HTTP (its REST shapes), not part of weir's engine. The
 * events_every_3_min DAG and its tests run against it with no cloud account.
 *
 * - `POST /v1/projects/{p}/subscriptions/{s}:pull` `{ maxMessages }` →
 *   `{ receivedMessages: [{ ackId, message: { messageId, publishTime, data } }] }`, data being
 *   base64 JSON. A pulled message is leased for the ack deadline; unacked, it comes back.
 * - `POST …:acknowledge` `{ ackIds }` → `{}`; only a message's latest delivery acks it (an
 *   ackId from before a redelivery is ignored, as Pub/Sub may).
 * - At-least-once: with `duplicateRate`, a pulled message is also delivered again later,
 *   acked or not (a copy with its own ackId).
 * - A generator publishes `perMinute` messages a minute (`POST /__admin/rate`
 *   `{ perMinute }`; 0 is a volume drop); `POST /__admin/publish` `{ count }` publishes at
 *   once; `GET /__admin/stats` → `{ published, acked, outstanding, deliveries }`.
 *
 *   node --import tsx runtime/dev/pubsub-server.ts --port 8085 [--per-minute 600] [--ack-deadline-s 10] [--duplicate-rate 0.01]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface PubSubOptions {
  /** Default 0 (any free port). Always bound to 127.0.0.1. */
  port?: number;
  /** How long a pulled message stays leased before it is delivered again. Default 10 s. */
  ackDeadlineMs?: number;
  /** Share of pulls whose messages are delivered once more later (at-least-once). Default 0. */
  duplicateRate?: number;
  /** Messages the generator publishes per minute. Default 0 (publish by hand). */
  perMinute?: number;
  /** The payload of message n. Default `{ event_id: n, value: n % 97, kind: … }`. */
  payload?: (n: number) => unknown;
}

interface Message {
  id: string;
  publishTime: string;
  data: string;
  /** When its lease ends (0: not leased). */
  leasedUntil: number;
  ackId: string | null;
}

export interface PubSubServer {
  url: string;
  /** Publish `count` messages now (or stamped `publishTime(i)`, for a simulated clock); returns their ids. */
  publish(count: number, publishTime?: (i: number) => Date): string[];
  setRate(perMinute: number): void;
  stats(): { published: number; acked: number; outstanding: number; deliveries: number; duplicatesQueued: number };
  close(): Promise<void>;
}

const KINDS = ['click', 'view', 'purchase', 'signup'];
const defaultPayload = (n: number) => ({ event_id: n, kind: KINDS[n % KINDS.length], value: n % 97 });

export async function startPubSubServer(options: PubSubOptions = {}): Promise<PubSubServer> {
  const ackDeadlineMs = options.ackDeadlineMs ?? 10_000;
  const duplicateRate = options.duplicateRate ?? 0;
  const payload = options.payload ?? defaultPayload;
  const pending = new Map<string, Message>();
  const byAck = new Map<string, Message>();
  let seq = 0;
  let acks = 0;
  let deliveries = 0;
  let ackSeq = 0;
  let duplicateCounter = 0;

  const publish = (count: number, publishTime?: (i: number) => Date) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      seq++;
      const id = String(seq);
      pending.set(id, { id, publishTime: (publishTime ? publishTime(i) : new Date()).toISOString(), data: Buffer.from(JSON.stringify(payload(seq))).toString('base64'), leasedUntil: 0, ackId: null });
      ids.push(id);
    }
    return ids;
  };

  let generator: NodeJS.Timeout | undefined;
  let carry = 0;
  const setRate = (perMinute: number) => {
    if (generator) clearInterval(generator);
    generator = undefined;
    if (perMinute <= 0) return;
    // Ten publishes a second, carrying fractions, so 1,000/s and 1/min are both exact.
    generator = setInterval(() => {
      carry += perMinute / 600;
      const whole = Math.floor(carry);
      carry -= whole;
      if (whole) publish(whole);
    }, 100);
    generator.unref();
  };
  setRate(options.perMinute ?? 0);

  /** Copies to deliver again whatever happens to the original (acked or not): at-least-once. */
  const again: Message[] = [];
  const deliver = (m: Message) => {
    if (m.ackId) byAck.delete(m.ackId);
    m.ackId = `ack-${++ackSeq}`;
    byAck.set(m.ackId, m);
    deliveries++;
    return { ackId: m.ackId, message: { messageId: m.id, publishTime: m.publishTime, data: m.data } };
  };
  const pull = (max: number) => {
    const now = Date.now();
    const out: ReturnType<typeof deliver>[] = [];
    while (again.length && out.length < max) out.push(deliver(again.shift()!));
    for (const m of pending.values()) {
      if (out.length >= max) break;
      if (m.leasedUntil > now) continue;
      m.leasedUntil = now + ackDeadlineMs;
      out.push(deliver(m));
      duplicateCounter += duplicateRate;
      if (duplicateCounter >= 1) {
        duplicateCounter -= 1;
        again.push({ ...m, ackId: null, leasedUntil: 0 });
      }
    }
    return out;
  };

  const acknowledge = (ackIds: string[]) => {
    for (const a of ackIds) {
      // Only a message's latest delivery can ack it: once redelivered, the old ackId is void.
      const m = byAck.get(a);
      if (!m) continue;
      byAck.delete(a);
      // A copy's ack settles only the copy; the original's settles the message.
      if (pending.get(m.id) === m && pending.delete(m.id)) acks++;
    }
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      let json: Record<string, unknown> = {};
      try {
        json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        return reply(400, { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } });
      }
      const url = req.url ?? '';
      if (req.method === 'POST' && /^\/v1\/projects\/[^/]+\/subscriptions\/[^/:]+:pull$/.test(url)) {
        const max = Number(json.maxMessages ?? 100);
        if (!Number.isInteger(max) || max < 1 || max > 1000) return reply(400, { error: { code: 400, message: 'maxMessages must be 1 to 1000', status: 'INVALID_ARGUMENT' } });
        return reply(200, { receivedMessages: pull(max) });
      }
      if (req.method === 'POST' && /^\/v1\/projects\/[^/]+\/subscriptions\/[^/:]+:acknowledge$/.test(url)) {
        if (!Array.isArray(json.ackIds)) return reply(400, { error: { code: 400, message: 'ackIds is required', status: 'INVALID_ARGUMENT' } });
        acknowledge(json.ackIds as string[]);
        return reply(200, {});
      }
      if (req.method === 'POST' && url === '/__admin/publish') return reply(200, { messageIds: publish(Number(json.count ?? 1)) });
      if (req.method === 'POST' && url === '/__admin/rate') {
        setRate(Number(json.perMinute ?? 0));
        return reply(200, {});
      }
      if (req.method === 'GET' && url === '/__admin/stats') return reply(200, stats());
      reply(404, { error: { code: 404, message: `no route ${req.method} ${url}`, status: 'NOT_FOUND' } });
    });
  });
  const stats = () => ({ published: seq, acked: acks, outstanding: pending.size + again.length, deliveries, duplicatesQueued: again.length });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    publish,
    setRate,
    stats,
    close: () => {
      if (generator) clearInterval(generator);
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8085' }, 'per-minute': { type: 'string', default: '600' }, 'ack-deadline-s': { type: 'string', default: '10' }, 'duplicate-rate': { type: 'string', default: '0.01' } } });
  const s = await startPubSubServer({ port: Number(values.port), perMinute: Number(values['per-minute']), ackDeadlineMs: Number(values['ack-deadline-s']) * 1000, duplicateRate: Number(values['duplicate-rate']) });
  process.stdout.write(`pub/sub stand-in on ${s.url} (subscription URL: ${s.url}/v1/projects/dev/subscriptions/events)\n`);
}
