/**
 * The web UI: server-rendered pages (no build step, no CDN, works offline) with light
 * progressive enhancement in /static/app.js (live updates from the event stream, the
 * log tail, the trigger form's inline checks). Every action shows what it will change
 * before it changes anything, and goes through the engine's functions as the API does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { DateTime } from 'luxon';
import { sql } from '../../database/sql.ts';
import { InputError } from '../../errors.ts';
import { validateParams } from '../../engine/params.ts';
import { cancelRun, clearRun, createRun, manualRunId, markTaskInstance, previewClear } from '../../engine/runs.ts';
import { runBackfill } from '../../cli/backfill.ts';
import { getArtifact, getRunDetail, getTaskTries, listRuns, listWorkers } from '../../read/runs.ts';
import { nextRuns } from '../../schedule/timetable.ts';
import { RUN_FINISHED, TASK_FINISHED, type TaskState } from '../../states.ts';
import type { DagGraph } from '../../loader/graph.ts';
import { pausedDags } from '../../read/dags.ts';
import type { AppDeps } from '../app.ts';
import type { ServerEnv } from '../security.ts';
import { paramsOf } from '../api/v2.ts';
import { html, type SafeHtml } from './html.ts';
import { duration, page, pretty, stateBadge, time } from './layout.ts';
import { ganttSvg, graphSvg } from './graph-svg.ts';
import { confFromForm, triggerForm, type JsonSchema } from './form.ts';

const STATIC = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static');
const STATIC_TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
/** Runs the grid shows at once (older ones are a page away). */
const GRID_RUNS = 25;
/** Log lines a page shows at once: a 10 MB log is read a window at a time. */
const LOG_WINDOW = 500;

const enc = encodeURIComponent;
const dagHref = (d: string) => `/dags/${enc(d)}`;
const runHref = (d: string, r: string) => `/dags/${enc(d)}/runs/${enc(r)}`;
const tiHref = (d: string, r: string, t: string) => `${runHref(d, r)}/tasks/${enc(t)}`;

function send(c: Context, body: string, status: 200 | 400 | 404 | 422 = 200) {
  return c.html(body, status);
}

