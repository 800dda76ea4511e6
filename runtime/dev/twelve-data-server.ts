/**
 * DEV/TEST TOOL — a local stand-in for the Twelve Data API, not part of weir's engine.
 * Answers `GET /time_series` in Twelve Data's exact format from bundled data (the real
 * 2020 daily bars of AAPL, AMZN and DIS in `data/`), so the flagship DAG and the tests
 * run with no account and no network. Failure modes can be switched on to rehearse
 * what the real API does: per-minute credit exhaustion (HTTP 429, or HTTP 200 with an
 * error body), bursts of 5xx, slow answers, malformed JSON, an invalid key.
 *
 *   node --import tsx runtime/dev/twelve-data-server.ts --port 8787 [--api-key demo]
 *
 * Admin endpoints (dev only): `POST /__admin/failure` with a FailureMode JSON body,
 * `GET /__admin/stats` → `{ requests }`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface Bar {
  datetime: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}
interface Series {
  meta: Record<string, string>;
  values: Bar[];
  status: 'ok';
}

/** A failure to inject. `times` = how many requests it affects before the server is healthy again (default: all). */
export type FailureMode =
  | { kind: 'none' }
  /** Out of per-minute credits: HTTP 429 (`status: 429`, default) or HTTP 200 with the error body (`status: 200`). */
  | { kind: 'rate_limit'; status?: 429 | 200; retryAfterS?: number; times?: number }
  /** 5xx responses (default 503). */
  | { kind: 'server_error'; status?: number; times?: number }
  /** Answer correctly, but after `delayMs`. */
  | { kind: 'slow'; delayMs: number; times?: number }
  /** A truncated JSON body with HTTP 200. */
  | { kind: 'malformed'; times?: number }
  /** Every key is refused with 401. */
  | { kind: 'invalid_key'; times?: number };

export interface TwelveDataServerOptions {
  /** Default 0 (any free port). Always bound to 127.0.0.1. */
  port?: number;
  /** The key accepted. Default `demo`. */
  apiKey?: string;
  /** Failure mode at start. Default none. */
  failures?: FailureMode;
  /** Replace the bundled data: `{ SYMBOL: { meta, values, status } }`, values newest first. */
  data?: Record<string, Series>;
}

