/**
 * tasks/twelve-data.ts against the local Twelve Data dev server: batch and single
 * shapes, per-symbol errors, every failure mode (retried, or failed with a clear
 * error), and the API key never leaking into an error.
 */
import { NonRetryableError, WeirError } from '../runtime/errors.ts';
import { startTwelveDataServer } from '../runtime/dev/twelve-data-server.ts';
import type { TwelveDataServer } from '../runtime/dev/twelve-data-server.ts';
import { createTwelveDataClient, parseTimeSeries } from '../tasks/twelve-data.ts';

const KEY = 'td-key-4b1e9f07c2';
let server: TwelveDataServer;

beforeAll(async () => {
  server = await startTwelveDataServer({ apiKey: KEY });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.setFailureMode({ kind: 'none' }));

const client = (overrides: Parameters<typeof createTwelveDataClient>[0] = {}) =>
  createTwelveDataClient({ baseUrl: server.url, apiKey: KEY, baseDelayMs: 5, maxDelayMs: 20, env: {}, ...overrides });

const year2020 = { startDate: '2020-01-01', endDate: '2021-01-01' };

test('batch: bars per symbol, strings, newest first, 252 bars each', async () => {
  const result = await client().timeSeries({ symbols: ['AAPL', 'AMZN', 'DIS'], ...year2020 });
  expect(Object.keys(result.bars).sort()).toEqual(['AAPL', 'AMZN', 'DIS']);
  expect(result.errors).toEqual({});
  for (const bars of Object.values(result.bars)) {
    expect(bars).toHaveLength(252);
    expect(bars[0]!.datetime).toBe('2020-12-30');
    expect(bars.at(-1)!.datetime).toBe('2020-01-02');
    expect(typeof bars[0]!.high).toBe('string');
  }
  expect(result.meta.DIS!.exchange).toBe('NYSE');
});

test('single symbol: the unkeyed shape is handled too', async () => {
  const result = await client().timeSeries({ symbols: ['amzn'], startDate: '2020-03-01', endDate: '2020-04-01' });
  expect(Object.keys(result.bars)).toEqual(['AMZN']);
  expect(result.bars.AMZN!.every((b) => b.datetime.startsWith('2020-03'))).toBe(true);
  expect(result.bars.AMZN).toHaveLength(22);
});

test('batch with an unknown symbol: that symbol carries its own error, the others succeed', async () => {
  const result = await client().timeSeries({ symbols: ['AAPL', 'NOPE'], ...year2020 });
  expect(result.bars.AAPL).toHaveLength(252);
  expect(result.errors.NOPE).toEqual({ code: 400, message: expect.stringMatching(/symbol\*\* not found: NOPE/) });
});

test('a window with no trading days gives empty bars, not a failure', async () => {
  const result = await client().timeSeries({ symbols: ['AAPL'], startDate: '2020-01-04', endDate: '2020-01-06' });
  expect(result.bars).toEqual({ AAPL: [] });
  const batch = await client().timeSeries({ symbols: ['AAPL', 'DIS'], startDate: '2020-01-04', endDate: '2020-01-06' });
  expect(batch.bars).toEqual({ AAPL: [], DIS: [] });
});

test.each([429, 200] as const)('out of per-minute credits (HTTP %i) is retried after Retry-After', async (status) => {
  server.setFailureMode({ kind: 'rate_limit', status, retryAfterS: 0, times: 2 });
  const before = server.requests;
  const result = await client().timeSeries({ symbols: ['AMZN'], ...year2020 });
  expect(result.bars.AMZN).toHaveLength(252);
  expect(server.requests - before).toBe(3);
});

test('credits still out after the last retry: a retryable error that says so', async () => {
  server.setFailureMode({ kind: 'rate_limit', status: 200, retryAfterS: 0 });
  const error = await client({ retries: 1 }).timeSeries({ symbols: ['AMZN'], ...year2020 }).then(() => new Error('expected a failure') as Error, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(WeirError);
  expect(error).not.toBeInstanceOf(NonRetryableError);
  expect(error.message).toMatch(/per-minute API credits/);
  expect(error.message).not.toContain(KEY);
});

test('a Retry-After beyond the cap fails at once instead of waiting', async () => {
  server.setFailureMode({ kind: 'rate_limit', status: 429, retryAfterS: 3600 });
  const before = server.requests;
  const error = await client({ maxRetryAfterMs: 5000 }).timeSeries({ symbols: ['AMZN'], ...year2020 }).then(() => new Error('expected a failure') as WeirError, (e: unknown) => e as WeirError);
  expect(error.code).toBe('retry_after_too_long');
  expect(server.requests - before).toBe(1);
});

test('a burst of 5xx is retried through', async () => {
  server.setFailureMode({ kind: 'server_error', status: 502, times: 3 });
  const result = await client().timeSeries({ symbols: ['DIS'], ...year2020 });
  expect(result.bars.DIS).toHaveLength(252);
});

test('malformed JSON: a clear, retryable error', async () => {
  server.setFailureMode({ kind: 'malformed', times: 1 });
  const error = await client().timeSeries({ symbols: ['AAPL', 'AMZN'], ...year2020 }).then(() => new Error('expected a failure') as WeirError, (e: unknown) => e as WeirError);
  expect(error).toBeInstanceOf(WeirError);
  expect(error.code).toBe('malformed_response');
  expect(error.message).toMatch(/not the expected JSON/);
  // The next try (the engine's retry) succeeds.
  await expect(client().timeSeries({ symbols: ['AAPL'], ...year2020 })).resolves.toBeTruthy();
});

test('slow responses still succeed within the timeout', async () => {
  server.setFailureMode({ kind: 'slow', delayMs: 150, times: 1 });
  const result = await client().timeSeries({ symbols: ['AAPL'], ...year2020 });
  expect(result.bars.AAPL).toHaveLength(252);
});

test('an invalid key (401) is a NonRetryableError, sent once, key redacted', async () => {
  const before = server.requests;
  const error = await client({ apiKey: 'wrong-key-5a5a5a' }).timeSeries({ symbols: ['AAPL'], ...year2020 }).then(() => new Error('expected a failure') as Error, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(NonRetryableError);
  expect(error.message).toMatch(/rejected the API key \(HTTP 401\).*TWELVE_DATA_API_KEY/);
  expect(error.message).not.toContain('wrong-key-5a5a5a');
  expect(server.requests - before).toBe(1);
});

test('the invalid-key failure mode behaves the same', async () => {
  server.setFailureMode({ kind: 'invalid_key' });
  await expect(client().timeSeries({ symbols: ['AAPL'], ...year2020 })).rejects.toBeInstanceOf(NonRetryableError);
});

test('a 400 for the whole request is a NonRetryableError', async () => {
  const error = await client().timeSeries({ symbols: ['NOPE'], ...year2020 }).then(() => new Error('expected a failure') as Error, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(NonRetryableError);
  expect(error.message).toMatch(/HTTP 400.*not found: NOPE/);
});

test('no key configured: a NonRetryableError naming the variable', async () => {
  const td = createTwelveDataClient({ baseUrl: server.url, env: {} });
  await expect(td.timeSeries({ symbols: ['AAPL'], ...year2020 })).rejects.toThrow(/TWELVE_DATA_API_KEY is not set/);
});

test('base URL and key come from the environment', async () => {
  const td = createTwelveDataClient({ env: { TWELVE_DATA_BASE_URL: `${server.url}/`, TWELVE_DATA_API_KEY: KEY } });
  expect(td.baseUrl).toBe(server.url);
  await expect(td.timeSeries({ symbols: ['DIS'], ...year2020 })).resolves.toBeTruthy();
});

test('parseTimeSeries: an error body with HTTP 200 for the whole request is not mistaken for data', () => {
  expect(() => parseTimeSeries({ code: 500, message: 'internal', status: 'error' }, ['AAPL', 'DIS'])).toThrow(/Twelve Data error 500/);
  expect(parseTimeSeries({ AAPL: { meta: { symbol: 'AAPL', interval: '1day' }, values: [], status: 'ok' } }, ['AAPL', 'DIS']).errors.DIS!.message).toMatch(/missing/);
});

test('regression (docker-compose passes TWELVE_DATA_BASE_URL as ""): a blank variable counts as unset; a bad URL names its variable', async () => {
  expect(createTwelveDataClient({ env: { TWELVE_DATA_BASE_URL: '', TWELVE_DATA_API_KEY: '  ' } }).baseUrl).toBe('https://api.twelvedata.com');
  expect(createTwelveDataClient({ env: { TWELVE_DATA_BASE_URL: ` ${server.url}/ ` } }).baseUrl).toBe(server.url);
  // A blank key is no key: the task says which variable to set, and is not retried.
  const noKey = await createTwelveDataClient({ env: { TWELVE_DATA_BASE_URL: server.url, TWELVE_DATA_API_KEY: '' } }).timeSeries({ symbols: ['AAPL'], ...year2020 }).catch((e: unknown) => e);
  expect(noKey).toBeInstanceOf(NonRetryableError);
  expect((noKey as Error).message).toMatch(/^TWELVE_DATA_API_KEY is not set/);
  const bad = (() => { try { createTwelveDataClient({ env: { TWELVE_DATA_BASE_URL: 'localhost:8787' } }); } catch (e) { return e; } })();
  expect(bad).toBeInstanceOf(NonRetryableError);
  expect((bad as Error).message).toBe('TWELVE_DATA_BASE_URL="localhost:8787" is not an http or https URL (e.g. https://api.example.com)');
});
