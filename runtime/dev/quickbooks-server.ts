/**
 * DEV/TEST TOOL — a local stand-in for the QuickBooks Online API, not part of weir's engine.
 * Serves Intuit's token endpoint and the company query endpoint with QBO's JSON shapes, so
 * the `qb_backfill` DAG and its tests run with no Intuit app and no network:
 *
 * - `POST /oauth2/v1/tokens/bearer`: the refresh-token grant, client credentials in HTTP
 *   Basic auth. Answers `access_token`, `expires_in` 3600 and a **new** `refresh_token`;
 *   the one it replaced is refused from then on (`invalid_grant`), as Intuit's rotation.
 * - `GET /v3/company/{realmId}/query?query=SELECT * FROM Invoice WHERE
 *   MetaData.LastUpdatedTime >= '…' AND MetaData.LastUpdatedTime < '…' STARTPOSITION n
 *   MAXRESULTS m` (Customer and Item likewise): `{"QueryResponse": {"Invoice": [...],
 *   "startPosition": n, "maxResults": k}, "time": …}`, and `{"QueryResponse": {}, …}` past
 *   the end. Rows are in LastUpdatedTime, then Id, order; MAXRESULTS is at most 1000.
 * - Faults, switched like the Twelve Data server's (`POST /__admin/failure`): 429 throttling
 *   with `Retry-After`, 5xx, slow pages, and expired access tokens (401 with QBO's `Fault`
 *   body); `match` limits a fault to queries containing that text (one day's chunk).
 *
 * Its data: the 20 real sandbox invoices (`data/quickbooks_invoices_sandbox.json`, August
 * 2025, `LastUpdatedTime` with an offset), the customers and items they reference, and
 * `generated` more invoices spread over a window (`generateInvoices`).
 *
 *   node --import tsx runtime/dev/quickbooks-server.ts --port 8789 [--generate 10000 --from 2026-01-01 --to 2026-02-01]
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { prng } from './prng.ts';

export type QboEntity = Record<string, unknown> & { Id: string; MetaData: { CreateTime: string; LastUpdatedTime: string } };

/** A fault to inject; `times` = how many query requests it affects (default: all), `match` = only queries containing this text. */
export type QboFailureMode =
  | { kind: 'none' }
  | { kind: 'rate_limit'; retryAfterS?: number; times?: number; match?: string }
  | { kind: 'server_error'; status?: number; times?: number; match?: string }
  | { kind: 'slow'; delayMs: number; times?: number; match?: string }
  /** Every access token issued so far is expired: the next query with one gets QBO's 401. */
  | { kind: 'expire_tokens' };

export interface QuickBooksServerOptions {
  /** Default 0 (any free port). Always bound to 127.0.0.1. */
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** The refresh token valid at start. Default `qbo-refresh-0`. */
  refreshToken?: string;
  realmId?: string;
  /** Extra invoices (generateInvoices) added to the real ones. */
  generated?: { count: number; from: string; to: string; seed?: number };
  failures?: QboFailureMode;
}

export interface QboStats {
  queries: number;
  tokenRequests: number;
  /** Most query requests being answered at one moment. */
  peakConcurrent: number;
  /** Time spent answering query requests, summed over requests (ms). */
  busyMs: number;
}

export interface QuickBooksServer {
  /** Base URL: use as QBO_BASE_URL; the token endpoint is `tokenUrl` (QBO_TOKEN_URL). */
  url: string;
  tokenUrl: string;
  realmId: string;
  clientId: string;
  clientSecret: string;
  /** The refresh token the server accepts now (each refresh replaces it). */
  readonly refreshToken: string;
  setFailureMode(mode: QboFailureMode): void;
  readonly stats: QboStats;
  /** The server's data by entity name (`Invoice`, `Customer`, `Item`). */
  entities(name: 'Invoice' | 'Customer' | 'Item'): QboEntity[];
  close(): Promise<void>;
}

const DATA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data', 'quickbooks_invoices_sandbox.json');

