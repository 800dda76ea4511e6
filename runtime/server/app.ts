/**
 * weir's server as one Hono app: the guards (./security.ts), the login and token
 * endpoints, the Airflow-compatible REST API (./api/v2.ts) with its OpenAPI document,
 * the live event stream (./events.ts) and the web UI (./ui/). Built from its
 * dependencies so tests drive it in-process with `app.request(...)`.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { setCookie, deleteCookie, getCookie } from 'hono/cookie';
import type pg from 'pg';
import { InputError, WeirError, toError } from '../errors.ts';
import { redact } from '../redact.ts';
import { logger } from '../log.ts';
import { WEIR_VERSION } from '../package/manifest.mjs';
import { registerV2, type ApiDeps } from './api/v2.ts';
import { authenticate, crossSite, hostGuard, problem, rateLimit, securityHeaders, SESSION_COOKIE, type ServerEnv } from './security.ts';
import { createToken, isAdminSecret, revokeToken, SESSION_SECONDS, verifyToken } from './tokens.ts';
import type { EventHub } from './events.ts';
import type { Metrics } from './metrics.ts';
import { registerEvents } from './events.ts';
import { isUserRoute, registerUserRoutes, userRoutePaths } from './api/user-routes.ts';
import { registerUi } from './ui/routes.ts';
import { errorPage } from './ui/layout.ts';

export interface AppDeps extends ApiDeps {
  pool: pg.Pool;
  /** The admin secret a login checks. */
  adminSecret: string;
  /** Host header values this server answers to. */
  allowedHosts: Set<string>;
  events: EventHub;
  /** Prometheus metrics (./metrics.ts); none: no /metrics. */
  metrics?: Metrics;
}

/** Params that fail their DAG's schema (engine/params.ts): a 422 naming the field. */
const PARAM_ERRORS = new Set(['invalid_params', 'unknown_param', 'unstorable_params']);

/** HTTP status of a deliberate error: bad params 422, unknown things 404, conflicts 409, other bad input 400. */
function statusOf(err: WeirError): 400 | 404 | 409 | 422 {
  if (PARAM_ERRORS.has(err.code)) return 422;
  if (err.code.startsWith('unknown_') || err.code === 'no_tries' || err.code === 'no_output') return 404;
  if (err.code === 'run_active' || err.code === 'run_exists' || err.code === 'token_exists') return 409;
  return 400;
}

export function buildApp(deps: AppDeps): OpenAPIHono<ServerEnv> {
  const app = new OpenAPIHono<ServerEnv>({
    // A request that fails its route's schema: Airflow's 422 with each field's location.
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = (result.error as { issues: { path: PropertyKey[]; message: string; code: string }[] }).issues;
      return c.json({ detail: issues.map((i) => ({ loc: [result.target, ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))], msg: i.message, type: i.code })) }, 422);
    },
  });
  app.use('*', hostGuard(deps.allowedHosts));
  app.use('*', securityHeaders());
  app.use('/auth/token', rateLimit(10, 60_000));
  app.use('/login', rateLimit(20, 60_000));
  app.use('*', authenticate(deps.pool, (path) => isUserRoute(deps.dags(), path)));

  app.onError((err, c) => {
    const e = toError(err);
    if (e instanceof InputError) {
      const status = statusOf(e);
      // The web UI's pages answer with a page; the API with JSON.
      if (!c.req.path.startsWith('/api/') && c.req.method === 'GET') return c.html(errorPage(status, redact(e.message)), status === 422 ? 400 : status);
      return status === 422
        ? c.json({ detail: [{ loc: ['body', 'conf'], msg: redact(e.message), type: e.code }] }, 422)
        : problem(c, status, redact(e.message));
    }
    if ((e as { status?: number }).status === 400 || e.name === 'SyntaxError') return problem(c, 400, 'the request body is not valid JSON');
    logger.error({ err: redact(e.message), path: c.req.path }, 'server request failed');
    return c.json({ detail: 'internal error (see the server log)' }, 500);
  });

  // Airflow's simple auth: {username, password} → {access_token}; weir's one user is admin.
  app.post('/auth/token', async (c) => {
    let body: { username?: unknown; password?: unknown };
    try {
      body = await c.req.json();
    } catch {
      return problem(c, 400, 'the request body is not valid JSON');
    }
    if (body.username !== 'admin' || !isAdminSecret(deps.adminSecret, body.password)) return problem(c, 401, 'invalid username or password');
    const session = await createToken(deps.pool, { role: 'operator', kind: 'session' });
    return c.json({ access_token: session.token, token_type: 'bearer', expires_in: SESSION_SECONDS }, 201);
  });

  app.post('/login', async (c) => {
    if (crossSite(c)) return problem(c, 403, 'cross-origin login refused');
    const form = await c.req.parseBody();
    const next = typeof form.next === 'string' && /^\/(?!\/)[^\s]*$/.test(form.next) ? form.next : '/';
    if (!isAdminSecret(deps.adminSecret, form.password)) return c.redirect(`/login?failed=1&next=${encodeURIComponent(next)}`, 303);
    const session = await createToken(deps.pool, { role: 'operator', kind: 'session' });
    setCookie(c, SESSION_COOKIE, session.token, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: SESSION_SECONDS, secure: new URL(c.req.url).protocol === 'https:' });
    return c.redirect(next, 303);
  });

  app.post('/logout', async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    const principal = await verifyToken(deps.pool, token);
    if (principal?.kind === 'session') await revokeToken(deps.pool, principal.token_id, 'session');
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });

  registerV2(app, deps);
  app.openAPIRegistry.registerComponent('securitySchemes', 'HTTPBearer', { type: 'http', scheme: 'bearer' });
  // Built per request: the routes DAG files declare change when the files do.
  app.get('/api/v2/openapi.json', (c) => {
    const doc = app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: { title: 'weir API', version: WEIR_VERSION, description: "A subset of Airflow 3's stable REST API (/api/v2), weir's own (/api/weir/v1), and the routes the project's DAGs serve." },
    });
    return c.json({ ...doc, paths: { ...doc.paths, ...userRoutePaths(deps.dags()) } });
  });
  registerEvents(app, deps.events);
  registerUserRoutes(app, deps);
  // Prometheus scrapes with a viewer token (`authorization: Bearer …` in its scrape config).
  app.get('/metrics', async (c) => (deps.metrics ? c.body(await deps.metrics.text(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }) : c.notFound()));
  registerUi(app, deps);
  app.notFound((c) => problem(c, 404, `no route ${c.req.method} ${c.req.path}`));
  return app;
}
