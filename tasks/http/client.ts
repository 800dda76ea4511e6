/**
 * HTTP extraction building blocks on axios + axios-retry: a client that retries
 * what is worth retrying (network errors, 5xx, 429) with exponential backoff and
 * jitter, honours `Retry-After` up to a cap, never retries a request the server
 * rejected (400/401/403/404), and throws errors with secrets already redacted.
 * Pagination (./pagination.ts) and the OAuth2 refresh-token client (./oauth2.ts)
 * build on it; `tasks/http.ts` exports all three.
 *
 * ```ts
 * const http = createHttpClient({ baseURL: 'https://api.example.com', retries: 4, log: ctx.log });
 * const { data } = await http.get('/items', { params: { apikey }, signal: ctx.signal });
 * for await (const page of paginateOffset({ pageSize: 100, fetchPage: (start, size) => fetchItems(start, size) })) { ... }
 * ```
 */
import axios, { AxiosError } from 'axios';
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import axiosRetry from 'axios-retry';
import { NonRetryableError, WeirError, toError } from '../../runtime/errors.ts';
import { redact } from '../../runtime/redact.ts';

/** The subset of a task logger the HTTP helpers write to (`ctx.log` fits). */
export interface HttpLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  info?(msg: string, fields?: Record<string, unknown>): void;
}

export interface HttpClientOptions {
  baseURL?: string;
  /** Retries after the first attempt, inside one task try. Default 4. */
  retries?: number;
  /** Backoff before the first retry; doubles on every retry, with jitter. Default 500 ms. */
  baseDelayMs?: number;
  /** Cap of the computed backoff. Default 30 000 ms. */
  maxDelayMs?: number;
  /**
   * Longest `Retry-After` honoured. A server asking for more fails the request at once
   * (code `retry_after_too_long`) instead of parking the worker: axios-retry without a
   * cap waited 4,144 s on `Retry-After: 3600` (issue 3). Default 60 000 ms.
   */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout. Default 30 000 ms. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Where retries are reported. Default: nowhere. */
  log?: HttpLogger;
  /**
   * The HTTP status a response stands for. APIs that report errors inside a 200 body
   * (Twelve Data's `{"status":"error","code":429}`) map them here so that they are
   * retried, or rejected, like the real status. Default: `response.status`.
   */
  responseStatus?: (response: AxiosResponse) => number;
}

