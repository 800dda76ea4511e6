/**
 * A DAG drawn as SVG on the server: tasks in layers by their longest path from a root,
 * edges as curves, each node coloured by its state in the selected run. No layout
 * library: DAGs are small, and the layered drawing is what Airflow's graph shows.
 */
import type { DagGraph } from '../../loader/graph.ts';
import { html, type SafeHtml } from './html.ts';

const W = 170;
const H = 34;
const GAP_X = 60;
const GAP_Y = 16;

export function graphSvg(graph: DagGraph, states: Map<string, string>, link: (taskId: string) => string | undefined): SafeHtml {
  const layer = new Map<string, number>();
  for (const id of graph.order) {
    const ups = graph.tasks.get(id)!.upstream;
    layer.set(id, ups.length ? Math.max(...ups.map((u) => layer.get(u)!)) + 1 : 0);
  }
  const columns: string[][] = [];
  for (const id of graph.order) (columns[layer.get(id)!] ??= []).push(id);
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((ids, c) => ids.forEach((id, r) => pos.set(id, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) })));
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  const edges = graph.order.flatMap((id) => graph.tasks.get(id)!.upstream.map((u) => {
    const a = pos.get(u)!;
    const b = pos.get(id)!;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    return html`<path class="edge" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" marker-end="url(#arrow)"/>`;
  }));
  const nodes = graph.order.map((id) => {
    const p = pos.get(id)!;
    const state = states.get(id) ?? 'none';
    const href = link(id);
    const node = html`<g class="node s-${state}" data-task="${id}"><rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6"/><text x="${p.x + 10}" y="${p.y + H / 2 + 5}">${id.length > 22 ? `${id.slice(0, 21)}…` : id}</text><title>${id}: ${state}</title></g>`;
    return href ? html`<a href="${href}">${node}</a>` : node;
  });
  return html`<svg class="graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="graph of ${graph.dag.id}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>${edges}${nodes}</svg>`;
}

/** A Gantt chart of a run's tries: one bar per try, on the run's time axis. */
export function ganttSvg(tries: { task_id: string; try_number: number; state: string; start: Date | null; end: Date | null }[]): SafeHtml {
  const timed = tries.filter((t) => t.start);
  if (!timed.length) return html`<p class="muted">No task has started yet.</p>`;
  const t0 = Math.min(...timed.map((t) => t.start!.getTime()));
  const t1 = Math.max(...timed.map((t) => (t.end ?? new Date()).getTime()), t0 + 1);
  const rowH = 22;
  const labelW = 190;
  const plotW = 600;
  const rows = timed.map((t, i) => {
    const x = labelW + ((t.start!.getTime() - t0) / (t1 - t0)) * plotW;
    const w = Math.max(2, (((t.end ?? new Date()).getTime() - t.start!.getTime()) / (t1 - t0)) * plotW);
    const y = 6 + i * rowH;
    return html`<g class="bar s-${t.state}"><text x="4" y="${y + 14}">${t.task_id} #${t.try_number}</text><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 6}" rx="3"/><title>${t.task_id} try ${t.try_number}: ${t.state}</title></g>`;
  });
  return html`<svg class="gantt" viewBox="0 0 ${labelW + plotW + 10} ${12 + timed.length * rowH}" width="${labelW + plotW + 10}" height="${12 + timed.length * rowH}" role="img" aria-label="Gantt chart of the run's tries">${rows}<text class="axis" x="${labelW}" y="${10 + timed.length * rowH}">0 s</text><text class="axis" x="${labelW + plotW - 60}" y="${10 + timed.length * rowH}">${((t1 - t0) / 1000).toFixed(1)} s</text></svg>`;
}
