/**
 * Validation of a declared DAG and the resolved graph the engine runs on.
 * Every problem is collected (not just the first), each naming file and task.
 */
import path from 'node:path';
import { DAG_DEFAULTS, DEFAULT_TASK_QUEUE, type Dag, type RouteDefinition, type TaskDefinition } from '../authoring/dag.ts';
import { parseTimetable, type Timetable } from '../schedule/timetable.ts';
import { dagProblems, findCycle, type DagShape } from './rules.ts';

/** A DAG's options with every default applied, resolved once when the graph is built. */
export interface ResolvedDagOptions {
  /** Runs admitted at once. Default 16. */
  maxActiveRuns: number;
  /** IANA zone of the schedule and of the tasks' dates. Default UTC. */
  timezone: string;
  /** Who receives alerts. Default none. */
  alertRecipients: string[];
  /** Email alertRecipients when a task fails for good. Default true. */
  emailOnFailure: boolean;
  /** Webhook names (`WEIR_WEBHOOK_<NAME>`) that hear about failures. Default none. */
  alertWebhooks: string[];
  /** Post to alertWebhooks when a task fails for good. Default true. */
  webhookOnFailure: boolean;
  /** undefined: runs have no time limit. */
  dagrunTimeoutMs: number | undefined;
  /** File-arrival trigger, the folder resolved against the DAG file's own; undefined: none. */
  fileTrigger: { folder: string; pattern: string; settleMs: number; param: string; identity: 'stat' | 'content' } | undefined;
  /** The assets whose events start a run (trigger.assets), or undefined. */
  assetTrigger: string[] | undefined;
  /** A new DAG's first registration is paused. Default false. */
  pausedOnCreation: boolean;
  /** Paused by weir once a run succeeds (DagOptions.pauseAfterSuccess). Default false. */
  pauseAfterSuccess: boolean;
  /** undefined: no deadline alerts. */
  deadline: { withinMs: number; of: 'data_interval_end' | 'created' } | undefined;
  /** The schedule, parsed and validated (`kind: 'manual'` without one). */
  timetable: Timetable;
}

export interface DagGraph {
  dag: Dag;
  file: string;
  /** Path of the file relative to the DAGs folder (what runs record and workers report). */
  relativeFile: string;
  /** Content hash of the DAG file this graph was loaded from ('inline' for DAGs built in code). */
  hash: string;
  /** Task ids in a topological order. */
  order: string[];
  tasks: Map<string, TaskDefinition>;
  /** The DAG's options, defaults applied (read these, not `dag.options`). */
  options: ResolvedDagOptions;
  downstream: Map<string, string[]>;
  roots: string[];
  leaves: string[];
  /** True when some task is mapped (`d.map`): only then do ready tasks go through expansion. */
  mapped: boolean;
}

/**
 * A task instance's id: the task's own id, or `task[i]` for instance i of a mapped task
 * (sql/queries/expand_mapped.sql makes them; task ids cannot hold brackets).
 */
export function instanceId(taskId: string, mapIndex: number): string {
  return mapIndex < 0 ? taskId : `${taskId}[${mapIndex}]`;
}

/** The task and map index (-1 when not mapped) of a task instance id. */
export function parseInstanceId(id: string): { taskId: string; mapIndex: number } {
  const m = /^(.*)\[(\d+)\]$/.exec(id);
  return m ? { taskId: m[1]!, mapIndex: Number(m[2]) } : { taskId: id, mapIndex: -1 };
}

/** Every task queue the DAGs' tasks use, `default` included: what a worker that runs everything works (standalone, dags test). */
export function taskQueuesOf(graphs: Iterable<DagGraph>): string[] {
  const queues = new Set([DEFAULT_TASK_QUEUE]);
  for (const g of graphs) for (const t of g.tasks.values()) queues.add(t.queue);
  return [...queues].sort();
}

/** The definition a task instance runs, mapped or not; undefined when its task is not in the graph. */
export function taskOf(graph: DagGraph | undefined, instance: string): TaskDefinition | undefined {
  return graph?.tasks.get(parseInstanceId(instance).taskId);
}

/** Every problem of a DAG, each a one-line message starting with `file:` (the rules: ./rules.ts). */
export function validateDag(dag: Dag, file: string): string[] {
  const o = dag.options;
  const shape: DagShape = {
    id: dag.id,
    options: o,
    tasks: [
      ...[...dag.tasks.values()].map((t) => ({ ...t, hasFunction: typeof t.fn === 'function' })),
      ...dag.duplicateTaskIds.map((id) => ({ id, upstream: [] })),
    ],
    complete: true,
  };
  const routes = (dag.routes ?? []).flatMap((r) => routeProblems(r).map((m) => `${file}: DAG "${String(dag.id)}" route "${String(r.path)}": ${m}`));
  return [...dagProblems(shape).map((p) => `${file}: DAG "${String(dag.id)}"${p.task !== undefined ? ` task "${p.task}"` : ''}: ${p.message}`), ...routes];
}

