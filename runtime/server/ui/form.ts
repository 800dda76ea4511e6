/**
 * The trigger form, generated from a DAG's params as JSON Schema: one field per param
 * with its type, default, description, enum choices, bounds and pattern (checked in the
 * browser before submitting, by app.js, and again by the server); arrays and nested
 * objects are JSON fields. A JSON editor of the whole conf is the alternative.
 */
import { html, type SafeHtml } from './html.ts';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

/** The field kind a param gets: its JSON Schema type, optional-ness unwrapped. */
export function fieldKind(s: JsonSchema): 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json' {
  if (s.enum) return 'enum';
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => t && t !== 'null');
  const t = types.length === 1 ? types[0] : undefined;
  if (t === 'string' || t === 'number' || t === 'integer' || t === 'boolean') return t;
  return 'json';
}

/** Turn the form's fields back into a conf object (fields left at their default are omitted). */
export function confFromForm(schema: JsonSchema, form: Record<string, string | File>): { conf: Record<string, unknown>; errors: Map<string, string> } {
  const errors = new Map<string, string>();
  if (typeof form.__mode === 'string' && form.__mode === 'json') {
    try {
      const conf = JSON.parse(String(form.__json ?? '{}')) as unknown;
      if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new Error('must be a JSON object');
      return { conf: conf as Record<string, unknown>, errors };
    } catch (err) {
      errors.set('__json', `conf is not valid JSON: ${(err as Error).message}`);
      return { conf: {}, errors };
    }
  }
  const conf: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const kind = fieldKind(s);
    const value = form[`p.${name}`];
    if (kind === 'boolean') {
      conf[name] = value === 'on';
      continue;
    }
    if (typeof value !== 'string' || value === '') continue;
    if (kind === 'number' || kind === 'integer') {
      const n = Number(value);
      if (Number.isNaN(n)) errors.set(name, 'must be a number');
      else conf[name] = n;
    } else if (kind === 'json') {
      try {
        conf[name] = JSON.parse(value);
      } catch {
        errors.set(name, 'must be valid JSON');
      }
    } else if (kind === 'enum') {
      const choice = (s.enum ?? []).find((e) => String(e) === value);
      conf[name] = choice ?? value;
    } else conf[name] = value;
  }
  return { conf, errors };
}

function input(name: string, s: JsonSchema, value: unknown, required: boolean): SafeHtml {
  const kind = fieldKind(s);
  const id = `p-${name}`;
  const common = html`id="${id}" name="p.${name}" data-kind="${kind}" ${required ? html`required` : ''} aria-describedby="${id}-help ${id}-error"`;
  if (kind === 'boolean') return html`<input type="checkbox" ${common} ${value === true ? html`checked` : ''}>`;
  if (kind === 'enum') {
    return html`<select ${common}>${(s.enum ?? []).map((e) => html`<option value="${String(e)}" ${String(e) === String(value) ? html`selected` : ''}>${String(e)}</option>`)}</select>`;
  }
  if (kind === 'number' || kind === 'integer') {
    const min = s.minimum ?? s.exclusiveMinimum;
    const max = s.maximum ?? s.exclusiveMaximum;
    return html`<input type="number" ${common} step="${kind === 'integer' ? '1' : 'any'}" ${min !== undefined ? html`min="${min}"` : ''} ${max !== undefined ? html`max="${max}"` : ''} value="${value === undefined ? '' : String(value)}">`;
  }
  if (kind === 'json') {
    return html`<textarea ${common} rows="3" spellcheck="false">${value === undefined ? '' : JSON.stringify(value)}</textarea>`;
  }
  return html`<input type="text" ${common} ${s.pattern ? html`pattern="${s.pattern}"` : ''} ${s.minLength !== undefined ? html`minlength="${s.minLength}"` : ''} ${s.maxLength !== undefined ? html`maxlength="${s.maxLength}"` : ''} value="${value === undefined ? '' : String(value)}">`;
}

export function triggerForm(action: string, schema: JsonSchema | null, values: Record<string, unknown>, errors: Map<string, string>, mode: 'form' | 'json'): SafeHtml {
  const props = Object.entries(schema?.properties ?? {});
  const required = new Set(schema?.required ?? []);
  const fields = props.map(([name, s]) => {
    const value = name in values ? values[name] : s.default;
    const hasDefault = s.default !== undefined;
    return html`<div class="field ${errors.has(name) ? 'invalid' : ''}"><label for="p-${name}">${name}${required.has(name) && !hasDefault ? html` <span class="req">*</span>` : ''}</label>
${input(name, s, value, required.has(name) && !hasDefault)}
<small id="p-${name}-help">${s.description ?? ''}${hasDefault ? html` <span class="muted">default: ${JSON.stringify(s.default)}</span>` : ''}</small>
<small class="error" id="p-${name}-error" role="alert">${errors.get(name) ?? ''}</small></div>`;
  });
  const defaults = Object.fromEntries(props.filter(([, s]) => s.default !== undefined).map(([k, s]) => [k, s.default]));
  return html`<form method="post" action="${action}" class="trigger" novalidate data-schema="${JSON.stringify(schema ?? {})}">
<div class="tabs"><label><input type="radio" name="__mode" value="form" ${mode === 'form' ? html`checked` : ''}> Form</label><label><input type="radio" name="__mode" value="json" ${mode === 'json' ? html`checked` : ''}> JSON</label></div>
<fieldset class="mode-form">${props.length ? fields : html`<p class="muted">This DAG takes no parameters.</p>`}</fieldset>
<fieldset class="mode-json"><label for="conf-json">conf (JSON object)</label><textarea id="conf-json" name="__json" rows="10" spellcheck="false">${JSON.stringify(mode === 'json' ? values : defaults, null, 2)}</textarea>
<small class="error" role="alert">${errors.get('__json') ?? ''}</small></fieldset>
${errors.has('') ? html`<p class="error" role="alert">${errors.get('')}</p>` : ''}
<button type="submit" class="primary">Trigger</button></form>`;
}
