/**
 * The Airflow-compatible REST API under /api/v2: the same paths, verbs and JSON shapes
 * as Airflow 3's for the routes weir has (./shapes.ts). Each route is one zod-described
 * route: the schemas validate the request and generate /api/v2/openapi.json. Every
 * state change goes through the engine's own functions (createRun, cancelRun,
 * clearRun), as the CLI's do.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { sql, sqlText } from '../../database/sql.ts';
import { InputError } from '../../errors.ts';
import { validateParams } from '../../engine/params.ts';
import { cancelRun, clearRun, createRun, manualRunId, markTaskInstance, previewClear, type Engine } from '../../engine/runs.ts';
import { runBackfill } from '../../cli/backfill.ts';
import { getTaskOutput, getTaskTries, listWorkers, type RunRow } from '../../read/runs.ts';
import { nextRuns } from '../../schedule/timetable.ts';
import { RunState, stateList } from '../../states.ts';
import type { LoadedDags } from '../../loader/loader.ts';
import { pausedDags } from '../../read/dags.ts';
import type { DagGraph } from '../../loader/graph.ts';
import { WEIR_VERSION } from '../../package/manifest.mjs';
import type { ServerEnv } from '../security.ts';
import * as S from './shapes.ts';

export interface ApiDeps {
  pool: pg.Pool;
  engine(): Promise<Engine>;
  /** The DAGs as loaded now (kept current by the server's watcher). */
  dags(): LoadedDags;
}

const json = <T extends z.ZodType>(schema: T, description = 'Successful Response') => ({ content: { 'application/json': { schema } }, description });
const errors = {
  400: json(S.HTTPExceptionResponse, 'Bad Request'),
  401: json(S.HTTPExceptionResponse, 'Unauthorized'),
  403: json(S.HTTPExceptionResponse, 'Forbidden'),
  404: json(S.HTTPExceptionResponse, 'Not Found'),
  422: json(S.HTTPValidationError, 'Validation Error'),
};
const security = [{ HTTPBearer: [] }];