/** The 20 real sandbox invoices. */
export function realInvoices(): QboEntity[] {
  return (JSON.parse(readFileSync(DATA_FILE, 'utf8')) as { QueryResponse: { Invoice: QboEntity[] } }).QueryResponse.Invoice;
}

type Ref = { value: string; name: string };
const refsOf = (invoices: QboEntity[]) => {
  const customers = new Map<string, Ref>();
  const items = new Map<string, Ref>();
  for (const inv of invoices) {
    const c = inv.CustomerRef as Ref | undefined;
    if (c) customers.set(c.value, c);
    for (const line of (inv.Line ?? []) as { SalesItemLineDetail?: { ItemRef: Ref } }[]) {
      const ref = line.SalesItemLineDetail?.ItemRef;
      if (ref) items.set(ref.value, ref);
    }
  }
  return { customers, items };
};

/** QBO's time format: `2025-08-02T13:16:17-07:00` (Pacific, as the sandbox company). */
function qboTime(ms: number): string {
  const offsetMin = -7 * 60;
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 19);
  return `${local}-07:00`;
}

/** `count` invoices with LastUpdatedTime spread over [from, to), referencing the real customers and items; Ids from 10001 up. */
export function generateInvoices(options: { count: number; from: string; to: string; seed?: number }): QboEntity[] {
  const rand = prng(options.seed ?? 42);
  const { customers, items } = refsOf(realInvoices());
  const cs = [...customers.values()];
  const is = [...items.values()];
  const start = Date.parse(options.from);
  const span = Date.parse(options.to) - start;
  const out: QboEntity[] = [];
  for (let i = 0; i < options.count; i++) {
    const at = start + Math.floor(rand() * span);
    const when = qboTime(at);
    const lines = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, n) => {
      const item = is[Math.floor(rand() * is.length)]!;
      const qty = 1 + Math.floor(rand() * 5);
      const price = Math.round(rand() * 20000) / 100;
      return { Id: String(n + 1), LineNum: n + 1, Amount: Math.round(qty * price * 100) / 100, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: item, UnitPrice: price, Qty: qty } };
    });
    out.push({
      Id: String(10001 + i), SyncToken: '0', domain: 'QBO', sparse: false, DocNumber: String(20001 + i), TxnDate: when.slice(0, 10),
      MetaData: { CreateTime: when, LastUpdatedTime: when }, CustomerRef: cs[Math.floor(rand() * cs.length)]!, Line: lines,
      TotalAmt: Math.round(lines.reduce((a, l) => a + l.Amount, 0) * 100) / 100, CurrencyRef: { value: 'USD', name: 'United States Dollar' },
    });
  }
  return out;
}

/** Customers and items the invoices reference, each last updated an hour before the first invoice that names it. */
function referencedEntities(invoices: QboEntity[]): { Customer: QboEntity[]; Item: QboEntity[] } {
  const firstUse = new Map<string, number>();
  for (const inv of invoices) {
    const at = Date.parse(inv.MetaData.LastUpdatedTime);
    const { customers, items } = refsOf([inv]);
    for (const c of customers.keys()) firstUse.set(`c${c}`, Math.min(firstUse.get(`c${c}`) ?? Infinity, at));
    for (const it of items.keys()) firstUse.set(`i${it}`, Math.min(firstUse.get(`i${it}`) ?? Infinity, at));
  }
  const { customers, items } = refsOf(invoices);
  const meta = (key: string) => {
    const t = qboTime(firstUse.get(key)! - 3_600_000);
    return { CreateTime: t, LastUpdatedTime: t };
  };
  return {
    Customer: [...customers.values()].map((c) => ({ Id: c.value, DisplayName: c.name, Active: true, SyncToken: '0', domain: 'QBO', sparse: false, MetaData: meta(`c${c.value}`) })),
    Item: [...items.values()].map((i) => ({ Id: i.value, Name: i.name, Active: true, Type: 'Service', SyncToken: '0', domain: 'QBO', sparse: false, MetaData: meta(`i${i.value}`) })),
  };
}

