/**
 * The rules a DAG must follow, written once over a neutral shape that both the loader
 * (a DAG imported and built: ./graph.ts) and static discovery (a DAG read from its
 * source without running it: ../discovery/static-reader.ts) describe. Each caller
 * places the problems: the loader prefixes the file, the static reader adds the line
 * and column of the option, task or upstream entry a problem names.
 */
import { DateTime } from 'luxon';
import { ID_PATTERN } from '../authoring/dag.ts';
import { TRIGGER_RULES } from '../states.ts';
import { parseTimetable } from '../schedule/timetable.ts';

/** A task as declared. A field left undefined was not given or could not be read: it is not checked. */
export interface TaskShape {
  id: unknown;
  upstream: readonly string[];
  triggerRule?: unknown;
  retries?: unknown;
  retryDelayMs?: unknown;
  maxRetryDelayMs?: unknown;
  timeoutMs?: unknown;
  memoryLimitMb?: unknown;
  produces?: unknown;
  pool?: unknown;
  poolSlots?: unknown;
  queue?: unknown;
  /** False when the declaration has no function to run; undefined when not known. */
  hasFunction?: boolean;
  /** Problems noticed while declaring (bad upstream values). */
  declarationProblems?: readonly string[];
}

/** A DAG as declared: options as given (undefined: absent or unreadable), tasks in declaration order, duplicates included. */
export interface DagShape {
  id: unknown;
  options: {
    params?: unknown;
    maxActiveRuns?: unknown;
    dagrunTimeoutMs?: unknown;
    deadline?: unknown;
    trigger?: unknown;
    pools?: unknown;
    timezone?: unknown;
    startDate?: unknown;
    endDate?: unknown;
    alertRecipients?: unknown;
    alertWebhooks?: unknown;
    schedule?: unknown;
    catchup?: unknown;
  };
  tasks: readonly TaskShape[];
  /**
   * False when the shape may be missing tasks or options (static reading was unsure):
   * the rules that need all of them (unknown upstream, no tasks, cycles, the schedule)
   * are left to the loader.
   */
  complete: boolean;
}

export type DagProblemCode = 'bad_id' | 'invalid_option' | 'duplicate_task_id' | 'unknown_upstream' | 'cycle' | 'no_tasks';

/** One broken rule. `message` carries no prefix; `task` (with `taskIndex` into shape.tasks), `option` and `upstreamIndex` say where. */
export interface DagProblem {
  code: DagProblemCode;
  message: string;
  task?: string;
  taskIndex?: number;
  option?: string;
  upstreamIndex?: number;
}

/** What an asset name may be: a table name, a URI-ish path (`warehouse.trips_gold`, `s3://bucket/key`). */
export const ASSET_NAME_RULE = '1-200 of letters, digits and . _ - : /';
const isAssetName = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9._:/-]{1,200}$/.test(v);

