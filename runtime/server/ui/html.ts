/**
 * HTML built from tagged templates that escape every interpolated value: a value from
 * DAG code, params, logs, outputs or errors is always text. Only fragments built by
 * `html` itself (or marked with `raw` for weir's own constant markup) go in unescaped.
 */
const SAFE = Symbol('safe html');

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isSafe(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && (v as SafeHtml)[SAFE] === true;
}

function render(v: unknown): string {
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (isSafe(v)) return v.text;
  return escapeHtml(v);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return { [SAFE]: true, text: out };
}

/** weir's own constant markup (never data). */
export function raw(text: string): SafeHtml {
  return { [SAFE]: true, text };
}