/** Paths weir's server answers itself (its API, UI, auth and metrics): no route of a DAG may take them. */
const RESERVED_PATH_LIST = '/, /api/v2/, /api/weir/, /auth/, /login, /logout, /static/, /dags/, /workers, /metrics, /ws/';
const RESERVED_PATHS = /^\/(api\/(v2|weir)|auth|login|logout|static|dags|workers|metrics|ws)(\/|$)|^\/$/;

/** What is wrong with a declared route (`d.route`), if anything. */
export function routeProblems(r: RouteDefinition): string[] {
  const out: string[] = [];
  if (typeof r.path !== 'string' || !/^\/[A-Za-z0-9_\-/:]+$/.test(r.path) || RESERVED_PATHS.test(r.path)) out.push(`path must start with / and hold only letters, digits, _, -, / and :param segments, outside weir's own paths (${RESERVED_PATH_LIST})`);
  if (!r.params || typeof (r.params as { safeParse?: unknown }).safeParse !== 'function') out.push('params must be a zod object schema');
  const shape = (r.params as { shape?: Record<string, unknown> } | undefined)?.shape;
  for (const a of r.args ?? []) if (shape && !(a in shape)) out.push(`args names "${a}", which is not one of the params`);
  for (const seg of (typeof r.path === 'string' ? r.path : '').split('/').filter((x) => x.startsWith(':'))) if (shape && !(seg.slice(1) in shape)) out.push(`path segment ${seg} is not one of the params`);
  if (r.returns !== undefined && r.returns !== 'one' && r.returns !== 'many') out.push("returns must be 'one' or 'many'");
  return out;
}

export { findCycle };

/** The graph of a valid DAG (call validateDag first). */
export function resolveGraph(dag: Dag, file: string, source: { hash?: string; relativeFile?: string } = {}): DagGraph {
  const downstream = new Map<string, string[]>([...dag.tasks.keys()].map((id) => [id, []]));
  for (const t of dag.tasks.values()) for (const up of t.upstream) downstream.get(up)!.push(t.id);
  const order: string[] = [];
  const indegree = new Map([...dag.tasks.values()].map((t) => [t.id, t.upstream.length]));
  const ready = [...dag.tasks.values()].filter((t) => t.upstream.length === 0).map((t) => t.id);
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const down of downstream.get(id)!) {
      const left = indegree.get(down)! - 1;
      indegree.set(down, left);
      if (left === 0) ready.push(down);
    }
  }
  return {
    dag,
    file,
    relativeFile: source.relativeFile ?? file,
    hash: source.hash ?? 'inline',
    order,
    tasks: dag.tasks,
    options: resolveDagOptions(dag, file),
    downstream,
    roots: order.filter((id) => dag.tasks.get(id)!.upstream.length === 0),
    leaves: order.filter((id) => downstream.get(id)!.length === 0),
    mapped: [...dag.tasks.values()].some((t) => t.mapOver !== undefined),
  };
}

/** Defaults applied once (the DAG is valid: validateDag checked its schedule). `file`: the DAG file, which a file trigger's folder is relative to. */
export function resolveDagOptions(dag: Dag, file: string): ResolvedDagOptions {
  const o = dag.options;
  const files = o.trigger && 'files' in o.trigger ? o.trigger.files : undefined;
  const assets = o.trigger && 'assets' in o.trigger ? [...new Set(o.trigger.assets)].sort() : undefined;
  return {
    maxActiveRuns: o.maxActiveRuns ?? DAG_DEFAULTS.maxActiveRuns,
    timezone: o.timezone ?? DAG_DEFAULTS.timezone,
    alertRecipients: o.alertRecipients ?? [],
    emailOnFailure: o.emailOnFailure ?? DAG_DEFAULTS.emailOnFailure,
    alertWebhooks: o.alertWebhooks ?? [],
    webhookOnFailure: o.webhookOnFailure ?? DAG_DEFAULTS.webhookOnFailure,
    dagrunTimeoutMs: o.dagrunTimeoutMs,
    pausedOnCreation: o.pausedOnCreation ?? false,
    pauseAfterSuccess: o.pauseAfterSuccess ?? false,
    fileTrigger: files ? { folder: path.resolve(path.dirname(file), files.folder), pattern: files.pattern, settleMs: files.settleMs ?? 2000, param: files.param ?? 'file', identity: files.identity ?? 'stat' } : undefined,
    assetTrigger: assets,
    deadline: o.deadline ? { withinMs: o.deadline.withinMs, of: o.deadline.of ?? 'data_interval_end' } : undefined,
    timetable: parseTimetable(o),
  };
}
