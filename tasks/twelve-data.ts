/**
 * Twelve Data `GET /time_series` client for the stock_prices DAG. Handles what real
 * clients get wrong: every number is a string; the newest bar comes first; a batch
 * response is keyed by symbol and one symbol may carry its own error while others
 * succeed, whereas a single-symbol response is not keyed at all; errors arrive with
 * HTTP 200 or a real 4xx, so the body's `status` decides; 429 (HTTP or in the body)
 * means the per-minute credits ran out and is retried.
 *
 * ```ts
 * const td = createTwelveDataClient({ log: ctx.log });   // TWELVE_DATA_BASE_URL, TWELVE_DATA_API_KEY
 * const { bars, errors } = await td.timeSeries({ symbols: ['AAPL', 'AMZN'], startDate: '2020-01-01', endDate: '2021-01-01', signal: ctx.signal });
 * ```
 */
import type { AxiosResponse } from 'axios';
import { NonRetryableError, WeirError } from '../runtime/errors.ts';
import { redact, registerSecret } from '../runtime/redact.ts';
import { envSetting, envUrl } from '../runtime/env.ts';
import { HttpError, HttpRejectedError, createHttpClient } from './http.ts';
import type { HttpClient, HttpClientOptions } from './http.ts';

/** The public API; used when `TWELVE_DATA_BASE_URL` is not set. */
export const TWELVE_DATA_DEFAULT_BASE_URL = 'https://api.twelvedata.com';

/** One bar as Twelve Data sends it: every field a string. */
export interface RawBar {
  datetime: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume?: string;
}

export interface TimeSeriesMeta {
  symbol: string;
  interval: string;
  currency?: string;
  exchange_timezone?: string;
  exchange?: string;
  mic_code?: string;
  type?: string;
}

/** A per-symbol error from a batch response. */
export interface SymbolError {
  code: number;
  message: string;
}

export interface TimeSeriesResult {
  /** Bars per symbol, as received (newest first, strings). A symbol with no bars in range has `[]`. */
  bars: Record<string, RawBar[]>;
  meta: Record<string, TimeSeriesMeta>;
  /** Symbols that failed on their own while others succeeded. */
  errors: Record<string, SymbolError>;
}

export interface TimeSeriesRequest {
  symbols: string[];
  /** `YYYY-MM-DD`, inclusive. */
  startDate: string;
  /** `YYYY-MM-DD`; exclusive for daily bars (the API's own rule). */
  endDate: string;
  /** Default `1day`. */
  interval?: string;
  signal?: AbortSignal;
}

export interface TwelveDataClientOptions extends Omit<HttpClientOptions, 'baseURL' | 'responseStatus'> {
  /** Default: `TWELVE_DATA_BASE_URL`, else the public API. */
  baseUrl?: string;
  /** Default: `TWELVE_DATA_API_KEY`. */
  apiKey?: string;
  env?: NodeJS.ProcessEnv;
}

export interface TwelveDataClient {
  readonly baseUrl: string;
  timeSeries(request: TimeSeriesRequest): Promise<TimeSeriesResult>;
}

interface ErrorBody {
  status: 'error';
  code?: number;
  message?: string;
}

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && (value as { status?: unknown }).status === 'error';
}

function isSeries(value: unknown): value is { meta: TimeSeriesMeta; values: RawBar[] } {
  return typeof value === 'object' && value !== null && Array.isArray((value as { values?: unknown }).values);
}

// "No data is available on the specified dates": a weekend or holiday window, not a failure.
function isNoData(body: ErrorBody): boolean {
  return (body.code === 400 || body.code === 404) && /no data is available/i.test(body.message ?? '');
}

/** The status a Twelve Data response stands for: the body's `code` when it says `status: "error"`. */
export function twelveDataStatus(response: AxiosResponse): number {
  const body = response.data;
  if (isErrorBody(body) && typeof body.code === 'number' && body.code >= 400) return body.code;
  return response.status;
}

/** TWELVE_DATA_BASE_URL; one that is not a URL fails the try for good (retrying cannot fix configuration). */
function configuredBaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return envUrl('TWELVE_DATA_BASE_URL', env, ['http:', 'https:']);
  } catch (err) {
    throw new NonRetryableError((err as Error).message);
  }
}

/**
 * A Twelve Data client. Retries 429/5xx/network errors (default 4 retries, backoff from
 * 500 ms, Retry-After honoured up to 60 s); an invalid key (401) or a bad request (400)
 * throws `NonRetryableError`; a malformed body throws a retryable `WeirError`.
 */
