/** The page frame, the state colours, and small renderers shared by the UI's pages. */
import { html, raw, type SafeHtml } from './html.ts';

/**
 * A page. `live` pages follow the event stream from `eventsFrom`, the hub's last event id
 * read before the page read its data, so no change between the two is missed.
 */
export function page(title: string, body: SafeHtml, options: { live?: Record<string, string>; eventsFrom?: string } = {}): string {
  const live = Object.entries({ ...(options.live ?? {}), ...(options.eventsFrom ? { 'events-from': options.eventsFrom } : {}) }).map(([k, v]) => html` data-${raw(k)}="${v}"`);
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · weir</title><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
<body${live}><header><a class="brand" href="/">weir</a><nav><a href="/">DAGs</a><a href="/workers">Workers</a><a href="/api/v2/openapi.json">API</a></nav>
<form method="post" action="/logout" class="logout"><button type="submit">Log out</button></form></header>
<main>${body}</main></body></html>`.text}`;
}

export function stateBadge(state: string | null | undefined): SafeHtml {
  const s = state ?? 'none';
  return html`<span class="state s-${s}">${s}</span>`;
}

export function time(d: Date | string | null | undefined): string {
  return d ? new Date(d).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** JSON for display in a <pre>, escaped by html``. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/** A page for an error the UI met (an unknown DAG or run): its message, escaped. */
export function errorPage(status: number, message: string): string {
  return page(status === 404 ? 'Not found' : 'Error', html`<h1>${status === 404 ? 'Not found' : 'Something is wrong'}</h1><p class="error">${message}</p><p><a href="/">All DAGs</a></p>`);
}
