/**
 * tasks/http.ts against real local HTTP servers: retries on 5xx/429/network errors,
 * Retry-After honoured and capped, 4xx never retried, abort, secrets redacted,
 * offset and cursor pagination, the OAuth2 refresh-token client.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NonRetryableError } from '../runtime/errors.ts';
import { HttpError, HttpRejectedError, OAuth2Client, createHttpClient, paginateCursor, paginateOffset, parseRetryAfterMs } from '../tasks/http.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

async function serve(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => handler(req, res, new URL(req.url ?? '/', 'http://127.0.0.1')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const fast = { baseDelayMs: 5, maxDelayMs: 20 };

describe('retries', () => {
  test('5xx twice, then success: three requests, one result', async () => {
    let n = 0;
    const s = await serve((_req, res) => (++n <= 2 ? json(res, 503, { error: 'busy' }) : json(res, 200, { ok: true })));
    try {
      const client = createHttpClient({ baseURL: s.url, ...fast });
      const { data } = await client.get('/x');
      expect(data).toEqual({ ok: true });
      expect(n).toBe(3);
    } finally {
      await s.close();
    }
  });

  test('429 with Retry-After in seconds is waited for', async () => {
    let n = 0;
    const s = await serve((_req, res) => (++n === 1 ? json(res, 429, {}, { 'retry-after': '0.3' }) : json(res, 200, { ok: true })));
    try {
      const started = Date.now();
      await createHttpClient({ baseURL: s.url, ...fast }).get('/x');
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
      expect(n).toBe(2);
    } finally {
      await s.close();
    }
  });

  test('Retry-After as an HTTP date is understood', () => {
    const now = Date.parse('2024-05-01T00:00:00Z');
    expect(parseRetryAfterMs('Wed, 01 May 2024 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfterMs('120', now)).toBe(120_000);
    expect(parseRetryAfterMs('Tue, 30 Apr 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
  });

  test('regression (axios-retry waited 4,144 s): Retry-After over the cap fails at once with a clear error', async () => {
    let n = 0;
    const s = await serve((_req, res) => { n++; json(res, 429, { message: 'slow down' }, { 'retry-after': '3600' }); });
    try {
      const error = await createHttpClient({ baseURL: s.url, ...fast, maxRetryAfterMs: 1000 }).get('/x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).code).toBe('retry_after_too_long');
      expect((error as HttpError).retryAfterMs).toBe(3_600_000);
      expect((error as Error).message).toMatch(/3600 s.*maxRetryAfterMs/);
      // Not waited for: one request, and the error at once (this test's own timeout is 5 s, not 3,600).
      expect(n).toBe(1);
    } finally {
      await s.close();
    }
  });

  test.each([400, 401, 403, 404])('HTTP %i is never retried and is a NonRetryableError', async (status) => {
    let n = 0;
    const s = await serve((_req, res) => { n++; json(res, status, { error: 'no' }); });
    try {
      const error = await createHttpClient({ baseURL: s.url, ...fast }).get('/x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpRejectedError);
      expect(error).toBeInstanceOf(NonRetryableError);
      expect((error as HttpRejectedError).status).toBe(status);
      expect(n).toBe(1);
    } finally {
      await s.close();
    }
  });

  test('network errors are retried, then reported', async () => {
    const s = await serve(() => {});
    const url = s.url;
    await s.close(); // nothing listens there now: connection refused
    const retried: number[] = [];
    const error = await createHttpClient({ baseURL: url, ...fast, retries: 2, log: { warn: (_m, f) => retried.push(f?.attempt as number) } })
      .get('/x')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe('http_network');
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).toMatch(/after 2 retries/);
    expect(retried).toEqual([2, 3]);
  });

  test('the API key never appears in errors or retry logs', async () => {
    const s = await serve((_req, res) => json(res, 500, { error: 'boom' }));
    const lines: string[] = [];
    try {
      const error = await createHttpClient({ baseURL: s.url, ...fast, retries: 1, log: { warn: (m, f) => lines.push(m + JSON.stringify(f)) } })
        .get('/time_series', { params: { apikey: 'sk-live-7f3a9c21' } })
        .then(() => new Error('expected a failure') as Error, (e: unknown) => e as Error);
      expect(error.message).toContain('apikey=***');
      expect(error.message).not.toContain('sk-live-7f3a9c21');
      expect(JSON.stringify(error)).not.toContain('sk-live-7f3a9c21');
      expect(error.cause).toBeUndefined();
      expect(lines.length).toBe(1);
      expect(lines.join('\n')).not.toContain('sk-live-7f3a9c21');
    } finally {
      await s.close();
    }
  });

  test('an AbortSignal stops a request in flight', async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const s = await serve(() => arrived()); // never answers
    try {
      const controller = new AbortController();
      const pending = createHttpClient({ baseURL: s.url, ...fast }).get('/x', { signal: controller.signal }).catch((e: unknown) => e);
      await arrival;
      controller.abort(new Error('task timed out'));
      const error = (await pending) as Error & { code?: string };
      expect(error.code).toBe('aborted');
      expect(error.message).toMatch(/aborted: task timed out/);
    } finally {
      await s.close();
    }
  });
});

describe('pagination', () => {
  const items = Array.from({ length: 45 }, (_, i) => ({ Id: String(i + 1) }));

  test('offset: pages until a short page (STARTPOSITION / MAXRESULTS style)', async () => {
    const asked: string[] = [];
    const s = await serve((_req, res, url) => {
      const start = Number(url.searchParams.get('startPosition'));
      const max = Number(url.searchParams.get('maxResults'));
      asked.push(`${start}/${max}`);
      json(res, 200, { QueryResponse: { Invoice: items.slice(start - 1, start - 1 + max), startPosition: start, maxResults: max } });
    });
    try {
      const client = createHttpClient({ baseURL: s.url, ...fast });
      const pages: number[] = [];
      for await (const page of paginateOffset({
        pageSize: 20,
        fetchPage: async (startPosition, maxResults) =>
          (await client.get<{ QueryResponse: { Invoice?: { Id: string }[] } }>('/query', { params: { startPosition, maxResults } })).data.QueryResponse.Invoice ?? [],
      })) pages.push(page.length);
      expect(pages).toEqual([20, 20, 5]);
      expect(asked).toEqual(['1/20', '21/20', '41/20']);
    } finally {
      await s.close();
    }
  });

  test('offset: an exact multiple ends on an empty page', async () => {
    const data = items.slice(0, 40);
    const pages: number[] = [];
    for await (const page of paginateOffset({ pageSize: 20, fetchPage: async (p, n) => data.slice(p - 1, p - 1 + n) })) pages.push(page.length);
    expect(pages).toEqual([20, 20]);
  });

  test('cursor: follows next links until there is none', async () => {
    const s = await serve((_req, res, url) => {
      const page = Number(url.searchParams.get('page') ?? '1');
      const slice = items.slice((page - 1) * 20, page * 20);
      json(res, 200, { data: slice, next: page * 20 < items.length ? `/items?page=${page + 1}` : null });
    });
    try {
      const client = createHttpClient({ baseURL: s.url, ...fast });
      const ids: string[] = [];
      for await (const page of paginateCursor<{ Id: string }>({
        fetchPage: async (next) => {
          const { data } = await client.get<{ data: { Id: string }[]; next: string | null }>(next ?? '/items');
          return { items: data.data, next: data.next };
        },
      })) ids.push(...page.map((i) => i.Id));
      expect(ids).toEqual(items.map((i) => i.Id));
    } finally {
      await s.close();
    }
  });

  test('cursor: a repeated cursor is an error, not an endless loop', async () => {
    const walk = async () => {
      for await (const _ of paginateCursor({ fetchPage: async () => ({ items: [1], next: 'same' }) })) void _;
    };
    await expect(walk()).rejects.toThrow(/returned cursor "same" twice/);
  });
});

describe('OAuth2 refresh-token client', () => {
  test('refreshes on first use, on a 401 once, rotates the refresh token, never shows a token', async () => {
    const refreshTokensSeen: string[] = [];
    let issued = 0;
    let revokeNext = true;
    const s = await serve((req, res, url) => {
      if (url.pathname === '/token') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          const form = new URLSearchParams(body);
          expect(req.headers.authorization).toBe(`Basic ${Buffer.from('client-id:client-secret-xyz').toString('base64')}`);
          refreshTokensSeen.push(form.get('refresh_token')!);
          issued++;
          json(res, 200, { access_token: `access-token-${issued}-abcdef`, expires_in: 3600, refresh_token: `refresh-token-${issued}-abcdef`, token_type: 'bearer' });
        });
        return;
      }
      const auth = req.headers.authorization ?? '';
      if (auth === 'Bearer access-token-1-abcdef' && revokeNext) {
        revokeNext = false;
        return json(res, 401, { fault: 'token revoked' });
      }
      if (!auth.startsWith('Bearer access-token-')) return json(res, 401, { fault: 'no token' });
      json(res, 200, { auth });
    });
    try {
      const rotated: string[] = [];
      const client = new OAuth2Client({
        tokenUrl: `${s.url}/token`,
        clientId: 'client-id',
        clientSecret: 'client-secret-xyz',
        refreshToken: 'refresh-token-0-abcdef',
        http: createHttpClient({ ...fast }),
        onRefreshToken: (t) => void rotated.push(t),
      });
      const first = await client.get<{ auth: string }>(`${s.url}/api`);
      expect(first.data.auth).toBe('Bearer access-token-2-abcdef');
      expect(refreshTokensSeen).toEqual(['refresh-token-0-abcdef', 'refresh-token-1-abcdef']);
      expect(rotated).toEqual(['refresh-token-1-abcdef', 'refresh-token-2-abcdef']);
      // Valid token cached: no new refresh.
      await client.get(`${s.url}/api`);
      expect(issued).toBe(2);
    } finally {
      await s.close();
    }
  });

  test('a refused refresh token is a NonRetryableError that names no secret', async () => {
    const s = await serve((_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'Token invalid' }));
    try {
      const client = new OAuth2Client({ tokenUrl: `${s.url}/token`, clientId: 'cid', clientSecret: 'very-secret-client', refreshToken: 'very-secret-refresh', clientAuth: 'body', http: createHttpClient(fast) });
      const error = await client.get(`${s.url}/api`).then(() => new Error('expected a failure') as Error, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(NonRetryableError);
      expect(error.message).toMatch(/invalid_grant.*re-authorise/);
      expect(error.message).not.toContain('very-secret');
    } finally {
      await s.close();
    }
  });
});
