/**
 * Routes a project's DAGs declare (`d.route`, authoring/dag.ts RouteDefinition): read-only
 * GET endpoints under /api/ answered by a parameterised SQL file, behind the server's
 * auth like weir's own API. Matched at request time against the DAGs as loaded now, so
 * an edited DAG file's routes change without a restart. Params (path and query) go
 * through the route's zod schema: a bad one is a 400 naming it; values are bound as
 * $1, $2, …, never interpolated.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { RouteDefinition } from '../../authoring/dag.ts';
import type { LoadedDags } from '../../loader/loader.ts';
import { sqlFile, withConnection } from '../../../tasks/postgres.ts';
import { redact } from '../../redact.ts';
import { problem, type ServerEnv } from '../security.ts';

/** The path params of `path` when it matches `pattern` (`/api/v1/:id`), else undefined. */
export function matchRoute(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i]!.startsWith(':')) {
      if (!got[i]) return undefined;
      try {
        params[want[i]!.slice(1)] = decodeURIComponent(got[i]!);
      } catch {
        return undefined;
      }
    } else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

function findRoute(dags: LoadedDags, path: string): { route: RouteDefinition; params: Record<string, string> } | undefined {
  for (const graph of dags.dags.values()) {
    for (const route of graph.dag.routes ?? []) {
      const params = matchRoute(route.path, path);
      if (params) return { route, params };
    }
  }
  return undefined;
}

export function registerUserRoutes(app: OpenAPIHono<ServerEnv>, deps: { dags(): LoadedDags }): void {
  app.get('/api/*', async (c, next) => {
    const found = findRoute(deps.dags(), c.req.path);
    if (!found) return next();
    const { route, params } = found;
    const parsed = route.params.safeParse({ ...c.req.query(), ...params });
    if (!parsed.success) {
      const issue = parsed.error!.issues[0]!;
      return problem(c, 400, `${issue.path.map(String).join('.') || 'params'}: ${issue.message}`);
    }
    const data = parsed.data as Record<string, unknown>;
    try {
      const { rows } = await withConnection(route.connection ?? 'warehouse', (pool) => pool.query(sqlFile(route.sql), route.args.map((a) => data[a] ?? null)), { max: 1 });
      if (route.returns === 'one') return rows[0] ? c.json(rows[0]) : problem(c, 404, route.notFound ?? 'not found');
      return c.json({ rows });
    } catch (err) {
      // The route's own SQL failed: a 500 with nothing of the statement or its values.
      return c.json({ detail: `the route's query failed: ${redact((err as Error).message)}` }, 500);
    }
  });
}