/** Airflow's paging: limit (default 50, at most 100) and offset. */
const Paging = z.object({
  limit: z.coerce.number().int().min(0).max(100).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
const DagIdParam = z.object({ dag_id: z.string().openapi({ param: { name: 'dag_id', in: 'path' } }) });
const RunParams = DagIdParam.extend({ dag_run_id: z.string().openapi({ param: { name: 'dag_run_id', in: 'path' } }) });
const TaskParams = RunParams.extend({ task_id: z.string().openapi({ param: { name: 'task_id', in: 'path' } }) });
const TryParams = TaskParams.extend({ try_number: z.coerce.number().int().min(1).openapi({ param: { name: 'try_number', in: 'path' } }) });
const boolQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The fixed orders /dagRuns may be sorted by: request text only ever picks one of these. */
const RUN_ORDERS: Record<string, string> = {
  id: 'created_at, run_id', '-id': 'created_at DESC, run_id DESC',
  logical_date: 'logical_date, run_id', '-logical_date': 'logical_date DESC, run_id DESC',
  start_date: 'start_date NULLS FIRST, run_id', '-start_date': 'start_date DESC NULLS LAST, run_id DESC',
  end_date: 'end_date NULLS FIRST, run_id', '-end_date': 'end_date DESC NULLS LAST, run_id DESC',
  run_id: 'run_id', '-run_id': 'run_id DESC', dag_run_id: 'run_id', '-dag_run_id': 'run_id DESC',
  state: 'state, run_id', '-state': 'state DESC, run_id DESC',
};

function notFound(what: string): InputError {
  return new InputError('unknown_resource', what);
}

function requireGraph(deps: ApiDeps, dagId: string): DagGraph {
  const graph = deps.dags().dags.get(dagId);
  if (!graph) throw notFound(`The DAG with dag_id: \`${dagId}\` was not found`);
  return graph;
}

async function requireRun(pool: pg.Pool, dagId: string, runId: string): Promise<RunRow & { created_at: Date }> {
  const { rows } = await pool.query<RunRow & { created_at: Date }>(sql('get_run'), [runId]);
  if (!rows[0] || rows[0].dag_id !== dagId) throw notFound(`The DagRun with dag_id: \`${dagId}\` and run_id: \`${runId}\` was not found`);
  return rows[0];
}

async function taskInstances(pool: pg.Pool, runId: string, taskId: string | null): Promise<S.ApiTaskInstanceRow[]> {
  return (await pool.query<S.ApiTaskInstanceRow>(sql('api_task_instances'), [runId, taskId])).rows;
}

async function requireTaskInstance(pool: pg.Pool, dagId: string, runId: string, taskId: string): Promise<S.ApiTaskInstanceRow> {
  await requireRun(pool, dagId, runId);
  const [ti] = await taskInstances(pool, runId, taskId);
  if (!ti) throw notFound(`The Task Instance with dag_id: \`${dagId}\`, run_id: \`${runId}\` and task_id: \`${taskId}\` was not found`);
  return ti;
}

function dagResponse(graph: DagGraph, paused: boolean, hasImportErrors: boolean): z.infer<typeof S.DAGResponse> {
  const o = graph.dag.options;
  const next = nextRuns(graph.options.timetable, DateTime.now(), 1)[0];
  return {
    dag_id: graph.dag.id, dag_display_name: graph.dag.id, is_paused: paused, is_stale: false,
    last_parsed_time: null, last_expired: null, bundle_name: null, bundle_version: null,
    relative_fileloc: graph.relativeFile, fileloc: graph.file, description: o.description ?? null,
    timetable_summary: o.schedule ?? null, timetable_description: o.schedule ? `${o.schedule} (${graph.options.timezone})` : 'Never, external triggers only',
    tags: (o.tags ?? []).map((name) => ({ name, dag_id: graph.dag.id, dag_display_name: graph.dag.id })),
    max_active_tasks: 16, max_active_runs: graph.options.maxActiveRuns, max_consecutive_failed_dag_runs: 0,
    has_task_concurrency_limits: false, has_import_errors: hasImportErrors,
    next_dagrun_logical_date: next?.logicalDate.toUTC().toISO() ?? null,
    next_dagrun_data_interval_start: next?.start.toUTC().toISO() ?? null,
    next_dagrun_data_interval_end: next?.end.toUTC().toISO() ?? null,
    next_dagrun_run_after: next?.runAfter.toUTC().toISO() ?? null,
    owners: o.owner ? [o.owner] : [], file_token: Buffer.from(graph.relativeFile).toString('base64url'),
  };
}

/** The params of a DAG as JSON Schema, and Airflow's `params` map of each one's default and description. */
export function paramsOf(graph: DagGraph): { schema: Record<string, unknown> | null; params: Record<string, unknown> | null } {
  const p = graph.dag.options.params as z.ZodType | undefined;
  if (!p) return { schema: null, params: null };
  const schema = z.toJSONSchema(p, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, { default?: unknown; description?: string }> };
  const params = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, { __class: 'airflow.sdk.definitions.param.Param', value: v.default ?? null, description: v.description ?? null, schema: v }]));
  return { schema: schema as Record<string, unknown>, params };
}

