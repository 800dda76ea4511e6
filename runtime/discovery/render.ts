/**
 * Printing discovery results: the `weir dags list` table and its `--json`
 * document, and `weir dags show --format tree|mermaid|dot|json`. JSON keys use
 * Airflow's snake_case words (dag_id, task_id, trigger_rule), like the rest of
 * the CLI's output.
 */
import path from 'node:path';
import { formatDiagnostic, type DagRecord, type DiscoveryResult } from './types.ts';

/** Paused state per DAG id, as read from the database by the caller (absent: unknown). */
export type PausedLookup = ReadonlyMap<string, boolean> | Readonly<Record<string, boolean>>;

export interface TableOptions {
  /** From the database when reachable; the column shows `-` otherwise. */
  paused?: PausedLookup;
  /** Files are shown relative to this folder. Default: the working directory. */
  cwd?: string;
}

export type GraphFormat = 'tree' | 'mermaid' | 'dot' | 'json';
export const GRAPH_FORMATS: readonly GraphFormat[] = ['tree', 'mermaid', 'dot', 'json'];

const pausedOf = (lookup: PausedLookup | undefined, id: string): boolean | null => {
  if (!lookup) return null;
  const v = lookup instanceof Map ? lookup.get(id) : (lookup as Record<string, boolean>)[id];
  return typeof v === 'boolean' ? v : null;
};
const rel = (file: string, cwd = process.cwd()) => {
  const r = path.relative(cwd, file);
  return r.startsWith('..') ? file : r;
};

/**
 * The `weir dags list` table: one row per DAG (broken ones included), then
 * every error as `file:line:column: reason`, then files that yielded no DAG.
 */
