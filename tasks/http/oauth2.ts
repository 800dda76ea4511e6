/**
 * An OAuth2 refresh-token client for HTTP extraction: access tokens fetched and
 * refreshed as they expire, a rotated refresh token handed to the caller to persist,
 * every token registered as a secret.
 */
import { AxiosHeaders, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { NonRetryableError, WeirError } from '../../runtime/errors.ts';
import { redact, registerSecret } from '../../runtime/redact.ts';
import type { TaskContext } from '../../runtime/authoring/dag.ts';
import { HttpRejectedError, createHttpClient, type HttpClient, type HttpLogger } from './client.ts';

export interface OAuth2ClientOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** The refresh token; or leave it out and give `refreshTokenSecret`. */
  refreshToken?: string;
  /**
   * Keep the refresh token in weir's secrets store (`weir secrets set NAME`): each refresh
   * takes the secret's lock, reads the stored token, and writes the rotated one before it
   * lets go — so two tries (on any workers) refreshing at once take turns and the second
   * uses the token the first was given, never a replaced one (Intuit: always use the
   * latest refresh token).
   */
  refreshTokenSecret?: { name: string; ctx: Pick<TaskContext, 'secret' | 'setSecret' | 'withSecretLock'> };
  /** How the client authenticates to the token endpoint. Default `basic` (HTTP Basic, as QuickBooks wants). */
  clientAuth?: 'basic' | 'body';
  /**
   * Where the access token is kept between clients: pass one object kept at module level
   * and the tries that run in the same isolate reuse a token until it expires, instead of
   * each refreshing (and rotating the refresh token). Default: this client only.
   */
  tokenCache?: { accessToken?: string; expiresAt?: number };
  /** Refresh this long before the access token expires. Default 60 000 ms. */
  expiryMarginMs?: number;
  /** Called when the server rotates the refresh token (QuickBooks does): persist it, the old one dies. */
  onRefreshToken?: (refreshToken: string) => void | Promise<void>;
  /** Client used for the API calls and the token endpoint. Default `createHttpClient()`. */
  http?: HttpClient;
  log?: HttpLogger;
}

interface TokenResponse {
  access_token?: string;
  expires_in?: number | string;
  refresh_token?: string;
  token_type?: string;
}

/**
 * Calls an OAuth2-protected API with a refresh token: gets an access token when it has
 * none or it is about to expire, and on a 401 refreshes once and retries the call once.
 * Every token is registered as a secret, so no log line or error can show it.
 */
export class OAuth2Client {
  readonly #options: OAuth2ClientOptions;
  readonly #http: HttpClient;
  #refreshToken: string | undefined;
  readonly #cache: { accessToken?: string; expiresAt?: number };
  #inflight: Promise<string> | undefined;

  constructor(options: OAuth2ClientOptions) {
    this.#options = options;
    this.#http = options.http ?? createHttpClient({ log: options.log });
    if (!options.refreshToken && !options.refreshTokenSecret) throw new WeirError('oauth_no_refresh_token', 'OAuth2Client needs refreshToken or refreshTokenSecret');
    this.#refreshToken = options.refreshToken;
    this.#cache = options.tokenCache ?? {};
    registerSecret(options.clientSecret);
    registerSecret(options.refreshToken);
  }

  /** A valid access token, refreshed when missing or within `expiryMarginMs` of expiry. */
  async accessToken(signal?: AbortSignal): Promise<string> {
    const margin = this.#options.expiryMarginMs ?? 60_000;
    if (this.#cache.accessToken && Date.now() < (this.#cache.expiresAt ?? 0) - margin) return this.#cache.accessToken;
    return this.refresh(signal);
  }

  /** Force a refresh; concurrent callers share one token request. */
  refresh(signal?: AbortSignal): Promise<string> {
    this.#inflight ??= this.#refresh(signal).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #refresh(signal?: AbortSignal): Promise<string> {
    const store = this.#options.refreshTokenSecret;
    if (!store) return this.#exchange(signal);
    return store.ctx.withSecretLock(store.name, async () => {
      this.#refreshToken = await store.ctx.secret(store.name);
      return this.#exchange(signal, (token) => store.ctx.setSecret(store.name, token));
    });
  }

  /** One refresh-token grant; a rotated refresh token is handed to `persist` and `onRefreshToken`. */
  async #exchange(signal?: AbortSignal, persist?: (refreshToken: string) => Promise<void>): Promise<string> {
    const o = this.#options;
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.#refreshToken! });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if ((o.clientAuth ?? 'basic') === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${o.clientId}:${o.clientSecret}`).toString('base64')}`;
    } else {
      form.set('client_id', o.clientId);
      form.set('client_secret', o.clientSecret);
    }
    let data: TokenResponse;
    try {
      ({ data } = await this.#http.post<TokenResponse>(o.tokenUrl, form.toString(), { headers, signal }));
    } catch (err) {
      if (err instanceof HttpRejectedError) {
        const how = o.refreshTokenSecret ? ` with \`weir secrets set ${o.refreshTokenSecret.name}\`` : '';
        throw new NonRetryableError(`${err.message} — the OAuth2 refresh token or client credentials were refused; re-authorise the app and store the new refresh token${how}`);
      }
      throw err;
    }
    if (!data || typeof data.access_token !== 'string' || !data.access_token) {
      throw new WeirError('oauth_bad_token_response', `token endpoint ${redact(o.tokenUrl)} answered without an access_token`);
    }
    registerSecret(data.access_token);
    const expiresInS = Number(data.expires_in ?? 3600);
    this.#cache.accessToken = data.access_token;
    this.#cache.expiresAt = Date.now() + (Number.isFinite(expiresInS) ? expiresInS : 3600) * 1000;
    if (data.refresh_token && data.refresh_token !== this.#refreshToken) {
      registerSecret(data.refresh_token);
      this.#refreshToken = data.refresh_token;
      await persist?.(data.refresh_token);
      await o.onRefreshToken?.(data.refresh_token);
    }
    o.log?.info?.('oauth2 access token refreshed', { expiresInS });
    return data.access_token;
  }

  /** An authorised request; a 401 triggers one refresh and one retry. */
  async request<T = unknown>(config: AxiosRequestConfig): Promise<AxiosResponse<T>> {
    const signal = config.signal as AbortSignal | undefined;
    const withToken = (token: string): AxiosRequestConfig => {
      const headers = AxiosHeaders.from((config.headers ?? {}) as Record<string, string>);
      headers.set('authorization', `Bearer ${token}`);
      return { ...config, headers };
    };
    const token = await this.accessToken(signal);
    try {
      return await this.#http.request<T>(withToken(token));
    } catch (err) {
      if (!(err instanceof HttpRejectedError) || err.status !== 401) throw err;
      // The token was revoked or expired early: one refresh, one retry, then give up.
      this.#options.log?.warn('oauth2 access token rejected (401), refreshing once', {});
      const fresh = await this.refresh(signal);
      return this.#http.request<T>(withToken(fresh));
    }
  }

  get<T = unknown>(url: string, config: AxiosRequestConfig = {}): Promise<AxiosResponse<T>> {
    return this.request<T>({ ...config, method: 'get', url });
  }
}