export interface TwelveDataServer {
  /** Base URL, e.g. `http://127.0.0.1:8787` — use as TWELVE_DATA_BASE_URL. */
  url: string;
  setFailureMode(mode: FailureMode): void;
  /** `/time_series` requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

const DATA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data', 'time_series_2020_AAPL_AMZN_DIS.json');

let bundled: Record<string, Series> | undefined;
function bundledData(): Record<string, Series> {
  bundled ??= JSON.parse(readFileSync(DATA_FILE, 'utf8')) as Record<string, Series>;
  return bundled;
}

// Bodies copied from the real API's answers.
const INVALID_KEY = {
  code: 401,
  message:
    '**apikey** parameter is incorrect or not specified. You can get your free API key instantly following this link: https://twelvedata.com/pricing. If you believe that everything is correct, you can contact us at https://twelvedata.com/contact/customer',
  status: 'error',
};
const OUT_OF_CREDITS = {
  code: 429,
  message:
    'You have run out of API credits for the current minute. 9 API credits were used, with the current limit being 8. Wait for the next minute or consider switching to a higher tier plan at https://twelvedata.com/pricing',
  status: 'error',
};
const NO_DATA = { code: 400, message: 'No data is available on the specified dates. Try setting different start/end dates.', status: 'error' };
const notFound = (symbol: string) => ({
  code: 400,
  message: `**symbol** not found: ${symbol}. Please specify it correctly according to API Documentation.`,
  status: 'error',
  meta: { symbol, interval: '1day', exchange: '' },
});

function isDate(value: string | null): value is string {
  return value !== null && /^\d{4}-\d{2}-\d{2}/.test(value);
}

/** One symbol's series for the query: start inclusive, end exclusive (daily bars), newest first. */
function seriesFor(series: Series, start: string | null, end: string | null, outputsize: number): Series | typeof NO_DATA {
  const values = series.values.filter((b) => (!isDate(start) || b.datetime >= start.slice(0, 10)) && (!isDate(end) || b.datetime < end.slice(0, 10))).slice(0, outputsize);
  if (values.length === 0) return NO_DATA;
  return { meta: series.meta, values, status: 'ok' };
}

/** Start the local Twelve Data server. See the module comment. */
export async function startTwelveDataServer(options: TwelveDataServerOptions = {}): Promise<TwelveDataServer> {
  const apiKey = options.apiKey ?? 'demo';
  const data = options.data ?? bundledData();
  let mode: FailureMode = options.failures ?? { kind: 'none' };
  let remaining = mode.kind === 'none' ? 0 : (mode.times ?? Infinity);
  let requests = 0;

  const setFailureMode = (next: FailureMode) => {
    mode = next;
    remaining = next.kind === 'none' ? 0 : (next.times ?? Infinity);
  };

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const timeSeries = (url: URL, res: http.ServerResponse) => {
    const params = url.searchParams;
    if (params.get('apikey') !== apiKey) return send(res, 401, INVALID_KEY);
    const symbols = (params.get('symbol') ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (symbols.length === 0) return send(res, 400, { code: 400, message: '**symbol** parameter is required', status: 'error' });
    const interval = params.get('interval') ?? '';
    if (interval !== '1day') {
      return send(res, 400, { code: 400, message: `**interval** is not supported by the local dev server: ${interval || '(missing)'}; only 1day`, status: 'error' });
    }
    const start = params.get('start_date');
    const end = params.get('end_date');
    // The real API returns 30 bars when no dates are given, up to 5000 otherwise.
    const outputsize = Number(params.get('outputsize') ?? (start || end ? 5000 : 30));
    const one = (symbol: string) => (data[symbol] ? seriesFor(data[symbol], start, end, outputsize) : notFound(symbol));
    if (symbols.length === 1) {
      const body = one(symbols[0]!);
      return send(res, body.status === 'error' ? 400 : 200, body);
    }
    // Batch: keyed by symbol, each its own series or its own error, HTTP 200.
    return send(res, 200, Object.fromEntries(symbols.map((s) => [s, one(s)])));
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/__admin/failure' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      try {
        setFailureMode(JSON.parse(body || '{"kind":"none"}') as FailureMode);
      } catch {
        return send(res, 400, { error: 'body must be a FailureMode JSON object' });
      }
      return send(res, 200, { ok: true, mode });
    }
    if (url.pathname === '/__admin/stats') return send(res, 200, { requests, mode });
    if (url.pathname !== '/time_series') return send(res, 404, { code: 404, message: `**endpoint** not found: ${url.pathname} (local dev server: /time_series only)`, status: 'error' });
    requests++;
    const active = remaining > 0 ? mode : ({ kind: 'none' } as FailureMode);
    if (active.kind !== 'none') remaining--;
    switch (active.kind) {
      case 'rate_limit': {
        const headers = { 'retry-after': String(active.retryAfterS ?? 60) };
        return send(res, active.status ?? 429, OUT_OF_CREDITS, headers);
      }
      case 'server_error':
        return send(res, active.status ?? 503, { code: active.status ?? 503, message: 'Service temporarily unavailable', status: 'error' });
      case 'malformed':
        return send(res, 200, '{"AAPL": {"meta": {"symbol": "AAPL", "interval": "1day"}, "values": [{"datetime": "2020-12-30", "open": "135.5');
      case 'invalid_key':
        return send(res, 401, INVALID_KEY);
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, active.delayMs));
        if (res.destroyed) return;
        return timeSeries(url, res);
      default:
        return timeSeries(url, res);
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { code: 500, message: `local dev server error: ${String(err)}`, status: 'error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setFailureMode,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

// Run alone: node --import tsx runtime/dev/twelve-data-server.ts --port 8787
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8787' }, 'api-key': { type: 'string', default: 'demo' } } });
  const server = await startTwelveDataServer({ port: Number(values.port), apiKey: values['api-key'] });
  process.stdout.write(`local Twelve Data dev server on ${server.url} (api key "${values['api-key']}")\n`);
  process.stdout.write(`  export TWELVE_DATA_BASE_URL=${server.url} TWELVE_DATA_API_KEY=${values['api-key']}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
