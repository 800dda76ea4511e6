/**
 * Validation of a declared DAG and the resolved graph the engine runs on.
 * Every problem is collected (not just the first), each naming file and task.
 */
import { DateTime } from 'luxon';
import { ID_PATTERN, type Dag, type TaskDefinition } from '../authoring/dag.ts';
import { TRIGGER_RULES } from '../states.ts';

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
  downstream: Map<string, string[]>;
  roots: string[];
  leaves: string[];
}

const nonNegativeInteger = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const positiveNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Every problem of a DAG, each a one-line message starting with `file:`. */
export function validateDag(dag: Dag, file: string): string[] {
  const problems: string[] = [];
  const where = (task?: string) => (task ? `${file}: DAG "${dag.id}" task "${task}"` : `${file}: DAG "${String(dag.id)}"`);
  const o = dag.options;

  if (typeof dag.id !== 'string' || !ID_PATTERN.test(dag.id)) problems.push(`${where()}: id must match ${ID_PATTERN} (lowercase letters, digits, underscores; starts with a letter)`);
  if (o.params !== undefined && (typeof o.params !== 'object' || typeof (o.params as { safeParse?: unknown }).safeParse !== 'function')) problems.push(`${where()}: params must be a zod schema (z.object({...}))`);
  if (o.maxActiveRuns !== undefined && !(nonNegativeInteger(o.maxActiveRuns) && o.maxActiveRuns >= 1)) problems.push(`${where()}: maxActiveRuns must be an integer >= 1, got ${String(o.maxActiveRuns)}`);
  if (o.dagrunTimeoutMs !== undefined && !positiveNumber(o.dagrunTimeoutMs)) problems.push(`${where()}: dagrunTimeoutMs must be a positive number of milliseconds`);
  if (o.timezone !== undefined && !DateTime.now().setZone(o.timezone).isValid) problems.push(`${where()}: timezone "${o.timezone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  for (const [name, value] of [['startDate', o.startDate], ['endDate', o.endDate]] as const) {
    if (value !== undefined && !DateTime.fromISO(value).isValid) problems.push(`${where()}: ${name} "${value}" is not an ISO date (e.g. "2024-01-01")`);
  }
  if (o.alertRecipients !== undefined && (!Array.isArray(o.alertRecipients) || o.alertRecipients.some((r) => typeof r !== 'string' || !r.includes('@')))) problems.push(`${where()}: alertRecipients must be a list of email addresses`);
  if (dag.tasks.size === 0) problems.push(`${where()}: has no tasks; declare at least one with d.task({ id }, fn)`);

  for (const id of dag.duplicateTaskIds) problems.push(`${where(id)}: task id declared more than once`);
  for (const [id, t] of dag.tasks) {
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) problems.push(`${where(id)}: task id must match ${ID_PATTERN}`);
    for (const p of t.declarationProblems) problems.push(`${where(id)}: ${p}`);
    for (const up of t.upstream) {
      if (up === id) problems.push(`${where(id)}: depends on itself`);
      else if (!dag.tasks.has(up)) problems.push(`${where(id)}: upstream "${up}" is not a task of this DAG`);
    }
    if (!TRIGGER_RULES.includes(t.triggerRule)) problems.push(`${where(id)}: triggerRule "${t.triggerRule}" is not one of ${TRIGGER_RULES.join(', ')}`);
    if (!nonNegativeInteger(t.retries)) problems.push(`${where(id)}: retries must be an integer >= 0, got ${String(t.retries)}`);
    if (!(typeof t.retryDelayMs === 'number' && t.retryDelayMs >= 0)) problems.push(`${where(id)}: retryDelayMs must be >= 0`);
    if (!positiveNumber(t.maxRetryDelayMs)) problems.push(`${where(id)}: maxRetryDelayMs must be > 0`);
    if (t.timeoutMs !== undefined && !positiveNumber(t.timeoutMs)) problems.push(`${where(id)}: timeoutMs must be a positive number of milliseconds`);
    if (t.memoryLimitMb !== undefined && !(positiveNumber(t.memoryLimitMb) && t.memoryLimitMb >= 16)) problems.push(`${where(id)}: memoryLimitMb must be a number of megabytes >= 16`);
    if (typeof t.fn !== 'function') problems.push(`${where(id)}: needs a function to run`);
  }
  const cycle = findCycle(dag);
  if (cycle) problems.push(`${where(cycle[0])}: cycle ${cycle.join(' -> ')}`);
  return problems;
}

/** A cycle as a list of ids whose first and last entries are equal, or undefined. */
export function findCycle(dag: Dag): string[] | undefined {
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
    downstream,
    roots: order.filter((id) => dag.tasks.get(id)!.upstream.length === 0),
    leaves: order.filter((id) => downstream.get(id)!.length === 0),
  };
}