export function createTwelveDataClient(options: TwelveDataClientOptions = {}): TwelveDataClient {
  const env = options.env ?? process.env;
  // Blank counts as unset (docker-compose passes `${TWELVE_DATA_BASE_URL:-}` through); a bad URL names its variable.
  const baseUrl = (options.baseUrl ?? configuredBaseUrl(env) ?? TWELVE_DATA_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const apiKey = options.apiKey ?? envSetting('TWELVE_DATA_API_KEY', env);
  registerSecret(apiKey);
  const http: HttpClient = createHttpClient({ ...options, baseURL: baseUrl, responseStatus: twelveDataStatus });

  async function timeSeries(request: TimeSeriesRequest): Promise<TimeSeriesResult> {
    if (!apiKey) {
      throw new NonRetryableError('TWELVE_DATA_API_KEY is not set: get a key at https://twelvedata.com (or point TWELVE_DATA_BASE_URL at the local dev server, which accepts "demo")');
    }
    const symbols = [...new Set(request.symbols.map((s) => s.trim().toUpperCase()).filter(Boolean))];
    if (symbols.length === 0) throw new NonRetryableError('twelve data: no symbols to fetch');
    let response: AxiosResponse<unknown>;
    try {
      response = await http.get<unknown>('/time_series', {
        params: {
          symbol: symbols.join(','),
          interval: request.interval ?? '1day',
          start_date: request.startDate,
          end_date: request.endDate,
          apikey: apiKey,
        },
        signal: request.signal,
      });
    } catch (err) {
      if (err instanceof HttpRejectedError) {
        if (err.status === 401 || err.status === 403) {
          throw new NonRetryableError(`Twelve Data rejected the API key (HTTP ${err.status}); check TWELVE_DATA_API_KEY. ${err.message}`);
        }
        if (err.status === 400 && symbols.length === 1 && /no data is available/i.test(err.message)) {
          return { bars: { [symbols[0]!]: [] }, meta: {}, errors: {} };
        }
        throw new NonRetryableError(`Twelve Data rejected the request (HTTP ${err.status}). ${err.message}`);
      }
      if (err instanceof HttpError && err.status === 429) {
        throw new HttpError(err.code, `Twelve Data per-minute API credits are used up (429); the task will retry. ${err.message}`, 429, err.retryAfterMs);
      }
      throw err;
    }
    return parseTimeSeries(response.data, symbols);
  }

  return { baseUrl, timeSeries };
}

/**
 * Normalise a `/time_series` body into bars, meta and per-symbol errors. Accepts the
 * single-symbol shape (`{meta, values, status}`) and the batch shape (keyed by symbol).
 * A string body means the JSON did not parse: a retryable error.
 */
export function parseTimeSeries(body: unknown, symbols: string[]): TimeSeriesResult {
  if (typeof body === 'string' || body === null || typeof body !== 'object') {
    const snippet = typeof body === 'string' ? body.slice(0, 120) : String(body);
    throw new WeirError('malformed_response', redact(`Twelve Data answered a body that is not the expected JSON (will retry): ${JSON.stringify(snippet)}`));
  }
  const result: TimeSeriesResult = { bars: {}, meta: {}, errors: {} };
  if (isErrorBody(body)) {
    if (isNoData(body) && symbols.length === 1) {
      result.bars[symbols[0]!] = [];
      return result;
    }
    // A top-level error that got past HTTP status mapping (e.g. a code we do not know).
    throw new WeirError('twelve_data_error', redact(`Twelve Data error ${body.code ?? '?'}: ${body.message ?? 'no message'}`));
  }
  const entries: [string, unknown][] = isSeries(body)
    ? [[(body.meta?.symbol ?? symbols[0] ?? '').toUpperCase(), body]]
    : Object.entries(body as Record<string, unknown>);
  for (const [key, value] of entries) {
    const symbol = key.toUpperCase();
    if (isErrorBody(value)) {
      if (isNoData(value)) result.bars[symbol] = [];
      else result.errors[symbol] = { code: Number(value.code ?? 0), message: redact(String(value.message ?? 'unknown error')) };
    } else if (isSeries(value)) {
      result.bars[symbol] = value.values;
      if (value.meta) result.meta[symbol] = value.meta;
    } else {
      throw new WeirError('malformed_response', `Twelve Data answered an unexpected shape for "${symbol}" (neither a series nor an error); will retry`);
    }
  }
  for (const symbol of symbols) {
    if (!(symbol in result.bars) && !(symbol in result.errors)) {
      result.errors[symbol] = { code: 0, message: 'symbol missing from the response' };
    }
  }
  return result;
}
