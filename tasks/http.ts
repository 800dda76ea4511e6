/**
 * HTTP extraction building blocks, one entry point: the retrying client
 * (./http/client.ts), pagination (./http/pagination.ts) and the OAuth2
 * refresh-token client (./http/oauth2.ts).
 *
 * ```ts
 * const http = createHttpClient({ baseURL: 'https://api.example.com', retries: 4, log: ctx.log });
 * const { data } = await http.get('/items', { params: { apikey }, signal: ctx.signal });
 * for await (const page of paginateOffset({ pageSize: 100, fetchPage: (start, size) => fetchItems(start, size) })) { ... }
 * ```
 */
export * from './http/client.ts';
export * from './http/pagination.ts';
export * from './http/oauth2.ts';
