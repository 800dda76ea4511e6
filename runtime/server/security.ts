/**
 * The server's guards, in the order a request meets them: a Host allowlist (DNS
 * rebinding), security headers with a CSP of 'self', authentication (a bearer token, or
 * the session cookie a login sets), a CSRF check of every state-changing request that a
 * cookie authenticates (Origin, Sec-Fetch-Site), and roles: viewers read, operators write.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type pg from 'pg';
import { canWrite, verifyToken, type Principal } from './tokens.ts';

export const SESSION_COOKIE = 'weir_session';

export type ServerEnv = { Variables: { principal: Principal; viaCookie: boolean } };

/** Paths served without a principal: the login, the token endpoint, version, health and the OpenAPI document, static files. */
const PUBLIC_PATHS = [/^\/login$/, /^\/auth\/token$/, /^\/api\/v2\/(version|monitor\/health|openapi\.json)$/, /^\/static\//];

export function problem(c: Context, status: 400 | 401 | 403 | 404 | 409 | 413 | 421 | 422 | 429, detail: string) {
  return c.json({ detail }, status);
}

/** Hosts a request may name: loopback names and the bound host on the server's port, and any configured. */
export function allowedHosts(host: string, port: number, extra: readonly string[]): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', host.includes(':') && !host.startsWith('[') ? `[${host}]` : host, ...extra]);
  return new Set([...names].flatMap((n) => (n.includes(':') && !n.startsWith('[') ? [n] : [n, `${n}:${port}`])));
}

export function hostGuard(allowed: Set<string>): MiddlewareHandler {
  return async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!allowed.has(host)) return problem(c, 421, `Host "${host}" is not one this server answers to (WEIR_SERVER_ALLOWED_HOSTS)`);
    await next();
  };
}

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    // A route may set a stricter policy of its own (artifacts are served sandboxed).
    if (!c.res.headers.has('Content-Security-Policy')) c.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts, and the CSRF check needs the origin.
    c.header('Referrer-Policy', 'same-origin');
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Cache-Control', c.res.headers.get('Cache-Control') ?? 'no-store');
  };
}

function bearer(c: Context): string | undefined {
  const h = c.req.header('authorization');
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

const isWrite = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);

/** The browser says the request comes from another site (Sec-Fetch-Site, or an Origin that is not this server's). */
export function crossSite(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  const origin = c.req.header('origin');
  return Boolean(site && site !== 'same-origin') || (origin !== undefined && origin !== new URL(c.req.url).origin);
}

/** A cookie-authenticated write must come from this origin, and the browser must say so in Origin or Sec-Fetch-Site. */
function sameOrigin(c: Context): boolean {
  return !crossSite(c) && (c.req.header('origin') !== undefined || c.req.header('sec-fetch-site') === 'same-origin');
}

/** `isApi`: paths answered like the API (a DAG's routes) besides /api/ and /metrics. */
export function authenticate(pool: pg.Pool, isApi: (path: string) => boolean = () => false): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    if (PUBLIC_PATHS.some((p) => p.test(c.req.path))) return next();
    const token = bearer(c);
    const cookie = token ? undefined : getCookie(c, SESSION_COOKIE);
    const principal = await verifyToken(pool, token ?? cookie);
    if (!principal) {
      // Machines (the API, Prometheus) get 401; browsers are sent to the login page.
      if (c.req.path.startsWith('/api/') || c.req.path === '/metrics' || token || isApi(c.req.path)) {
        c.header('WWW-Authenticate', 'Bearer');
        return problem(c, 401, 'not authenticated: send Authorization: Bearer <token> (weir tokens create, or POST /auth/token)');
      }
      return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
    }
    if (cookie && isWrite(c.req.method) && !sameOrigin(c)) return problem(c, 403, 'cross-origin request refused (CSRF): writes from the browser must come from this server\'s own pages');
    if (isWrite(c.req.method) && !canWrite(principal.role)) return problem(c, 403, `role ${principal.role} may only read; writes need an operator token`);
    c.set('principal', principal);
    c.set('viaCookie', Boolean(cookie));
    await next();
  };
}

/** At most `limit` requests per client address per window, for the login and token endpoints. */
export function rateLimit(limit: number, windowMs: number): MiddlewareHandler {
  const hits = new Map<string, { count: number; resetAt: number }>();
  return async (c, next) => {
    const now = Date.now();
    const key = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? 'local';
    let entry = hits.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + windowMs };
      hits.set(key, entry);
    }
    entry.count += 1;
    if (entry.count > limit) {
      c.header('Retry-After', String(Math.ceil((entry.resetAt - now) / 1000)));
      return problem(c, 429, 'too many login attempts; wait and try again');
    }
    await next();
  };
}
