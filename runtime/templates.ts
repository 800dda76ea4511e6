/**
 * Email templates: nunjucks files in `templates/` (found next to this module, not
 * from the working directory). HTML templates autoescape every value and get their
 * CSS inlined by juice, since most mail clients drop `<style>` blocks; the `.txt`
 * twin renders the plain-text part without escaping (it is not HTML).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import juice from 'juice';
import nunjucks from 'nunjucks';
import { NonRetryableError } from './errors.ts';

/** The `templates/` folder of this checkout. */
export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates');

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

function environment(autoescape: boolean, dir?: string): nunjucks.Environment {
  // A DAG's own templates come first; weir's (`_styles.css.njk`, …) stay includable.
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir ? [dir, TEMPLATES_DIR] : TEMPLATES_DIR, { noCache: false }), {
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

// Built on first use, per folder: importing this module (e.g. from a DAG file) does no I/O.
const environments = new Map<string, nunjucks.Environment>();

/**
 * Render a template (a `.html.njk` is autoescaped, anything else is not): a name in weir's
 * `templates/`, or a `file:` URL of one beside a DAG (`new URL('./alert', import.meta.url).href`
 * + `.html.njk`). A template that does not exist fails for good, naming its path.
 */
export function renderTemplate(name: string, context: Record<string, unknown>): string {
  const autoescape = name.endsWith('.html.njk');
  let dir: string | undefined;
  let file = name;
  if (name.startsWith('file:')) {
    const full = fileURLToPath(name);
    dir = path.dirname(full);
    file = path.basename(full);
    if (!existsSync(full)) throw new NonRetryableError(`email template ${full} not found`);
  } else if (!existsSync(path.join(TEMPLATES_DIR, name))) {
    throw new NonRetryableError(`email template templates/${name} not found; for one beside your DAG pass new URL('./${name.replace(/\.(html|txt)\.njk$/, '')}', import.meta.url).href`);
  }
  const key = `${autoescape}:${dir ?? ''}`;
  let env = environments.get(key);
  if (!env) environments.set(key, (env = environment(autoescape, dir)));
  return env.render(file, context);
}

export interface RenderedEmail {
  /** HTML with CSS inlined. */
  html: string;
  /** Plain-text part. */
  text: string;
}

/**
 * Render an email from `<base>.html.njk` and `<base>.txt.njk`: in weir's `templates/`
 * (`renderEmail('threshold-alert', {...})`), or beside a DAG when `base` is a `file:` URL.
 */
export function renderEmail(base: string, context: Record<string, unknown>): RenderedEmail {
  const html = juice(renderTemplate(`${base}.html.njk`, context));
  const text = renderTemplate(`${base}.txt.njk`, context).replace(/\n{3,}/g, '\n\n').trim() + '\n';
  return { html, text };
}