export function formatDagTable(result: DiscoveryResult, options: TableOptions = {}): string {
  const header = ['dag_id', 'file', 'schedule', 'timezone', 'tags', 'owner', 'tasks', 'paused', 'errors'];
  const rows = result.dags.map((d) => {
    const paused = pausedOf(options.paused, d.dagId);
    return [
      d.dagId,
      rel(d.file, options.cwd),
      d.schedule ?? 'manual',
      d.timezone,
      d.tags.join(',') || '-',
      d.owner ?? '-',
      `${d.tasks.length}${d.uncertain.length ? '*' : ''}`,
      paused === null ? '-' : String(paused),
      d.errors.length ? String(d.errors.length) : '-',
    ];
  });
  for (const b of result.broken) rows.push(['-', rel(b.file, options.cwd), '-', '-', '-', '-', '-', '-', String(b.errors.length)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const out = [line(header), ...rows.map(line)];
  if (!result.dags.length && !result.broken.length) out.push(`(no DAG files in ${result.folder})`);
  if (result.dags.some((d) => d.uncertain.length)) out.push('', '* read by loading the file in a child process: the static reading was not sure (see `weir dags show`)');
  if (result.errors.length) {
    out.push('', `errors (${result.errors.length}):`);
    for (const e of result.errors) out.push(`  ${formatDiagnostic({ ...e, file: rel(e.file, options.cwd) })}`);
  }
  return out.join('\n');
}

/** One row of `weir dags list --json`. */
export interface DagListRow {
  dag_id: string;
  file: string;
  line: number;
  column: number;
  description: string | null;
  schedule: string | null;
  timezone: string;
  tags: string[];
  owner: string | null;
  tasks: number;
  paused: boolean | null;
  /** How the graph was read: statically, or by loading the file because the static reading was unsure. */
  source: 'static' | 'runtime';
  uncertain: string[];
  /** `file:line:column: reason` lines. */
  errors: string[];
}

/** What both JSON documents say of a DAG first: its id, where it is, and its metadata. */
function jsonHeader(d: DagRecord) {
  return { dag_id: d.dagId, file: d.file, line: d.line, column: d.column, description: d.description, schedule: d.schedule, timezone: d.timezone, tags: d.tags, owner: d.owner };
}

/** The `weir dags list --json` document: `{ dags: [...], broken: [{ file, errors }] }`. */
export function toDagListJson(result: DiscoveryResult, options: { paused?: PausedLookup } = {}): { dags: DagListRow[]; broken: Array<{ file: string; errors: string[] }> } {
  return {
    dags: result.dags.map((d) => ({
      ...jsonHeader(d),
      tasks: d.tasks.length,
      paused: pausedOf(options.paused, d.dagId),
      source: d.source,
      uncertain: d.uncertain,
      errors: d.errors.map(formatDiagnostic),
    })),
    broken: result.broken.map((b) => ({ file: b.file, errors: b.errors.map(formatDiagnostic) })),
  };
}

/** `weir dags show --format json`: the graph with downstream lists, snake_case. */
export function toDagGraphJson(d: DagRecord) {
  const downstream = downstreamOf(d);
  return {
    ...jsonHeader(d),
    catchup: d.catchup,
    max_active_runs: d.maxActiveRuns,
    start_date: d.startDate,
    trigger: d.trigger ? ('assets' in d.trigger ? { assets: d.trigger.assets } : { files: d.trigger }) : null,
    params: d.params?.map((p) => ({ name: p.name, type: p.type, ...(p.hasDefault ? { default: p.default ?? null } : {}), optional: p.optional })) ?? null,
    tasks: d.tasks.map((t) => ({ task_id: t.id, upstream: t.upstream, downstream: downstream.get(t.id) ?? [], trigger_rule: t.triggerRule, retries: t.retries, mapped_over: t.mapOver ?? null, line: t.line, column: t.column })),
    edges: d.edges,
    source: d.source,
    uncertain: d.uncertain,
    errors: d.errors.map(formatDiagnostic),
  };
}

/** Render one DAG's graph. `tree` is for people; mermaid and dot paste into docs and Graphviz. */
export function renderGraph(d: DagRecord, format: GraphFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(toDagGraphJson(d), null, 2);
    case 'mermaid':
      return renderMermaid(d);
    case 'dot':
      return renderDot(d);
    case 'tree':
      return renderTree(d);
  }
}

function downstreamOf(d: DagRecord): Map<string, string[]> {
  const out = new Map<string, string[]>(d.tasks.map((t) => [t.id, []]));
  for (const [up, down] of d.edges) out.get(up)?.push(down);
  return out;
}

const taskNote = (t: DagRecord['tasks'][number]) =>
  [t.mapOver ? `mapped over ${t.mapOver}` : '', t.triggerRule !== 'all_success' ? t.triggerRule : '', t.retries ? `retries=${t.retries}` : ''].filter(Boolean).join(', ');

function renderTree(d: DagRecord): string {
  const lines = [`${d.dagId}${d.description ? ` — ${d.description}` : ''}`];
  lines.push(`  file: ${rel(d.file)}:${d.line}:${d.column}`);
  lines.push(`  schedule: ${d.schedule ?? 'manual only'} (${d.timezone})${d.startDate ? `, from ${d.startDate}` : ''}, catchup ${d.catchup}${d.maxActiveRuns !== null ? `, max ${d.maxActiveRuns} active runs` : ''}`);
  if (d.trigger) lines.push('assets' in d.trigger ? `  trigger: a run when each of ${d.trigger.assets.join(', ')} has a new event` : `  trigger: a run per file matching ${d.trigger.pattern} in ${d.trigger.folder}`);
  if (d.owner || d.tags.length) lines.push(`  owner: ${d.owner ?? '-'}   tags: ${d.tags.join(', ') || '-'}`);
  if (d.params === null) lines.push('  params: (not readable statically)');
  else if (d.params.length) {
    lines.push('  params:');
    for (const p of d.params) {
      const dflt = p.hasDefault ? (p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : ' = (computed default)') : p.optional ? ' (optional)' : ' (required)';
      lines.push(`    ${p.name}: ${p.type ?? '?'}${dflt}`);
    }
  }
  lines.push(`  tasks (${d.tasks.length}):`);
  const byId = new Map(d.tasks.map((t) => [t.id, t]));
  const downstream = downstreamOf(d);
  const printed = new Set<string>();
  const walk = (id: string, prefix: string, last: boolean, top: boolean) => {
    const t = byId.get(id)!;
    const note = taskNote(t);
    const again = printed.has(id);
    lines.push(`${prefix}${top ? '' : last ? '└─ ' : '├─ '}${id}${note ? ` [${note}]` : ''}${again ? ' (see above)' : ''}`);
    if (again) return;
    printed.add(id);
    const kids = downstream.get(id) ?? [];
    const childPrefix = top ? prefix : `${prefix}${last ? '   ' : '│  '}`;
    kids.forEach((k, i) => walk(k, childPrefix, i === kids.length - 1, false));
  };
  const roots = d.tasks.filter((t) => !t.upstream.some((u) => byId.has(u) && u !== t.id)).map((t) => t.id);
  for (const r of roots) walk(r, '    ', true, true);
  // Tasks on a cycle have no root to be reached from; list them rather than hide them.
  for (const t of d.tasks) if (!printed.has(t.id)) walk(t.id, '    ', true, true);
  if (d.edges.length) {
    lines.push('  edges:');
    for (const [a, b] of d.edges) lines.push(`    ${a} -> ${b}`);
  }
  if (d.uncertain.length) {
    lines.push(`  read by loading the file (static reading unsure):`);
    for (const u of d.uncertain) lines.push(`    ${u}`);
  }
  if (d.errors.length) {
    lines.push('  errors:');
    for (const e of d.errors) lines.push(`    ${formatDiagnostic({ ...e, file: rel(e.file) })}`);
  }
  return lines.join('\n');
}

// `end` is a keyword in mermaid flowcharts; weir ids are lowercase, so `End` cannot collide.
const mermaidId = (id: string) => (id === 'end' ? 'End' : id);

function renderMermaid(d: DagRecord): string {
  const lines = ['flowchart LR'];
  for (const t of d.tasks) {
    const note = taskNote(t);
    lines.push(`  ${mermaidId(t.id)}["${t.id}${note ? `<br/><small>${note}</small>` : ''}"]`);
  }
  for (const [a, b] of d.edges) lines.push(`  ${mermaidId(a)} --> ${mermaidId(b)}`);
  return lines.join('\n');
}

function renderDot(d: DagRecord): string {
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const lines = [`digraph ${q(d.dagId)} {`, '  rankdir=LR;', '  node [shape=box];'];
  for (const t of d.tasks) {
    const note = taskNote(t);
    lines.push(`  ${q(t.id)}${note ? ` [label=${q(`${t.id}\n${note}`).replace('\n', '\\n')}]` : ''};`);
  }
  for (const [a, b] of d.edges) lines.push(`  ${q(a)} -> ${q(b)};`);
  lines.push('}');
  return lines.join('\n');
}