const QUERY = /^SELECT \* FROM (Invoice|Customer|Item) WHERE MetaData\.LastUpdatedTime >= '([^']+)' AND MetaData\.LastUpdatedTime < '([^']+)' STARTPOSITION (\d+) MAXRESULTS (\d+)$/i;

const fault = (status: number, type: string, message: string, detail: string, code: string) => ({
  Fault: { Error: [{ Message: message, Detail: detail, code }], type }, time: new Date().toISOString(),
});

/** Start the stand-in. See the module comment. */
export async function startQuickBooksServer(options: QuickBooksServerOptions = {}): Promise<QuickBooksServer> {
  const clientId = options.clientId ?? 'qbo-client';
  const clientSecret = options.clientSecret ?? 'qbo-client-secret';
  const realmId = options.realmId ?? '9341455255737014';
  let refreshToken = options.refreshToken ?? 'qbo-refresh-0';
  const invoices = [...realInvoices(), ...(options.generated ? generateInvoices(options.generated) : [])];
  const byTime = (a: QboEntity, b: QboEntity) => Date.parse(a.MetaData.LastUpdatedTime) - Date.parse(b.MetaData.LastUpdatedTime) || a.Id.localeCompare(b.Id);
  const data: Record<string, QboEntity[]> = { Invoice: invoices.sort(byTime), ...referencedEntities(invoices) };
  data.Customer!.sort(byTime);
  data.Item!.sort(byTime);
  const tokens = new Map<string, number>(); // access token -> expiry (ms)
  let mode: QboFailureMode = options.failures ?? { kind: 'none' };
  let remaining = Infinity;
  const stats: QboStats = { queries: 0, tokenRequests: 0, peakConcurrent: 0, busyMs: 0 };
  let concurrent = 0;
  const setFailureMode = (next: QboFailureMode) => {
    if (next.kind === 'expire_tokens') {
      for (const t of tokens.keys()) tokens.set(t, 0);
      return;
    }
    mode = next;
    remaining = next.kind === 'none' ? 0 : (next.times ?? Infinity);
  };
  setFailureMode(mode);

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text), intuit_tid: crypto.randomUUID(), ...headers });
    res.end(text);
  };
  const readBody = async (req: http.IncomingMessage) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    return body;
  };

  const token = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    stats.tokenRequests++;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: 'invalid_client' });
    const form = new URLSearchParams(await readBody(req));
    if (form.get('grant_type') !== 'refresh_token') return send(res, 400, { error: 'unsupported_grant_type' });
    if (form.get('refresh_token') !== refreshToken) return send(res, 400, { error: 'invalid_grant' });
    refreshToken = `qbo-refresh-${crypto.randomBytes(12).toString('hex')}`;
    const access = `qbo-access-${crypto.randomBytes(16).toString('hex')}`;
    tokens.set(access, Date.now() + 3_600_000);
    return send(res, 200, { token_type: 'bearer', expires_in: 3600, refresh_token: refreshToken, x_refresh_token_expires_in: 8_726_400, access_token: access });
  };

  const query = async (url: URL, req: http.IncomingMessage, res: http.ServerResponse) => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiry = bearer ? tokens.get(bearer) : undefined;
    if (expiry === undefined || expiry <= Date.now()) {
      return send(res, 401, fault(401, 'AUTH', 'message=AuthenticationFailed; errorCode=003200; statusCode=401', 'Token expired: the access token is invalid or has expired', '3200'));
    }
    const text = url.searchParams.get('query') ?? '';
    const m = QUERY.exec(text.trim());
    if (!m) return send(res, 400, fault(400, 'ValidationFault', 'Error parsing query', `QueryParserError: the local stand-in understands only SELECT * FROM Invoice|Customer|Item WHERE MetaData.LastUpdatedTime >= '…' AND MetaData.LastUpdatedTime < '…' STARTPOSITION n MAXRESULTS m; got: ${text}`, '4000'));
    const active = remaining > 0 && mode.kind !== 'none' && (!('match' in mode) || !mode.match || text.includes(mode.match)) ? mode : undefined;
    if (active) remaining--;
    if (active?.kind === 'rate_limit') {
      return send(res, 429, fault(429, 'SERVICE', 'message=ThrottleExceeded; errorCode=003001; statusCode=429', 'The request limit was reached.', '003001'), { 'retry-after': String(active.retryAfterS ?? 1) });
    }
    if (active?.kind === 'server_error') return send(res, active.status ?? 503, fault(active.status ?? 503, 'SERVICE', 'An application error has occurred while processing your request', 'System Failure Error: service unavailable', '10000'));
    if (active?.kind === 'slow') await new Promise((r) => setTimeout(r, active.delayMs));
    const [, entity, from, to, start, max] = m;
    const name = entity![0]!.toUpperCase() + entity!.slice(1).toLowerCase();
    const lo = Date.parse(from!);
    const hi = Date.parse(to!);
    const maxResults = Math.min(Number(max), 1000);
    const rows = data[name]!.filter((e) => {
      const t = Date.parse(e.MetaData.LastUpdatedTime);
      return t >= lo && t < hi;
    }).slice(Number(start) - 1, Number(start) - 1 + maxResults);
    const time = qboTime(Date.now());
    if (!rows.length) return send(res, 200, { QueryResponse: {}, time });
    return send(res, 200, { QueryResponse: { [name]: rows, startPosition: Number(start), maxResults: rows.length }, time });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/__admin/failure' && req.method === 'POST') {
      try {
        setFailureMode(JSON.parse((await readBody(req)) || '{"kind":"none"}') as QboFailureMode);
      } catch {
        return send(res, 400, { error: 'body must be a QboFailureMode JSON object' });
      }
      return send(res, 200, { ok: true, mode });
    }
    if (url.pathname === '/__admin/stats') return send(res, 200, stats);
    if (url.pathname === '/oauth2/v1/tokens/bearer' && req.method === 'POST') return token(req, res);
    if (url.pathname === `/v3/company/${realmId}/query` && req.method === 'GET') {
      stats.queries++;
      concurrent++;
      stats.peakConcurrent = Math.max(stats.peakConcurrent, concurrent);
      const t0 = performance.now();
      try {
        return await query(url, req, res);
      } finally {
        concurrent--;
        stats.busyMs += performance.now() - t0;
      }
    }
    return send(res, 404, fault(404, 'SERVICE', 'Unsupported Operation', `the local stand-in serves the token endpoint and /v3/company/${realmId}/query only; got ${req.method} ${url.pathname}`, '500'));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, fault(500, 'SERVICE', 'stand-in error', String(err), '10000'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tokenUrl: `${url}/oauth2/v1/tokens/bearer`,
    realmId,
    clientId,
    clientSecret,
    get refreshToken() {
      return refreshToken;
    },
    setFailureMode,
    get stats() {
      return { ...stats };
    },
    entities: (name) => data[name]!,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

// Run alone: node --import tsx runtime/dev/quickbooks-server.ts --port 8789
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8789' }, generate: { type: 'string' }, from: { type: 'string', default: '2026-01-01' }, to: { type: 'string', default: '2026-02-01' } } });
  const server = await startQuickBooksServer({
    port: Number(values.port),
    generated: values.generate ? { count: Number(values.generate), from: values.from!, to: values.to! } : undefined,
  });
  process.stdout.write(`local QuickBooks stand-in on ${server.url} (realm ${server.realmId})\n`);
  process.stdout.write(`  export QBO_BASE_URL=${server.url} QBO_TOKEN_URL=${server.tokenUrl} QBO_REALM_ID=${server.realmId} QBO_CLIENT_ID=${server.clientId} QBO_CLIENT_SECRET=${server.clientSecret}\n`);
  process.stdout.write(`  printf %s ${server.refreshToken} | weir secrets set QBO_REFRESH_TOKEN\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
