/**
 * runtime/dev/twelve-data-server.ts (the local dev/test stand-in for Twelve Data):
 * the exact response shapes, date filtering (end exclusive), the key check, each
 * failure mode and the admin endpoint, the CLI entry.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTwelveDataServer } from '../runtime/dev/twelve-data-server.ts';
import type { TwelveDataServer } from '../runtime/dev/twelve-data-server.ts';

let server: TwelveDataServer;
beforeAll(async () => {
  server = await startTwelveDataServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.setFailureMode({ kind: 'none' }));

async function get(query: string): Promise<{ status: number; headers: Headers; text: string; body: any }> {
  const res = await fetch(`${server.url}/time_series?${query}`);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

test('batch: keyed by symbol, {meta, values, status}, strings, newest first; end_date exclusive', async () => {
  const { status, body } = await get('symbol=AAPL,AMZN&interval=1day&start_date=2020-12-01&end_date=2020-12-30&apikey=demo');
  expect(status).toBe(200);
  expect(Object.keys(body)).toEqual(['AAPL', 'AMZN']);
  expect(body.AAPL.status).toBe('ok');
  expect(body.AAPL.meta).toMatchObject({ symbol: 'AAPL', interval: '1day', exchange: 'NASDAQ' });
  expect(body.AAPL.values[0]).toEqual({ datetime: '2020-12-29', open: '138.05', high: '138.79', low: '134.34', close: '134.87', volume: '121047000' });
  expect(body.AAPL.values.at(-1).datetime).toBe('2020-12-01');
});

test('single symbol: not keyed', async () => {
  const { body } = await get('symbol=DIS&interval=1day&start_date=2020-01-01&end_date=2021-01-01&apikey=demo');
  expect(body.meta.symbol).toBe('DIS');
  expect(body.values).toHaveLength(252);
  expect(body.status).toBe('ok');
});

test('no dates: the latest 30 bars, like the real API', async () => {
  const { body } = await get('symbol=AMZN&interval=1day&apikey=demo');
  expect(body.values).toHaveLength(30);
  expect(body.values[0].datetime).toBe('2020-12-30');
});

test('unknown symbol: its own error inside a batch, a 400 alone', async () => {
  const batch = await get('symbol=AAPL,NOPE&interval=1day&start_date=2020-12-01&end_date=2020-12-05&apikey=demo');
  expect(batch.status).toBe(200);
  expect(batch.body.NOPE).toMatchObject({ code: 400, status: 'error', message: expect.stringContaining('not found: NOPE') });
  expect(batch.body.AAPL.status).toBe('ok');
  const single = await get('symbol=NOPE&interval=1day&apikey=demo');
  expect(single.status).toBe(400);
  expect(single.body.code).toBe(400);
});

test('a bad or missing key: 401 with the real error body', async () => {
  for (const q of ['symbol=AAPL&interval=1day&apikey=nope', 'symbol=AAPL&interval=1day']) {
    const { status, body } = await get(q);
    expect(status).toBe(401);
    expect(body).toMatchObject({ code: 401, status: 'error', message: expect.stringContaining('**apikey**') });
  }
});

test('failure modes: 429 and its 200 twin with Retry-After, 5xx burst, malformed, slow, invalid key', async () => {
  const q = 'symbol=AAPL&interval=1day&apikey=demo';
  server.setFailureMode({ kind: 'rate_limit', retryAfterS: 7, times: 1 });
  let r = await get(q);
  expect([r.status, r.body.code, r.headers.get('retry-after')]).toEqual([429, 429, '7']);
  expect((await get(q)).status).toBe(200); // times: 1

  server.setFailureMode({ kind: 'rate_limit', status: 200, times: 1 });
  r = await get(q);
  expect([r.status, r.body.status, r.body.code]).toEqual([200, 'error', 429]);

  server.setFailureMode({ kind: 'server_error', times: 2 });
  expect([(await get(q)).status, (await get(q)).status, (await get(q)).status]).toEqual([503, 503, 200]);

  server.setFailureMode({ kind: 'malformed', times: 1 });
  r = await get(q);
  expect(r.status).toBe(200);
  expect(r.body).toBeUndefined();
  expect(r.text.startsWith('{')).toBe(true);

  server.setFailureMode({ kind: 'slow', delayMs: 200, times: 1 });
  const started = Date.now();
  expect((await get(q)).status).toBe(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);

  server.setFailureMode({ kind: 'invalid_key' });
  expect((await get(q)).status).toBe(401);
});

test('the admin endpoint switches modes and counts requests', async () => {
  const before = server.requests;
  const res = await fetch(`${server.url}/__admin/failure`, { method: 'POST', body: JSON.stringify({ kind: 'server_error', status: 502, times: 1 }) });
  expect(res.status).toBe(200);
  expect((await get('symbol=AAPL&interval=1day&apikey=demo')).status).toBe(502);
  const stats = (await (await fetch(`${server.url}/__admin/stats`)).json()) as { requests: number };
  expect(stats.requests).toBe(before + 1);
  expect(server.requests).toBe(before + 1);
});

test('runs alone from the command line', async () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/dev/twelve-data-server.ts', '--port', '0', '--api-key', 'cli-key'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const res = await fetch(`${url}/time_series?symbol=AMZN&interval=1day&apikey=cli-key`);
    expect(res.status).toBe(200);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});