/** Statuses that are never retried: the request itself is wrong and will stay wrong. */
const NEVER_RETRY = new Set([400, 401, 403, 404]);

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** A request that failed after its retries, or was refused a retry; the task may retry later. */
export class HttpError extends WeirError {
  /** Effective HTTP status, undefined for network errors. */
  readonly status: number | undefined;
  /** The `Retry-After` the server asked for, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, status?: number, retryAfterMs?: number) {
    super(code, message);
    this.name = 'HttpError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The server rejected the request (4xx other than 408/429): retrying cannot help, the task fails now. */
export class HttpRejectedError extends NonRetryableError {
  readonly status: number;
  readonly code = 'http_rejected';
  constructor(message: string, status: number) {
    super(message);
    this.name = 'HttpRejectedError';
    this.status = status;
  }
}

/**
 * `Retry-After` in ms: delay-seconds or an HTTP date. Undefined when absent or unreadable.
 * Fractional seconds are accepted (non-standard, but harmless and handy in tests).
 */
export function parseRetryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many clients spread out. */
export function backoffDelayMs(retryNumber: number, baseDelayMs: number, maxDelayMs: number): number {
  const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

// Set on an AxiosError by retryCondition when its Retry-After exceeded the cap.
const RETRY_AFTER_REFUSED = Symbol('weir.retryAfterRefused');

function describeRequest(config: AxiosRequestConfig | undefined): string {
  if (!config) return 'request';
  let uri: string;
  try {
    uri = axios.getUri(config);
  } catch {
    uri = String(config.url ?? '');
  }
  return redact(`${(config.method ?? 'get').toUpperCase()} ${uri}`);
}

function bodySnippet(data: unknown): string {
  if (data === undefined || data === null || data === '') return '';
  let text: string;
  if (typeof data === 'string') text = data;
  else if (Buffer.isBuffer(data)) text = data.toString('utf8');
  else {
    try {
      text = JSON.stringify(data);
    } catch {
      text = String(data);
    }
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * Turn whatever axios threw into a weir error whose message names the request
 * (secrets redacted) and what went wrong. The axios error is NOT kept as `cause`:
 * its config carries the API key and the headers carry tokens.
 */
export function toHttpError(thrown: unknown, responseStatus?: (r: AxiosResponse) => number, signal?: AbortSignal): Error {
  if (!(thrown instanceof AxiosError)) {
    const error = toError(thrown);
    if (error instanceof WeirError || error instanceof NonRetryableError) return error;
    return new WeirError('http_failed', redact(error.message));
  }
  const err = thrown;
  const what = describeRequest(err.config);
  const retries = (err.config?.['axios-retry'] as { retryCount?: number } | undefined)?.retryCount ?? 0;
  const after = retries > 0 ? ` after ${retries} ${retries === 1 ? 'retry' : 'retries'}` : '';
  if (axios.isCancel(err) || err.code === 'ERR_CANCELED' || signal?.aborted) {
    return new WeirError('aborted', `${what} was aborted${signal?.reason ? `: ${redact(toError(signal.reason).message)}` : ''}`);
  }
  if (!err.response) {
    return new HttpError('http_network', redact(`${what} failed${after}: ${err.code ?? 'network error'} ${err.message}`.trim()));
  }
  const status = responseStatus ? responseStatus(err.response) : err.response.status;
  const body = bodySnippet(err.response.data);
  const detail = redact(`${what} answered HTTP ${status}${status !== err.response.status ? ` (in an HTTP ${err.response.status} body)` : ''}${after}${body ? `: ${body}` : ''}`);
  const retryAfterMs = parseRetryAfterMs(err.response.headers?.['retry-after']);
  const refused = (err as unknown as Record<symbol, number | undefined>)[RETRY_AFTER_REFUSED];
  if (refused !== undefined) {
    return new HttpError(
      'retry_after_too_long',
      `${detail} — the server asked to wait ${Math.round(refused / 1000)} s (Retry-After), longer than maxRetryAfterMs; not waiting in-process: the task fails and retries on its own schedule`,
      status,
      refused,
    );
  }
  if (isRetryableStatus(status)) return new HttpError('http_status', detail, status, retryAfterMs);
  return new HttpRejectedError(`${detail} — not retried: the request itself was rejected`, status);
}

/** A configured axios instance plus `request`/`get`/`post` that throw redacted weir errors. */
export interface HttpClient {
  readonly axios: AxiosInstance;
  request<T = unknown>(config: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  get<T = unknown>(url: string, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  post<T = unknown>(url: string, data?: unknown, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
}

/**
 * An HTTP client for extraction. Retries network errors, 408, 429 and 5xx up to
 * `retries` times (default 4) with exponential backoff + jitter (500 ms doubling, capped
 * at 30 s), waits `Retry-After` when sent (up to `maxRetryAfterMs`, default 60 s), never
 * retries other 4xx. Pass `signal` per request to abort, backoff waits included.
 */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const retries = options.retries ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const effective = options.responseStatus ?? ((r: AxiosResponse) => r.status);
  const instance = axios.create({
    baseURL: options.baseURL,
    timeout: options.timeoutMs ?? 30_000,
    headers: options.headers,
  });
  axiosRetry(instance, {
    retries,
    // Timeouts per attempt, not for the whole retried sequence.
    shouldResetTimeout: true,
    validateResponse: (response) => {
      const status = effective(response);
      return status >= 200 && status < 300;
    },
    retryCondition: (error) => {
      if (error.code === 'ERR_CANCELED' || error.config?.signal?.aborted) return false;
      if (!error.response) return error.code !== 'ERR_CANCELED';
      const status = effective(error.response);
      if (NEVER_RETRY.has(status) || !isRetryableStatus(status)) return false;
      const retryAfterMs = parseRetryAfterMs(error.response.headers?.['retry-after']);
      if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
        (error as unknown as Record<symbol, number>)[RETRY_AFTER_REFUSED] = retryAfterMs;
        return false;
      }
      return true;
    },
    retryDelay: (retryCount, error) => {
      const retryAfterMs = parseRetryAfterMs(error.response?.headers?.['retry-after']);
      if (retryAfterMs !== undefined) return retryAfterMs;
      return backoffDelayMs(retryCount, baseDelayMs, maxDelayMs);
    },
    onRetry: (retryCount, error, config) => {
      options.log?.warn('http request failed, retrying', {
        request: describeRequest(config),
        attempt: retryCount + 1,
        status: error.response ? effective(error.response) : undefined,
        error: error.response ? undefined : redact(`${error.code ?? ''} ${error.message}`.trim()),
      });
    },
  });
  const request = async <T>(config: AxiosRequestConfig): Promise<AxiosResponse<T>> => {
    try {
      return await instance.request<T>(config);
    } catch (thrown) {
      throw toHttpError(thrown, effective, config.signal as AbortSignal | undefined);
    }
  };
  return {
    axios: instance,
    request,
    get: (url, config = {}) => request({ ...config, method: 'get', url }),
    post: (url, data, config = {}) => request({ ...config, method: 'post', url, data }),
  };
}
