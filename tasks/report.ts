/**
 * Reports with pictures: a bar chart drawn as SVG (for the browser, and for reports kept
 * as HTML), rendered to PNG with resvg (mail clients strip SVG and scripts) and sent inline
 * as a CID attachment of a report email, with KPIs and tables, through ctx.queueEmail (sent
 * once the try succeeds, retried through SMTP outages).
 *
 * ```ts
 * import { barChartSvg, reportEmail } from 'weir/tasks/report';
 * const chart = barChartSvg({ title: 'Revenue by category', unit: 'USD', bars: rows.map((r) => ({ label: r.category, value: r.revenue })) });
 * ctx.queueEmail(reportEmail({ to, title: `Sales ${day}`, kpis: [{ label: 'Revenue', value: '12,340.00 USD' }], charts: [chart], tables: [], dagId: ctx.dagId, runId: ctx.runId }));
 * const html = reportHtml({ ... });   // the same report for a browser, the chart inline as SVG
 * ```
 */
import { Resvg } from '@resvg/resvg-js';
import type { QueuedEmail } from '../runtime/authoring/dag.ts';
import { escapeHtml } from '../runtime/server/ui/html.ts';

export interface Bar {
  label: string;
  value: number;
}

export interface Chart {
  title: string;
  svg: string;
  width: number;
  height: number;
}

const fmt = (n: number) => (Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : Number(n.toFixed(2)).toString());

/** A horizontal bar chart as SVG text; labels and values are escaped. */
export function barChartSvg(options: { title: string; bars: readonly Bar[]; unit?: string; width?: number }): Chart {
  const width = options.width ?? 640;
  const rowH = 26;
  const labelW = 170;
  const valueW = 110;
  const top = 34;
  const bars = options.bars.slice(0, 30);
  const height = top + bars.length * rowH + 12;
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const plot = width - labelW - valueW - 20;
  const rows = bars.map((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (Math.max(0, b.value) / max) * plot);
    return `<text x="${labelW - 8}" y="${y + 17}" text-anchor="end" font-size="13">${escapeHtml(b.label.slice(0, 24))}</text>`
      + `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="3" fill="#2563eb"/>`
      + `<text x="${labelW + w + 6}" y="${y + 17}" font-size="12" fill="#374151">${escapeHtml(fmt(b.value))}${options.unit ? ` ${escapeHtml(options.unit)}` : ''}</text>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">`
    + `<rect width="100%" height="100%" fill="#ffffff"/>`
    + `<text x="12" y="22" font-size="15" font-weight="bold" fill="#111827">${escapeHtml(options.title)}</text>${rows.join('')}</svg>`;
  return { title: options.title, svg, width, height };
}

/** The chart as PNG bytes, at `scale` times its size (2: sharp on high-density screens). */
export function chartPng(chart: Chart, scale = 2): Buffer {
  const resvg = new Resvg(chart.svg, { fitTo: { mode: 'width', value: chart.width * scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return Buffer.from(resvg.render().asPng());
}

export interface Report {
  to: string | string[];
  title: string;
  subtitle?: string;
  kpis: { label: string; value: string }[];
  tables: { title: string; columns: string[]; rows: unknown[][] }[];
  charts: Chart[];
  dagId: string;
  runId: string;
}

/** The report as an email (`templates/report`): each chart a PNG inline attachment. */
export function reportEmail(report: Report): QueuedEmail {
  const charts = report.charts.map((c, i) => ({ title: c.title, cid: `chart-${i + 1}@weir`, width: c.width, height: c.height, png: chartPng(c) }));
  return {
    to: report.to,
    subject: `[weir] ${report.title}`,
    template: 'report',
    context: { ...report, charts: charts.map(({ png: _png, ...c }) => c) },
    images: charts.map((c, i) => ({ cid: c.cid, filename: `chart-${i + 1}.png`, pngBase64: c.png.toString('base64') })),
  };
}

/** The report as a standalone HTML page for a browser: the charts inline as SVG. */
export function reportHtml(report: Omit<Report, 'to'>): string {
  const e = escapeHtml;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(report.title)}</title></head><body style="font-family: sans-serif; max-width: 760px; margin: 2rem auto">`
    + `<h1>${e(report.title)}</h1>${report.subtitle ? `<p>${e(report.subtitle)}</p>` : ''}`
    + `<table>${report.kpis.map((k) => `<tr><td>${e(k.label)}</td><td><strong>${e(k.value)}</strong></td></tr>`).join('')}</table>`
    + report.charts.map((c) => `<figure>${c.svg}</figure>`).join('')
    + report.tables.map((t) => `<h2>${e(t.title)}</h2><table><tr>${t.columns.map((h) => `<th>${e(h)}</th>`).join('')}</tr>${t.rows.map((r) => `<tr>${r.map((v) => `<td>${e(String(v))}</td>`).join('')}</tr>`).join('')}</table>`).join('')
    + `<p>DAG ${e(report.dagId)}, run ${e(report.runId)}.</p></body></html>`;
}
