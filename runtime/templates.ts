/**
 * Email templates: nunjucks files in `templates/` (found next to this module, not
 * from the working directory). HTML templates autoescape every value and get their
 * CSS inlined by juice, since most mail clients drop `<style>` blocks; the `.txt`
 * twin renders the plain-text part without escaping (it is not HTML).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import juice from 'juice';
import nunjucks from 'nunjucks';

/** The `templates/` folder of this checkout. */
export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates');

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

function environment(autoescape: boolean): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(TEMPLATES_DIR, { noCache: false }), {
    autoescape,
    throwOnUndefined: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
  env.addFilter('fixed', (value: unknown, digits = 2) => {
    const n = toNumber(value);
    return n === null ? String(value ?? '') : n.toFixed(digits);
  });
  env.addFilter('thousands', (value: unknown) => {
    const n = toNumber(value);
    return n === null ? String(value ?? '') : Math.round(n).toLocaleString('en-US');
  });
  env.addFilter('pad', (value: unknown, width = 8) => String(value ?? '').padEnd(width));
  return env;
}

// Built on first use: importing this module (e.g. from a DAG file) does no I/O.
let htmlEnv: nunjucks.Environment | undefined;
let textEnv: nunjucks.Environment | undefined;

/** Render `templates/<name>` (a `.html.njk` is autoescaped, anything else is not). */
export function renderTemplate(name: string, context: Record<string, unknown>): string {
  const env = name.endsWith('.html.njk') ? (htmlEnv ??= environment(true)) : (textEnv ??= environment(false));
  return env.render(name, context);
}

export interface RenderedEmail {
  /** HTML with CSS inlined. */
  html: string;
  /** Plain-text part. */
  text: string;
}

/**
 * Render an email from `templates/<base>.html.njk` and `templates/<base>.txt.njk`,
 * e.g. `renderEmail('threshold-alert', {...})`.
 */
export function renderEmail(base: string, context: Record<string, unknown>): RenderedEmail {
  const html = juice(renderTemplate(`${base}.html.njk`, context));
  const text = renderTemplate(`${base}.txt.njk`, context).replace(/\n{3,}/g, '\n\n').trim() + '\n';
  return { html, text };
}
