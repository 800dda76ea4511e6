/**
 * Run parameters from the CLI (`--conf JSON`, `-p key=value`), validated against
 * the DAG's zod schema before anything is created. Every failure is an
 * InputError (exit 2) whose one line names the field and why.
 */
import { z } from 'zod';
import type { Dag } from '../authoring/dag.ts';
import { InputError } from '../errors.ts';
import { findUnstorable } from '../storable.ts';

export interface ConfInput {
  /** JSON object text from `--conf`. */
  conf?: string;
  /** `key=value` pairs from `-p`; values are JSON when they parse (and the param's schema takes them), strings otherwise. */
  pairs?: string[];
  /** Where `conf` came from, for messages (`--conf`, `--conf-file x.json`, stdin). */
  confSource?: string;
}

/** Keys a DAG's params schema declares (undefined when it is not an object schema). */
export function paramKeys(dag: Dag): string[] | undefined {
  const schema = dag.options.params as unknown as { shape?: Record<string, unknown> } | undefined;
  if (!schema) return [];
  return schema.shape ? Object.keys(schema.shape) : undefined;
}

export function parseConf(dag: Dag, input: ConfInput): Record<string, unknown> {
  let raw: Record<string, unknown> = {};
  if (input.conf !== undefined && input.conf.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input.conf);
    } catch (err) {
      throw new InputError('bad_conf_json', `${input.confSource ?? '--conf'} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError('bad_conf_json', `${input.confSource ?? '--conf'} must be a JSON object, e.g. '{"symbol": "AAPL"}'`);
    raw = parsed as Record<string, unknown>;
  }
  const keys = paramKeys(dag);
  for (const pair of input.pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError('bad_param', `-p ${pair}: expected key=value`);
    const key = pair.slice(0, eq);
    const text = pair.slice(eq + 1);
    if (keys && !keys.includes(key)) throw new InputError('unknown_param', `-p ${key}: DAG "${dag.id}" has no parameter "${key}"${keys.length ? ` (its parameters: ${keys.join(', ')})` : ' (it takes no parameters)'}`);
    raw[key] = pairValue(dag, key, text);
  }
  return validateParams(dag, raw);
}

/**
 * A `-p` value: JSON when it parses (`times=3`, `flag=true`, `ids=[1,2]`), unless the
 * param's schema takes the text as it is and not the JSON value: `-p name=42` for a
 * string param is the string "42".
 */
function pairValue(dag: Dag, key: string, text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const field = (dag.options.params as unknown as { shape?: Record<string, z.ZodType> } | undefined)?.shape?.[key];
  if (field && typeof parsed !== 'string' && !field.safeParse(parsed).success && field.safeParse(text).success) return text;
  return parsed;
}

/** Apply the schema (defaults included); unknown keys are refused, not silently dropped. */
export function validateParams(dag: Dag, raw: Record<string, unknown>): Record<string, unknown> {
  // Checked before the schema: a 5,000-level document must be refused, not overflow a stack.
  const unstorable = findUnstorable(raw);
  if (unstorable) throw new InputError('unstorable_params', `params cannot be stored: they have ${unstorable}`);
  const keys = paramKeys(dag);
  if (keys) {
    const unknown = Object.keys(raw).filter((k) => !keys.includes(k));
    if (unknown.length) throw new InputError('unknown_param', `param "${unknown[0]}": DAG "${dag.id}" has no such parameter${keys.length ? ` (its parameters: ${keys.join(', ')})` : ' (it takes no parameters)'}`);
  }
  const schema = (dag.options.params ?? z.object({})) as z.ZodType;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.length ? issue.path.join('.') : '(params)';
    throw new InputError('invalid_params', `param "${field}": ${issue.message}`);
  }
  return (result.data ?? {}) as Record<string, unknown>;
}