/** A pool's name: `quickbooks`, `warehouse_writes`. */
export const POOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** Task queue names (TaskOptions.queue, `weir worker --queues`). */
export const QUEUE_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const nonNegativeInteger = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const positiveNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Every problem of a DAG, not just the first. */
export function dagProblems(shape: DagShape): DagProblem[] {
  const problems: DagProblem[] = [];
  const o = shape.options;
  const option = (name: string, message: string) => problems.push({ code: 'invalid_option', option: name, message });

  if (typeof shape.id !== 'string' || !ID_PATTERN.test(shape.id)) problems.push({ code: 'bad_id', option: 'id', message: `id must match ${ID_PATTERN} (lowercase letters, digits, underscores; starts with a letter)` });
  if (o.params !== undefined && (typeof o.params !== 'object' || o.params === null || typeof (o.params as { safeParse?: unknown }).safeParse !== 'function')) option('params', 'params must be a zod schema (z.object({...}))');
  if (o.maxActiveRuns !== undefined && !(nonNegativeInteger(o.maxActiveRuns) && (o.maxActiveRuns as number) >= 1)) option('maxActiveRuns', `maxActiveRuns must be an integer >= 1, got ${String(o.maxActiveRuns)}`);
  if (o.dagrunTimeoutMs !== undefined && !positiveNumber(o.dagrunTimeoutMs)) option('dagrunTimeoutMs', 'dagrunTimeoutMs must be a positive number of milliseconds');
  if (o.trigger !== undefined) {
    const t = o.trigger as { files?: { folder?: unknown; pattern?: unknown; settleMs?: unknown; param?: unknown; identity?: unknown }; assets?: unknown } | null;
    const f = t?.files;
    if (t && 'assets' in t && !('files' in t)) {
      if (!Array.isArray(t.assets) || !t.assets.length || t.assets.some((a) => !isAssetName(a))) option('trigger', `trigger.assets must be a non-empty list of asset names (${ASSET_NAME_RULE})`);
    } else if (!f || typeof f.folder !== 'string' || !f.folder || typeof f.pattern !== 'string' || !f.pattern || f.pattern.includes('/')
      || (f.settleMs !== undefined && !(typeof f.settleMs === 'number' && f.settleMs >= 0)) || (f.param !== undefined && typeof f.param !== 'string')
      || (f.identity !== undefined && f.identity !== 'stat' && f.identity !== 'content')) {
      option('trigger', "trigger must be { files: { folder, pattern (a file-name glob such as \"*.csv\", no \"/\"), settleMs (>= 0), param (a param name), identity ('stat' or 'content') } } or { assets: [names] }");
    } else {
      const shape = (o.params as { shape?: Record<string, unknown> } | undefined)?.shape;
      if (!shape || !((f.param ?? 'file') in shape)) option('trigger', `a file trigger passes the file's path in the param "${f.param ?? 'file'}": declare it in params (z.string())`);
    }
  }
  if (o.pools !== undefined && (typeof o.pools !== 'object' || o.pools === null || Object.entries(o.pools).some(([n, v]) => !POOL_NAME.test(n) || !nonNegativeInteger(v)))) {
    option('pools', `pools must be { name: slots } with names matching ${POOL_NAME} and slots integers >= 0`);
  }
  if (o.deadline !== undefined) {
    const dl = o.deadline as { withinMs?: unknown; of?: unknown } | null;
    if (typeof dl !== 'object' || dl === null || !positiveNumber(dl.withinMs) || (dl.of !== undefined && dl.of !== 'data_interval_end' && dl.of !== 'created')) {
      option('deadline', "deadline must be { withinMs: a positive number of milliseconds, of: 'data_interval_end' (default) or 'created' }");
    }
  }
  if (o.timezone !== undefined && !(typeof o.timezone === 'string' && DateTime.now().setZone(o.timezone).isValid)) option('timezone', `timezone "${String(o.timezone)}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  for (const name of ['startDate', 'endDate'] as const) {
    const value = o[name];
    if (value !== undefined && !(typeof value === 'string' && DateTime.fromISO(value).isValid)) option(name, `${name} "${String(value)}" is not an ISO date (e.g. "2024-01-01")`);
  }
  if (o.alertRecipients !== undefined && (!Array.isArray(o.alertRecipients) || o.alertRecipients.some((r) => typeof r !== 'string' || !r.includes('@')))) option('alertRecipients', 'alertRecipients must be a list of email addresses');
  if (o.alertWebhooks !== undefined && (!Array.isArray(o.alertWebhooks) || o.alertWebhooks.some((w) => typeof w !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(w)))) option('alertWebhooks', 'alertWebhooks must be a list of webhook names (letters, digits, underscores), each configured as WEIR_WEBHOOK_<NAME>');

  const ids = new Set<string>();
  const first = new Map<string, TaskShape>();
  shape.tasks.forEach((t, taskIndex) => {
    const id = String(t.id);
    const at = { task: id, taskIndex };
    if (ids.has(id)) {
      problems.push({ code: 'duplicate_task_id', ...at, message: 'task id declared more than once' });
      return;
    }
    ids.add(id);
    first.set(id, t);
    if (typeof t.id !== 'string' || !ID_PATTERN.test(t.id)) problems.push({ code: 'bad_id', ...at, message: `task id must match ${ID_PATTERN}` });
    for (const p of t.declarationProblems ?? []) problems.push({ code: 'invalid_option', ...at, message: p });
    t.upstream.forEach((up, upstreamIndex) => {
      if (up === id) problems.push({ code: 'cycle', ...at, upstreamIndex, message: 'depends on itself' });
    });
    const taskOption = (message: string) => problems.push({ code: 'invalid_option', ...at, message });
    if (t.triggerRule !== undefined && !(TRIGGER_RULES as unknown[]).includes(t.triggerRule)) taskOption(`triggerRule "${String(t.triggerRule)}" is not one of ${TRIGGER_RULES.join(', ')}`);
    if (t.retries !== undefined && !nonNegativeInteger(t.retries)) taskOption(`retries must be an integer >= 0, got ${String(t.retries)}`);
    if (t.retryDelayMs !== undefined && !(typeof t.retryDelayMs === 'number' && t.retryDelayMs >= 0)) taskOption('retryDelayMs must be >= 0');
    if (t.maxRetryDelayMs !== undefined && !positiveNumber(t.maxRetryDelayMs)) taskOption('maxRetryDelayMs must be > 0');
    if (t.timeoutMs !== undefined && !positiveNumber(t.timeoutMs)) taskOption('timeoutMs must be a positive number of milliseconds');
    if (t.memoryLimitMb !== undefined && !(positiveNumber(t.memoryLimitMb) && (t.memoryLimitMb as number) >= 16)) taskOption('memoryLimitMb must be a number of megabytes >= 16');
    if (t.produces !== undefined && (!Array.isArray(t.produces) || t.produces.some((a) => !isAssetName(a)))) taskOption(`produces must be a list of asset names (${ASSET_NAME_RULE})`);
    if (t.pool !== undefined && !(typeof t.pool === 'string' && POOL_NAME.test(t.pool))) taskOption(`pool must be a pool name (${POOL_NAME})`);
    if (t.poolSlots !== undefined && !(nonNegativeInteger(t.poolSlots) && (t.poolSlots as number) >= 1)) taskOption('poolSlots must be an integer >= 1');
    if (t.queue !== undefined && !(typeof t.queue === 'string' && QUEUE_NAME.test(t.queue))) taskOption(`queue must be a queue name (${QUEUE_NAME})`);
    if (t.hasFunction === false) taskOption('needs a function to run');
  });
  if (!shape.complete) return problems;

  if (!first.size) problems.push({ code: 'no_tasks', message: 'has no tasks; declare at least one with d.task({ id }, fn)' });
  shape.tasks.forEach((t, taskIndex) => {
    if (first.get(String(t.id)) !== t) return;
    t.upstream.forEach((up, upstreamIndex) => {
      if (up !== t.id && !first.has(up)) problems.push({ code: 'unknown_upstream', task: String(t.id), taskIndex, upstreamIndex, message: `upstream "${up}" is not a task of this DAG` });
    });
  });
  const cycle = findCycle({ tasks: first });
  if (cycle) problems.push({ code: 'cycle', task: cycle[0], taskIndex: shape.tasks.indexOf(first.get(cycle[0]!)!), message: `cycle ${cycle.join(' -> ')}` });
  // The schedule's own rules (cron, presets, @once and catchup needing a startDate), as the scheduler applies them.
  if (!problems.length) {
    try {
      parseTimetable(o as Parameters<typeof parseTimetable>[0]);
    } catch (err) {
      option('schedule', (err as Error).message);
    }
  }
  return problems;
}

/** A cycle as a list of ids whose first and last entries are equal (in dependency order), or undefined. */
export function findCycle(dag: { tasks: ReadonlyMap<string, { upstream: readonly string[] }> }): string[] | undefined {
  const color = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    color.set(id, 1);
    stack.push(id);
    for (const up of dag.tasks.get(id)?.upstream ?? []) {
      if (!dag.tasks.has(up) || up === id) continue;
      if (color.get(up) === 1) return [...stack.slice(stack.indexOf(up)), up].reverse();
      if (!color.has(up)) {
        const found = visit(up);
        if (found) return found;
      }
    }
    stack.pop();
    color.set(id, 2);
    return undefined;
  };
  for (const id of dag.tasks.keys()) {
    if (!color.has(id)) {
      const found = visit(id);
      if (found) return found;
    }
  }
  return undefined;
}
