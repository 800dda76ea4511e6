/**
 * What PostgreSQL can store, decided in one place. `jsonb` refuses a NUL character
 * (`\u0000`: "unsupported Unicode escape sequence") and a lone UTF-16 surrogate, and
 * `text` refuses NUL; deeply nested JSON overflows the stack of whatever walks it.
 * Values from users (run params) are refused with a clear error; values from task
 * code are refused (outputs: the try fails, non-retryably) or made storable (log
 * lines, error messages: each offending character becomes U+FFFD), so one poison
 * value never fails a batch of other tries.
 */

/** Deepest nesting accepted in run params and task outputs. */
export const MAX_JSON_DEPTH = 100;

// A NUL, or a surrogate half without its other half.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function describeString(s: string): string | undefined {
  const m = UNSTORABLE.exec(s);
  if (!m) return undefined;
  return m[0] === '\u0000' ? 'a NUL character (\\u0000)' : `a lone surrogate (\\u${m[0].charCodeAt(0).toString(16)})`;
}

/**
 * Why a JSON-like value cannot be stored, naming where (`$.a.b[2]`), or undefined
 * when it can. Walks iteratively, so a 5,000-level document is refused, not a crash.
 */
export function findUnstorable(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: [unknown, string, number][] = [[value, '$', 0]];
  while (stack.length) {
    const [v, where, depth] = stack.pop()!;
    if (typeof v === 'string') {
      const bad = describeString(v);
      if (bad) return `${bad} at ${where}`;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return `nesting deeper than ${maxDepth} levels at ${where}`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${where}[${i}]`, depth + 1]);
      continue;
    }
    for (const [k, child] of Object.entries(v)) {
      const bad = describeString(k);
      if (bad) return `${bad} in a key at ${where}`;
      stack.push([child, `${where}.${k}`, depth + 1]);
    }
  }
  return undefined;
}

/** `s` with every NUL and lone surrogate replaced by U+FFFD (for log lines and error text). */
export function toStorableText(s: string): string {
  return UNSTORABLE.test(s) ? s.replace(UNSTORABLE_ALL, '\uFFFD') : s;
}

/** A JSON-like value with its strings and keys made storable, and nesting past the limit cut. */
export function toStorableJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return toStorableText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_JSON_DEPTH) return '[nested too deep to store]';
  if (Array.isArray(value)) return value.map((v) => toStorableJson(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [toStorableText(k), toStorableJson(v, depth + 1)]));
}