export function registerV2(app: OpenAPIHono<ServerEnv>, deps: ApiDeps): void {
  const { pool } = deps;

  app.openapi(createRoute({ method: 'get', path: '/api/v2/version', tags: ['Version'], responses: { 200: json(S.VersionInfo) } }), (c) =>
    c.json({ version: WEIR_VERSION, git_version: null }, 200));

  app.openapi(createRoute({ method: 'get', path: '/api/v2/monitor/health', tags: ['Monitor'], responses: { 200: json(S.HealthInfoResponse) } }), async (c) => {
    let database = 'healthy';
    let workers: Record<string, unknown>[] = [];
    let scheduler: { latest_heartbeat: Date | null; alive: boolean } = { latest_heartbeat: null, alive: false };
    try {
      workers = await listWorkers(pool, 100);
      scheduler = (await pool.query<typeof scheduler>(sql('scheduler_health'))).rows[0]!;
    } catch {
      database = 'unhealthy';
    }
    return c.json({
      metadatabase: { status: database },
      scheduler: { status: scheduler.latest_heartbeat ? (scheduler.alive ? 'healthy' : 'unhealthy') : null, latest_scheduler_heartbeat: scheduler.latest_heartbeat?.toISOString() ?? null },
      triggerer: { status: null, latest_triggerer_heartbeat: null },
      dag_processor: null,
      workers: workers.map((w) => ({ worker_id: String(w.worker_id), status: String(w.status), last_seen_at: new Date(w.last_seen_at as string).toISOString(), queue: String(w.queue), running: Number(w.running) })),
    }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags', tags: ['DAG'], security,
    request: { query: Paging.extend({
      tags: z.union([z.string(), z.array(z.string())]).optional(),
      paused: boolQuery.optional(),
      dag_id_pattern: z.string().max(250).optional().openapi({ description: 'SQL LIKE expression: % and _ wildcards' }),
      order_by: z.enum(['dag_id', '-dag_id']).default('dag_id'),
    }) },
    responses: { 200: json(S.DAGCollectionResponse), 401: errors[401], 422: errors[422] },
  }), async (c) => {
    const q = c.req.valid('query');
    const paused = await pausedDags(pool);
    const loaded = deps.dags();
    const tags = q.tags === undefined ? [] : Array.isArray(q.tags) ? q.tags : [q.tags];
    const like = q.dag_id_pattern ? new RegExp(`^${q.dag_id_pattern.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replaceAll('%', '.*').replaceAll('_', '.')}$`, 'i') : undefined;
    let graphs = [...loaded.dags.values()]
      .filter((g) => !tags.length || (g.dag.options.tags ?? []).some((t) => tags.includes(t)))
      .filter((g) => q.paused === undefined || (paused.get(g.dag.id) ?? false) === q.paused)
      .filter((g) => !like || like.test(g.dag.id))
      .sort((a, b) => a.dag.id.localeCompare(b.dag.id));
    if (q.order_by === '-dag_id') graphs = graphs.reverse();
    const page = graphs.slice(q.offset, q.offset + q.limit);
    return c.json({ dags: page.map((g) => dagResponse(g, paused.get(g.dag.id) ?? false, false)), total_entries: graphs.length }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}', tags: ['DAG'], security, request: { params: DagIdParam },
    responses: { 200: json(S.DAGResponse), 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const graph = requireGraph(deps, c.req.valid('param').dag_id);
    return c.json(dagResponse(graph, (await pausedDags(pool)).get(graph.dag.id) ?? false, false), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/details', tags: ['DAG'], security, request: { params: DagIdParam },
    responses: { 200: json(S.DAGDetailsResponse), 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const graph = requireGraph(deps, c.req.valid('param').dag_id);
    const tt = graph.options.timetable;
    const { schema, params } = paramsOf(graph);
    const start = 'startDate' in tt && tt.startDate ? tt.startDate.toUTC().toISO() : null;
    const end = 'endDate' in tt && tt.endDate ? tt.endDate.toUTC().toISO() : null;
    return c.json({
      ...dagResponse(graph, (await pausedDags(pool)).get(graph.dag.id) ?? false, false),
      catchup: 'catchup' in tt ? Boolean(tt.catchup) : false,
      dag_run_timeout: graph.options.dagrunTimeoutMs === undefined ? null : `PT${graph.options.dagrunTimeoutMs / 1000}S`,
      start_date: start, end_date: end, is_paused_upon_creation: null, params, timezone: graph.options.timezone,
      last_parsed: null, default_args: (graph.dag.options.defaultTaskOptions ?? null) as Record<string, unknown> | null,
      doc_md: graph.dag.options.description ?? null, owner_links: null, params_schema: schema,
    }, 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/api/v2/dags/{dag_id}', tags: ['DAG'], security,
    request: { params: DagIdParam, body: { content: { 'application/json': { schema: S.DAGPatchBody } }, required: true } },
    responses: { 200: json(S.DAGResponse), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 422: errors[422] },
  }), async (c) => {
    const graph = requireGraph(deps, c.req.valid('param').dag_id);
    const { is_paused } = c.req.valid('json');
    await pool.query(sql('set_paused'), [graph.dag.id, is_paused]);
    return c.json(dagResponse(graph, is_paused, false), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/tasks', tags: ['Task'], security, request: { params: DagIdParam },
    responses: { 200: json(S.TaskCollectionResponse), 401: errors[401], 404: errors[404] },
  }), (c) => {
    const graph = requireGraph(deps, c.req.valid('param').dag_id);
    return c.json({ tasks: graph.order.map((id) => S.task(graph, id)), total_entries: graph.order.length }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/importErrors', tags: ['Import Error'], security, request: { query: Paging },
    responses: { 200: json(S.ImportErrorCollectionResponse), 401: errors[401] },
  }), (c) => {
    const q = c.req.valid('query');
    const broken = [...deps.dags().broken.entries()].sort(([a], [b]) => a.localeCompare(b));
    const now = new Date().toISOString();
    const page = broken.slice(q.offset, q.offset + q.limit).map(([file, problems], i) => ({
      import_error_id: q.offset + i + 1, timestamp: now, filename: file, bundle_name: null, stack_trace: problems.join('\n'),
    }));
    return c.json({ import_errors: page, total_entries: broken.length }, 200);
  });

  const listRunsRoute = (path: '/api/v2/dags/{dag_id}/dagRuns') => createRoute({
    method: 'get', path, tags: ['DagRun'], security,
    request: {
      params: DagIdParam,
      query: Paging.extend({
        state: z.union([z.enum(RunState), z.array(z.enum(RunState))]).optional(),
        order_by: z.string().default('id').refine((o) => o in RUN_ORDERS, { message: `one of ${Object.keys(RUN_ORDERS).join(', ')}` }),
      }),
    },
    responses: { 200: json(S.DAGRunCollectionResponse), 401: errors[401], 404: errors[404], 422: errors[422] },
  });
  app.openapi(listRunsRoute('/api/v2/dags/{dag_id}/dagRuns'), async (c) => {
    const { dag_id } = c.req.valid('param');
    const q = c.req.valid('query');
    // `~` is Airflow's "every DAG".
    if (dag_id !== '~') requireGraph(deps, dag_id);
    const states = q.state === undefined ? null : stateList(new Set(Array.isArray(q.state) ? q.state : [q.state]));
    const text = sqlText('api_list_runs').replace('/*order*/ created_at, run_id', RUN_ORDERS[q.order_by]!);
    const { rows } = await pool.query<RunRow & { created_at: Date; total_entries: string }>(text, [dag_id === '~' ? null : dag_id, states, q.limit, q.offset]);
    let total = rows[0] ? Number(rows[0].total_entries) : 0;
    if (!rows.length && q.offset > 0) {
      const all = await pool.query<{ total_entries: string }>(text, [dag_id === '~' ? null : dag_id, states, 1, 0]);
      total = all.rows[0] ? Number(all.rows[0].total_entries) : 0;
    }
    return c.json({ dag_runs: rows.map(S.dagRun), total_entries: total }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/api/v2/dags/{dag_id}/dagRuns', tags: ['DagRun'], security,
    request: { params: DagIdParam, body: { content: { 'application/json': { schema: S.TriggerDAGRunPostBody } }, required: true } },
    responses: { 200: json(S.DAGRunResponse), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 409: json(S.HTTPExceptionResponse, 'Conflict'), 422: errors[422] },
  }), async (c) => {
    const graph = requireGraph(deps, c.req.valid('param').dag_id);
    const body = c.req.valid('json');
    // Validated before anything is written: params that fail the schema create no run.
    const conf = validateParams(graph.dag, body.conf ?? {});
    const now = new Date();
    const logicalDate = body.logical_date ? new Date(body.logical_date) : now;
    const runId = body.dag_run_id ?? manualRunId(now);
    const engine = await deps.engine();
    const created = await createRun(engine, graph, {
      runType: 'manual', conf, runId, note: body.note ?? undefined, logicalDate,
      dataIntervalStart: body.data_interval_start ? new Date(body.data_interval_start) : logicalDate,
      dataIntervalEnd: body.data_interval_end ? new Date(body.data_interval_end) : logicalDate,
    });
    if (!created) return c.json({ detail: `DAG Run with dag_run_id: \`${runId}\` already exists` }, 409);
    return c.json(S.dagRun(await requireRun(pool, graph.dag.id, created.runId)), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', tags: ['DagRun'], security, request: { params: RunParams },
    responses: { 200: json(S.DAGRunResponse), 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const { dag_id, dag_run_id } = c.req.valid('param');
    return c.json(S.dagRun(await requireRun(pool, dag_id, dag_run_id)), 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', tags: ['DagRun'], security,
    request: { params: RunParams, body: { content: { 'application/json': { schema: S.DAGRunPatchBody } }, required: true } },
    responses: { 200: json(S.DAGRunResponse), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 422: errors[422] },
  }), async (c) => {
    const { dag_id, dag_run_id } = c.req.valid('param');
    const body = c.req.valid('json');
    await requireRun(pool, dag_id, dag_run_id);
    if (body.note !== undefined) throw new InputError('not_supported', 'changing a run\'s note is not supported yet; only {"state": "failed"} (cancel)');
    if (body.state === 'failed') await cancelRun(await deps.engine(), deps.dags().dags.get(dag_id), dag_run_id, 'cancelled through the REST API');
    return c.json(S.dagRun(await requireRun(pool, dag_id, dag_run_id)), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/clear', tags: ['DagRun'], security,
    request: { params: RunParams, body: { content: { 'application/json': { schema: S.DAGRunClearBody } }, required: true } },
    responses: { 200: json(z.union([S.TaskInstanceCollectionResponse, S.DAGRunResponse])), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 409: json(S.HTTPExceptionResponse, 'Conflict'), 422: errors[422] },
  }), async (c) => {
    const { dag_id, dag_run_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const run = await requireRun(pool, dag_id, dag_run_id);
    const graph = requireGraph(deps, dag_id);
    if (body.dry_run) {
      const ids = new Set(await previewClear(pool, graph, dag_run_id, body.only_failed));
      const tis = (await taskInstances(pool, dag_run_id, null)).filter((t) => ids.has(t.task_id));
      return c.json({ task_instances: tis.map(S.taskInstance), total_entries: tis.length }, 200);
    }
    await clearRun(await deps.engine(), graph, run.run_id, body.only_failed);
    return c.json(S.dagRun(await requireRun(pool, dag_id, dag_run_id)), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances', tags: ['Task Instance'], security,
    request: { params: RunParams, query: Paging },
    responses: { 200: json(S.TaskInstanceCollectionResponse), 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const { dag_id, dag_run_id } = c.req.valid('param');
    const q = c.req.valid('query');
    await requireRun(pool, dag_id, dag_run_id);
    const all = await taskInstances(pool, dag_run_id, null);
    return c.json({ task_instances: all.slice(q.offset, q.offset + q.limit).map(S.taskInstance), total_entries: all.length }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', tags: ['Task Instance'], security,
    request: { params: TaskParams }, responses: { 200: json(S.TaskInstanceResponse), 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const { dag_id, dag_run_id, task_id } = c.req.valid('param');
    return c.json(S.taskInstance(await requireTaskInstance(pool, dag_id, dag_run_id, task_id)), 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', tags: ['Task Instance'], security,
    request: { params: TaskParams, body: { content: { 'application/json': { schema: S.PatchTaskInstanceBody } }, required: true } },
    responses: { 200: json(S.TaskInstanceCollectionResponse), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 409: json(S.HTTPExceptionResponse, 'Conflict'), 422: errors[422] },
  }), async (c) => {
    const { dag_id, dag_run_id, task_id } = c.req.valid('param');
    const { new_state } = c.req.valid('json');
    await requireTaskInstance(pool, dag_id, dag_run_id, task_id);
    const marked = await markTaskInstance(pool, dag_run_id, task_id, new_state);
    if (!marked) throw new InputError('not_finished', `task "${task_id}" of run ${dag_run_id} has not finished; only a finished task instance is marked`);
    const tis = await taskInstances(pool, dag_run_id, task_id);
    return c.json({ task_instances: tis.map(S.taskInstance), total_entries: tis.length }, 200);
  });

  const backfill = async (body: z.infer<typeof S.BackfillPostBody>, dryRun: boolean) => {
    const graph = requireGraph(deps, body.dag_id);
    const conf = validateParams(graph.dag, body.dag_run_conf);
    return { graph, conf, summary: await runBackfill(deps, graph, { from: body.from_date, to: body.to_date, conf, rerunFailed: body.reprocess_behavior === 'failed', dryRun, json: true }) };
  };
  app.openapi(createRoute({
    method: 'post', path: '/api/v2/backfills', tags: ['Backfill'], security,
    request: { body: { content: { 'application/json': { schema: S.BackfillPostBody } }, required: true } },
    responses: { 200: json(S.BackfillResponse), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 422: errors[422] },
  }), async (c) => {
    const body = c.req.valid('json');
    const { graph, conf, summary } = await backfill(body, false);
    const now = new Date().toISOString();
    const paused = (await pausedDags(pool)).get(graph.dag.id) ?? false;
    return c.json({
      id: null, dag_id: graph.dag.id, from_date: body.from_date, to_date: body.to_date, dag_run_conf: conf, is_paused: paused,
      reprocess_behavior: body.reprocess_behavior, max_active_runs: graph.options.maxActiveRuns, created_at: now, completed_at: null, updated_at: now,
      dag_display_name: graph.dag.id, created_runs: summary.created, rerun_failed: summary.rerun_failed,
      skipped_successful: summary.skipped_successful, skipped_in_progress: summary.skipped_in_progress,
    }, 200);
  });
  app.openapi(createRoute({
    method: 'post', path: '/api/v2/backfills/dry_run', tags: ['Backfill'], security,
    request: { body: { content: { 'application/json': { schema: S.BackfillPostBody } }, required: true } },
    responses: { 200: json(S.DryRunBackfillCollectionResponse), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 422: errors[422] },
  }), async (c) => {
    const { summary } = await backfill(c.req.valid('json'), true);
    return c.json({ backfills: summary.planned.map((logical_date) => ({ logical_date })), total_entries: summary.planned.length }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries', tags: ['Task Instance'], security,
    request: { params: TaskParams }, responses: { 200: json(S.TaskInstanceHistoryCollectionResponse), 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const { dag_id, dag_run_id, task_id } = c.req.valid('param');
    const ti = await requireTaskInstance(pool, dag_id, dag_run_id, task_id);
    const tries = ti.try_number ? await getTaskTries(pool, dag_run_id, task_id) : [];
    return c.json({ task_instances: tries.map((t) => S.taskTry(ti, t)), total_entries: tries.length }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}', tags: ['Task Instance'], security,
    request: {
      params: TryParams,
      query: z.object({
        token: z.string().regex(/^\d{1,10}$/, 'a continuation_token from a previous page').optional(),
        limit: z.coerce.number().int().min(1).max(10_000).default(1000).openapi({ description: 'weir: lines per page' }),
        full_content: boolQuery.optional(),
      }),
    },
    responses: { 200: { content: { 'application/json': { schema: S.TaskInstancesLogResponse }, 'application/x-ndjson': { schema: z.string() } }, description: 'Successful Response' }, 401: errors[401], 404: errors[404] },
  }), async (c) => {
    const { dag_id, dag_run_id, task_id, try_number } = c.req.valid('param');
    const q = c.req.valid('query');
    await requireTaskInstance(pool, dag_id, dag_run_id, task_id);
    const after = q.token ? Number(q.token) : 0;
    const toMessage = (l: { ts: string; level: string; msg: string; fields?: Record<string, unknown> }) => ({ ...(l.fields ?? {}), timestamp: l.ts, event: l.msg, level: l.level });
    if ((c.req.header('accept') ?? '').includes('application/x-ndjson')) {
      // Streamed a window at a time: a big log never sits in memory whole.
      const stream = new ReadableStream<Uint8Array>({
        start: async (controller) => {
          const enc = new TextEncoder();
          let pos = after;
          for (;;) {
            const { rows } = await pool.query<{ line: Parameters<typeof toMessage>[0]; pos: number }>(sql('try_log_page'), [dag_run_id, task_id, try_number, pos, 5000]);
            for (const r of rows) controller.enqueue(enc.encode(`${JSON.stringify(toMessage(r.line))}\n`));
            if (rows.length < 5000) break;
            pos = rows[rows.length - 1]!.pos;
          }
          controller.close();
        },
      });
      return c.body(stream, 200, { 'Content-Type': 'application/x-ndjson' }) as never;
    }
    const limit = q.full_content ? 100_000 : q.limit;
    const { rows } = await pool.query<{ line: Parameters<typeof toMessage>[0]; pos: number }>(sql('try_log_page'), [dag_run_id, task_id, try_number, after, limit + 1]);
    const page = rows.slice(0, limit);
    return c.json({ content: page.map((r) => toMessage(r.line)), continuation_token: rows.length > limit ? String(page[page.length - 1]!.pos) : null }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}', tags: ['XCom'], security,
    request: { params: TaskParams.extend({ xcom_key: z.literal('return_value').openapi({ param: { name: 'xcom_key', in: 'path' }, description: 'weir stores one output per task: return_value' }) }) },
    responses: { 200: json(S.XComResponseNative), 401: errors[401], 404: errors[404], 422: errors[422] },
  }), async (c) => {
    const { dag_id, dag_run_id, task_id } = c.req.valid('param');
    const ti = await requireTaskInstance(pool, dag_id, dag_run_id, task_id);
    let value: unknown;
    try {
      value = (await getTaskOutput(pool, dag_run_id, task_id)).output;
    } catch (err) {
      if (err instanceof InputError && err.code === 'no_output') throw notFound(`XCom entry with key: \`return_value\` not found: ${err.message}`);
      throw err;
    }
    return c.json({
      key: 'return_value', timestamp: (ti.end_date ?? new Date()).toISOString(), logical_date: ti.logical_date.toISOString(), map_index: -1,
      task_id, dag_id, run_id: dag_run_id, dag_display_name: dag_id, task_display_name: task_id, value,
    }, 200);
  });
}
