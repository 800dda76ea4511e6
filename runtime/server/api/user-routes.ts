/**
 * Routes a project's DAGs declare (`d.route`, authoring/dag.ts RouteDefinition): read-only
 * GET endpoints (`/stats`, `/api/v1/events/:id`, anywhere outside weir's own paths)
 * answered by a parameterised SQL file, behind the server's auth like weir's own API and
 * listed in its OpenAPI document. Matched at request time against the DAGs as loaded now,
 * so an edited DAG file's routes change without a restart. Params (path and query) go
 * through the route's zod schema: a bad one is a 400 naming it; values are bound as
 * $1, $2, …, never interpolated.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
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

/** True when a DAG serves `path`: the auth guard answers it as API (401, not the login page). */
export const isUserRoute = (dags: LoadedDags, path: string) => findRoute(dags, path) !== undefined;

type OpenApiPaths = Record<string, { get: Record<string, unknown> }>;

/** The OpenAPI path items of the DAGs' routes as loaded now (`/api/v1/:id` as `/api/v1/{id}`). */
export function userRoutePaths(dags: LoadedDags): OpenApiPaths {
  const paths: OpenApiPaths = {};
  for (const graph of dags.dags.values()) {
    for (const route of graph.dag.routes ?? []) {
      const inPath = new Set(route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1)));
      let schema: { properties?: Record<string, unknown>; required?: string[] } = {};
      try {
        schema = z.toJSONSchema(route.params as unknown as z.ZodType, { io: 'input', unrepresentable: 'any' }) as typeof schema;
      } catch {
        // A schema JSON Schema cannot express: the parameters go undescribed.
      }
      const parameters = Object.entries(schema.properties ?? {}).map(([name, s]) => ({
        name, in: inPath.has(name) ? 'path' : 'query', required: inPath.has(name) || (schema.required ?? []).includes(name), schema: s,
      }));
      paths[route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')] = {
        get: {
          tags: [`DAG ${graph.dag.id}`], summary: route.description ?? `served by DAG ${graph.dag.id}`, operationId: `${graph.dag.id}_${route.path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`,
          parameters, security: [{ HTTPBearer: [] }],
          responses: {
            200: { description: route.returns === 'one' ? 'the row' : 'the rows, as { rows: [...] }', content: { 'application/json': { schema: { type: 'object' } } } },
            400: { description: 'a param failed its schema (the detail names it)' },
            401: { description: 'not authenticated' },
            ...(route.returns === 'one' ? { 404: { description: route.notFound ?? 'not found' } } : {}),
          },
        },
      };
    }
  }
  return paths;
}

export function registerUserRoutes(app: OpenAPIHono<ServerEnv>, deps: { dags(): LoadedDags }): void {
  app.get('*', async (c, next) => {
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