export function registerUi(app: OpenAPIHono<ServerEnv>, deps: AppDeps): void {
  const { pool } = deps;
  const graphOf = (dagId: string): DagGraph => {
    const g = deps.dags().dags.get(dagId);
    if (!g) throw new InputError('unknown_dag', `unknown DAG "${dagId}"`);
    return g;
  };

  app.get('/static/:file', (c) => {
    const file = c.req.param('file');
    const type = STATIC_TYPES[path.extname(file)];
    if (!type || !/^[a-z0-9-]+\.[a-z]+$/.test(file)) return c.notFound();
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(fs.readFileSync(path.join(STATIC, file)), 200, { 'Content-Type': type });
  });

  app.get('/login', (c) => {
    const failed = c.req.query('failed') === '1';
    const next = c.req.query('next') ?? '/';
    return send(c, `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><title>Log in · weir</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="login"><main><h1>weir</h1><form method="post" action="/login"><input type="hidden" name="next" value="${next}">
<label for="password">Admin secret</label><input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
${failed ? html`<p class="error" role="alert">That is not the admin secret.</p>` : ''}
<button type="submit" class="primary">Log in</button>
<p class="muted">The secret was printed when the server first started, and is kept in <code>$WEIR_HOME/server/admin-secret</code>.</p></form></main></body></html>`.text}`);
  });

  app.get('/', async (c) => {
    const from = deps.events.lastId();
    const loaded = deps.dags();
    const graphs = [...loaded.dags.values()].sort((a, b) => a.dag.id.localeCompare(b.dag.id));
    const paused = await pausedDags(pool);
    const recent = await pool.query<{ dag_id: string; run_id: string; state: string; logical_date: Date }>(sql('recent_runs'), [graphs.map((g) => g.dag.id), 10]);
    const byDag = new Map<string, typeof recent.rows>();
    for (const r of recent.rows) (byDag.get(r.dag_id) ?? byDag.set(r.dag_id, []).get(r.dag_id)!).push(r);
    const broken = [...loaded.broken.entries()];
    const body = html`<h1>DAGs</h1>
${broken.length ? html`<section class="banner error" role="alert"><h2>${broken.length} broken DAG file(s)</h2><ul>${broken.map(([file, problems]) => html`<li><code>${file}</code><ul>${problems.map((p) => html`<li><code>${p}</code></li>`)}</ul></li>`)}</ul></section>` : ''}
<table class="dags"><thead><tr><th>DAG</th><th>Description</th><th>Tags</th><th>Owner</th><th>Schedule</th><th>Next run</th><th>Recent runs</th><th>Paused</th></tr></thead><tbody>
${graphs.map((g) => {
    const o = g.dag.options;
    const next = nextRuns(g.options.timetable, DateTime.now(), 1)[0];
    const isPaused = paused.get(g.dag.id) ?? false;
    return html`<tr data-dag="${g.dag.id}"><td><a href="${dagHref(g.dag.id)}">${g.dag.id}</a></td><td>${o.description ?? ''}</td>
<td>${(o.tags ?? []).map((t) => html`<span class="tag">${t}</span>`)}</td><td>${o.owner ?? ''}</td><td><code>${o.schedule ?? 'manual'}</code></td>
<td>${next ? time(next.runAfter.toJSDate()) : '-'}</td>
<td class="squares">${(byDag.get(g.dag.id) ?? []).reverse().map((r) => html`<a class="square s-${r.state}" href="${runHref(g.dag.id, r.run_id)}" title="${r.run_id}: ${r.state}"></a>`)}</td>
<td><form method="post" action="${dagHref(g.dag.id)}/pause"><input type="hidden" name="paused" value="${isPaused ? 'false' : 'true'}"><button type="submit" class="toggle ${isPaused ? 'on' : 'off'}" aria-pressed="${isPaused ? 'true' : 'false'}">${isPaused ? 'paused' : 'active'}</button></form></td></tr>`;
  })}</tbody></table>`;
    return send(c, page('DAGs', body, { live: { 'live-dags': '1' }, eventsFrom: from }));
  });

  app.post('/dags/:dag_id/pause', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const form = await c.req.parseBody();
    await pool.query(sql('set_paused'), [graph.dag.id, form.paused === 'true']);
    return c.redirect(typeof form.back === 'string' && form.back === 'dag' ? dagHref(graph.dag.id) : '/', 303);
  });

  app.get('/dags/:dag_id', async (c) => {
    const from = deps.events.lastId();
    const graph = graphOf(c.req.param('dag_id'));
    const pageOf = await listRuns(pool, { dagId: graph.dag.id, limit: GRID_RUNS, after: c.req.query('older') });
    const runs = [...pageOf.runs].reverse();
    const cells = await pool.query<{ run_id: string; task_id: string; state: string; try_number: number }>(sql('grid_task_instances'), [runs.map((r) => r.run_id)]);
    const cell = new Map(cells.rows.map((r) => [`${r.run_id}\u0000${r.task_id}`, r]));
    const selected = c.req.query('run') ?? runs[runs.length - 1]?.run_id;
    const selectedStates = new Map(cells.rows.filter((r) => r.run_id === selected).map((r) => [r.task_id, r.state]));
    const isPaused = (await pausedDags(pool)).get(graph.dag.id) ?? false;
    const body = html`<h1>${graph.dag.id} ${isPaused ? html`<span class="state s-paused">paused</span>` : ''}</h1>
<p>${graph.dag.options.description ?? ''}</p>
<div class="actions"><a class="button primary" href="${dagHref(graph.dag.id)}/trigger">Trigger</a><a class="button" href="${dagHref(graph.dag.id)}/backfill">Backfill…</a>
<form method="post" action="${dagHref(graph.dag.id)}/pause"><input type="hidden" name="back" value="dag"><input type="hidden" name="paused" value="${isPaused ? 'false' : 'true'}"><button type="submit">${isPaused ? 'Unpause' : 'Pause'}</button></form></div>
<h2>Grid</h2>
<div class="grid-box">${runs.length ? html`<table class="grid" data-dag="${graph.dag.id}"><thead><tr><th>task</th>${runs.map((r) => html`<th><a href="${runHref(graph.dag.id, r.run_id)}" class="run-head s-${r.state}" data-run="${r.run_id}" title="${r.run_id}: ${r.state}">${time(r.logical_date).slice(5, 16)}</a></th>`)}</tr></thead>
<tbody>${graph.order.map((taskId) => html`<tr><th>${taskId}</th>${runs.map((r) => {
      const ti = cell.get(`${r.run_id}\u0000${taskId}`);
      return ti ? html`<td><a class="cell s-${ti.state}" data-run="${r.run_id}" data-task="${taskId}" href="${tiHref(graph.dag.id, r.run_id, taskId)}" title="${taskId} in ${r.run_id}: ${ti.state}"></a></td>` : html`<td></td>`;
    })}</tr>`)}</tbody></table>
${pageOf.next ? html`<p><a href="${dagHref(graph.dag.id)}?older=${pageOf.next}">older runs →</a></p>` : ''}` : html`<p class="muted">No runs yet.</p>`}</div>
<h2>Graph ${selected ? html`<small class="muted">run ${selected}</small>` : ''}</h2>
<div class="graph-box" data-run="${selected ?? ''}">${graphSvg(graph, selectedStates, (t) => (selected ? tiHref(graph.dag.id, selected, t) : undefined))}</div>`;
    return send(c, page(graph.dag.id, body, { live: { 'live-dag': graph.dag.id }, eventsFrom: from }));
  });

  const renderTrigger = (graph: DagGraph, values: Record<string, unknown>, errors: Map<string, string>, mode: 'form' | 'json') => {
    const { schema } = paramsOf(graph);
    return page(`Trigger ${graph.dag.id}`, html`<h1>Trigger <a href="${dagHref(graph.dag.id)}">${graph.dag.id}</a></h1>${triggerForm(`${dagHref(graph.dag.id)}/trigger`, schema as JsonSchema | null, values, errors, mode)}`);
  };

  app.get('/dags/:dag_id/trigger', (c) => send(c, renderTrigger(graphOf(c.req.param('dag_id')), {}, new Map(), 'form')));

  app.post('/dags/:dag_id/trigger', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const form = await c.req.parseBody();
    const mode = form.__mode === 'json' ? 'json' : 'form';
    const { schema } = paramsOf(graph);
    const { conf, errors } = confFromForm((schema ?? {}) as JsonSchema, form as Record<string, string>);
    if (!errors.size) {
      try {
        const valid = validateParams(graph.dag, conf);
        const now = new Date();
        const created = await createRun(await deps.engine(), graph, { runType: 'manual', conf: valid, runId: manualRunId(now), logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
        if (created) return c.redirect(runHref(graph.dag.id, created.runId), 303);
        errors.set('', 'the run was not created');
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        const field = /^param "([^"]+)"/.exec(err.message)?.[1];
        errors.set(mode === 'json' ? '__json' : field && field in ((schema as JsonSchema | null)?.properties ?? {}) ? field : '', err.message);
      }
    }
    return send(c, renderTrigger(graph, conf, errors, mode), 422);
  });

  app.get('/dags/:dag_id/runs/:run_id', async (c) => {
    const from = deps.events.lastId();
    const graph = graphOf(c.req.param('dag_id'));
    const detail = await getRunDetail(pool, c.req.param('run_id'));
    if (detail.dag_id !== graph.dag.id) throw new InputError('unknown_run', `run ${detail.run_id} is not a run of ${graph.dag.id}`);
    const finished = RUN_FINISHED.has(detail.state);
    const tries = detail.task_instances.map((t) => ({ task_id: t.task_id, try_number: t.try_number, state: t.state, start: t.start_date, end: t.end_date }));
    const body = html`<h1>Run <code>${detail.run_id}</code> ${stateBadge(detail.state)}</h1>
<p><a href="${dagHref(graph.dag.id)}?run=${enc(detail.run_id)}">← ${graph.dag.id}</a></p>
<dl class="facts"><dt>type</dt><dd>${detail.run_type}</dd><dt>logical date</dt><dd>${time(detail.logical_date)}</dd>
<dt>data interval</dt><dd>${time(detail.data_interval_start)} → ${time(detail.data_interval_end)}</dd>
<dt>started</dt><dd>${time(detail.start_date)}</dd><dt>ended</dt><dd>${time(detail.end_date)}</dd><dt>duration</dt><dd>${duration(detail.duration_ms)}</dd>
${detail.note ? html`<dt>note</dt><dd>${detail.note}</dd>` : ''}${detail.waiting ? html`<dt>waiting</dt><dd>${detail.waiting}</dd>` : ''}</dl>
<h2>Conf</h2><pre class="json">${pretty(detail.conf)}</pre>
<div class="actions">${finished
    ? html`<a class="button" href="${runHref(graph.dag.id, detail.run_id)}/clear?only_failed=1">Clear failed…</a><a class="button" href="${runHref(graph.dag.id, detail.run_id)}/clear">Clear all…</a>`
    : html`<a class="button danger" href="${runHref(graph.dag.id, detail.run_id)}/cancel">Cancel (mark failed)…</a>`}</div>
<h2>Task instances</h2><table class="tis" data-run="${detail.run_id}"><thead><tr><th>task</th><th>state</th><th>try</th><th>started</th><th>duration</th><th>last error</th></tr></thead><tbody>
${detail.task_instances.map((t) => html`<tr data-task="${t.task_id}"><td><a href="${tiHref(graph.dag.id, detail.run_id, t.task_id)}">${t.task_id}</a></td><td class="st">${stateBadge(t.state)}</td><td>${t.try_number}/${t.max_tries + 1}</td><td>${time(t.start_date)}</td><td>${duration(t.duration_ms)}</td><td class="err">${t.last_error ?? ''}</td></tr>`)}</tbody></table>
${detail.checks.length ? html`<h2>Checks <small class="muted">${detail.checks.filter((r) => r.passed).length} of ${detail.checks.length} passed</small></h2>
<table class="checks"><thead><tr><th>task</th><th>check</th><th>severity</th><th>result</th><th>failing</th><th>sample</th></tr></thead><tbody>
${detail.checks.map((r) => html`<tr><td>${r.task_id} #${r.try_number}</td><td>${r.name}</td><td>${r.severity}</td><td>${r.passed ? stateBadge('success') : r.severity === 'warn' ? stateBadge('up_for_retry') : stateBadge('failed')}</td><td>${r.failing}</td><td>${r.sample.length ? html`<pre class="json">${pretty(r.sample)}</pre>` : ''}</td></tr>`)}</tbody></table>` : ''}
${detail.artifacts.length ? html`<h2>Artifacts</h2><ul class="artifacts">${detail.artifacts.map((a) => html`<li><a href="${runHref(graph.dag.id, detail.run_id)}/artifacts/${enc(a.task_id)}/${enc(a.name)}?try=${a.try_number}">${a.name}</a> <span class="muted">${a.task_id} #${a.try_number}, ${a.content_type}, ${a.bytes} bytes</span></li>`)}</ul>` : ''}
<h2>Gantt</h2>${ganttSvg(tries)}
<h2>Graph</h2><div class="graph-box" data-run="${detail.run_id}">${graphSvg(graph, new Map(detail.task_instances.map((t) => [t.task_id, t.state])), (t) => tiHref(graph.dag.id, detail.run_id, t))}</div>`;
    return send(c, page(detail.run_id, body, { live: { 'live-run': detail.run_id, 'live-dag': graph.dag.id }, eventsFrom: from }));
  });

  // Clear and cancel: a page that says what will change, then the POST that changes it.
  app.get('/dags/:dag_id/runs/:run_id/clear', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const runId = c.req.param('run_id');
    const onlyFailed = c.req.query('only_failed') === '1';
    const ids = await previewClear(pool, graph, runId, onlyFailed);
    const body = html`<h1>Clear ${onlyFailed ? 'failed tasks of' : ''} <code>${runId}</code>?</h1>
${ids.length ? html`<p>These ${ids.length} task instance(s) will run again, with their retries renewed:</p><ul class="preview">${ids.map((t) => html`<li>${t}</li>`)}</ul>
<form method="post"><input type="hidden" name="only_failed" value="${onlyFailed ? '1' : '0'}"><button type="submit" class="primary">Clear ${ids.length} task(s)</button> <a href="${runHref(graph.dag.id, runId)}">cancel</a></form>` : html`<p>Nothing to clear: the run is not finished, or ${onlyFailed ? 'no task failed' : 'it has no tasks'}.</p><p><a href="${runHref(graph.dag.id, runId)}">back</a></p>`}`;
    return send(c, page('Clear', body));
  });
  app.post('/dags/:dag_id/runs/:run_id/clear', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const runId = c.req.param('run_id');
    const form = await c.req.parseBody();
    await clearRun(await deps.engine(), graph, runId, form.only_failed === '1');
    return c.redirect(runHref(graph.dag.id, runId), 303);
  });
  app.get('/dags/:dag_id/runs/:run_id/cancel', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const detail = await getRunDetail(pool, c.req.param('run_id'));
    const running = detail.task_instances.filter((t) => t.state === 'running').map((t) => t.task_id);
    const pending = detail.task_instances.filter((t) => !['running', 'success', 'failed', 'skipped', 'upstream_failed'].includes(t.state)).map((t) => t.task_id);
    const body = html`<h1>Cancel <code>${detail.run_id}</code>?</h1><p>The run ends <b>failed</b>. Running tries are aborted and fail (${running.join(', ') || 'none'}); tasks not started are skipped (${pending.join(', ') || 'none'}).</p>
<form method="post"><button type="submit" class="danger">Cancel the run</button> <a href="${runHref(graph.dag.id, detail.run_id)}">back</a></form>`;
    return send(c, page('Cancel', body));
  });
  app.post('/dags/:dag_id/runs/:run_id/cancel', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    await cancelRun(await deps.engine(), graph, c.req.param('run_id'), 'cancelled from the web UI');
    return c.redirect(runHref(graph.dag.id, c.req.param('run_id')), 303);
  });

  app.get('/dags/:dag_id/runs/:run_id/tasks/:task_id', async (c) => {
    const eventsFrom = deps.events.lastId();
    const graph = graphOf(c.req.param('dag_id'));
    const runId = c.req.param('run_id');
    const taskId = c.req.param('task_id');
    const detail = await getRunDetail(pool, runId);
    const ti = detail.task_instances.find((t) => t.task_id === taskId);
    if (!ti || detail.dag_id !== graph.dag.id) throw new InputError('unknown_task', `run ${runId} of ${graph.dag.id} has no task "${taskId}"`);
    const tries = ti.try_number ? await getTaskTries(pool, runId, taskId) : [];
    const tryNumber = Number(c.req.query('try') ?? tries[tries.length - 1]?.try_number ?? 0);
    const chosen = tries.find((t) => t.try_number === tryNumber);
    const from = Math.max(0, Number(c.req.query('from') ?? 0) || 0);
    const lines = chosen ? (await pool.query<{ line: { ts: string; level: string; msg: string; fields?: Record<string, unknown> }; pos: number }>(sql('try_log_page'), [runId, taskId, tryNumber, from, LOG_WINDOW + 1])).rows : [];
    const windowed = lines.slice(0, LOG_WINDOW);
    const output = ti.state === 'success' ? (await pool.query<{ output: unknown }>(sql('task_output'), [runId, taskId])).rows[0]?.output : undefined;
    const rawLog = `/api/v2/dags/${enc(graph.dag.id)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}/logs/${tryNumber}`;
    const markable = RUN_FINISHED.has(detail.state) && TASK_FINISHED.has(ti.state as TaskState);
    const markHref = (state: string) => `${tiHref(graph.dag.id, runId, taskId)}/mark?state=${state}`;
    const body = html`<h1>${taskId} ${stateBadge(ti.state)}</h1><p><a href="${runHref(graph.dag.id, runId)}">← run ${runId}</a></p>
${markable ? html`<div class="actions">${ti.state !== 'success' ? html`<a class="button" href="${markHref('success')}">Mark success…</a>` : ''}${ti.state !== 'failed' ? html`<a class="button" href="${markHref('failed')}">Mark failed…</a>` : ''}</div>` : ''}
<h2>Tries</h2><table class="tries"><thead><tr><th>try</th><th>state</th><th>started</th><th>duration</th><th>host</th><th>error</th></tr></thead><tbody>
${tries.map((t) => html`<tr class="${t.try_number === tryNumber ? 'selected' : ''}"><td><a href="?try=${t.try_number}">#${t.try_number}</a></td><td>${stateBadge(t.state)}</td><td>${time(t.start_date)}</td><td>${duration(t.duration_ms)}</td><td>${t.hostname ?? ''}</td><td class="err">${t.error ?? ''}</td></tr>`)}</tbody></table>
${chosen?.error_stack ? html`<h2>Error</h2><pre class="stack">${chosen.error_stack}</pre>` : ''}
<h2>Log ${chosen ? html`<small>try #${tryNumber}, lines ${from + 1}–${from + windowed.length}</small>` : ''}</h2>
${chosen ? html`<p class="log-nav">${from > 0 ? html`<a href="?try=${tryNumber}&from=${Math.max(0, from - LOG_WINDOW)}">← earlier</a>` : ''} ${lines.length > LOG_WINDOW ? html`<a href="?try=${tryNumber}&from=${windowed[windowed.length - 1]!.pos}">later →</a>` : ''} <a href="${rawLog}" data-raw-log>download (NDJSON)</a></p>
<pre class="log" data-run="${runId}" data-task="${taskId}" data-try="${tryNumber}" data-last="${windowed[windowed.length - 1]?.pos ?? from}" data-tail="${lines.length <= LOG_WINDOW && ti.state === 'running' ? '1' : '0'}">${windowed.map((l) => html`<span class="l-${l.line.level}">${l.line.ts} ${l.line.level.toUpperCase()} ${l.line.msg}${l.line.fields ? ` ${JSON.stringify(l.line.fields)}` : ''}\n</span>`)}</pre>` : html`<p class="muted">No try yet.</p>`}
${output !== undefined ? html`<h2>Output</h2><pre class="json">${pretty(output)}</pre>` : ''}`;
    return send(c, page(`${taskId} · ${runId}`, body, { live: { 'live-run': runId, 'live-dag': graph.dag.id }, eventsFrom }));
  });

  app.get('/dags/:dag_id/runs/:run_id/tasks/:task_id/mark', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const { run_id: runId, task_id: taskId } = c.req.param();
    const state = c.req.query('state') === 'failed' ? 'failed' : 'success';
    const detail = await getRunDetail(pool, runId);
    const ti = detail.task_instances.find((t) => t.task_id === taskId);
    const body = html`<h1>Mark <code>${taskId}</code> ${state}?</h1>
<p>In run <code>${runId}</code>: <b>${taskId}</b> ${stateBadge(ti?.state)} → ${stateBadge(state)}. Downstream tasks keep their states; the run (now ${stateBadge(detail.state)}) is decided again from its leaf tasks${graph.leaves.includes(taskId) ? `, of which ${taskId} is one` : ''}.</p>
<form method="post"><input type="hidden" name="state" value="${state}"><button type="submit" class="primary">Mark ${state}</button> <a href="${tiHref(graph.dag.id, runId, taskId)}">back</a></form>`;
    return send(c, page('Mark', body));
  });
  app.post('/dags/:dag_id/runs/:run_id/tasks/:task_id/mark', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const { run_id: runId, task_id: taskId } = c.req.param();
    const form = await c.req.parseBody();
    await markTaskInstance(pool, runId, taskId, form.state === 'failed' ? 'failed' : 'success');
    return c.redirect(tiHref(graph.dag.id, runId, taskId), 303);
  });

  // Backfill: the form, its dry run (what would be created), then the backfill.
  const backfillPage = (graph: DagGraph, values: { from: string; to: string; rerun: boolean }, result: SafeHtml | '') => page(`Backfill ${graph.dag.id}`, html`<h1>Backfill <a href="${dagHref(graph.dag.id)}">${graph.dag.id}</a></h1>
<form method="post" class="backfill"><div class="field"><label for="from">From (logical date, ${graph.options.timetable.timezone})</label><input id="from" name="from" type="text" required placeholder="2026-01-01" value="${values.from}"></div>
<div class="field"><label for="to">To (a day includes all of it)</label><input id="to" name="to" type="text" required placeholder="2026-01-31" value="${values.to}"></div>
<div class="field"><label><input type="checkbox" name="rerun_failed" ${values.rerun ? html`checked` : ''}> re-run failed runs in the range</label></div>
<button type="submit" name="action" value="dry">Dry run</button></form>${result}`);
  app.get('/dags/:dag_id/backfill', (c) => send(c, backfillPage(graphOf(c.req.param('dag_id')), { from: '', to: '', rerun: false }, '')));
  app.post('/dags/:dag_id/backfill', async (c) => {
    const graph = graphOf(c.req.param('dag_id'));
    const form = await c.req.parseBody();
    const values = { from: String(form.from ?? ''), to: String(form.to ?? ''), rerun: form.rerun_failed === 'on' || form.rerun_failed === '1' };
    const create = form.action === 'create';
    try {
      const summary = await runBackfill(deps, graph, { from: values.from, to: values.to, conf: validateParams(graph.dag, {}), rerunFailed: values.rerun, dryRun: !create, json: true });
      if (create) return c.redirect(dagHref(graph.dag.id), 303);
      const result = html`<h2>Dry run</h2><pre>${summary.text}</pre>
${summary.planned.length ? html`<ul class="preview">${summary.planned.slice(0, 50).map((d) => html`<li>${d}</li>`)}</ul>${summary.planned.length > 50 ? html`<p class="muted">… and ${summary.planned.length - 50} more</p>` : ''}` : ''}
<form method="post"><input type="hidden" name="from" value="${values.from}"><input type="hidden" name="to" value="${values.to}"><input type="hidden" name="rerun_failed" value="${values.rerun ? '1' : '0'}">
<button type="submit" name="action" value="create" class="primary">Create ${summary.planned.length} run(s)</button></form>`;
      return send(c, backfillPage(graph, values, result));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return send(c, backfillPage(graph, values, html`<p class="error" role="alert">${err.message}</p>`), 422);
    }
  });

  // An artifact as its task stored it, sandboxed: its HTML can neither run scripts nor reach this origin.
  app.get('/dags/:dag_id/runs/:run_id/artifacts/:task_id/:name', async (c) => {
    const { run_id: runId, task_id: taskId, name } = c.req.param();
    const tryText = c.req.query('try');
    const a = await getArtifact(pool, runId, taskId, name, tryText ? Number(tryText) : undefined);
    c.header('Content-Security-Policy', "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'");
    c.header('Content-Disposition', `${c.req.query('download') ? 'attachment' : 'inline'}; filename="${a.name}"`);
    return c.body(new Uint8Array(a.content), 200, { 'Content-Type': a.content_type });
  });

  app.get('/workers', async (c) => {
    const rows = await listWorkers(pool, 100);
    const body = html`<h1>Workers</h1><table class="workers"><thead><tr><th>worker</th><th>status</th><th>version</th><th>queue</th><th>slots</th><th>running</th><th>last seen</th><th>DAGs</th><th>broken files</th></tr></thead><tbody>
${rows.map((w) => html`<tr><td><code>${String(w.worker_id)}</code></td><td>${stateBadge(String(w.status))}</td><td>${String(w.version)}</td><td>${String(w.queue)}</td><td>${String(w.concurrency)}</td><td>${String(w.running)}</td><td>${time(w.last_seen_at as Date)}</td>
<td>${((w.dags as { dag_id: string }[]) ?? []).map((d) => html`<span class="tag">${d.dag_id}</span>`)}</td><td>${((w.broken as { file: string }[]) ?? []).map((b) => html`<code>${b.file}</code> `)}</td></tr>`)}</tbody></table>`;
    return send(c, page('Workers', body, { live: { 'live-workers': '1' } }));
  });
}

