/**
 * The literal evaluator of static discovery: the value of an expression when the
 * source alone says what it is (strings, numbers, booleans, null, arrays, plain
 * objects, template strings of those, and top-level `const`s bound to them), and
 * "not a literal" otherwise. Nothing is executed.
 */
import type { ts as TsNamespace } from 'ts-morph';

export type Ts = typeof TsNamespace;
export type TsNode = TsNamespace.Node;
export type TsExpr = TsNamespace.Expression;

export type Literal = { ok: true; value: unknown } | { ok: false };
const NOT_LITERAL: Literal = { ok: false };

/** A file's top-level bindings: `const X = <expr>` is followed when an option refers to X; `let`s never are. */
export interface Bindings {
  consts: Map<string, TsExpr>;
  lets: Set<string>;
}

export interface LiteralReader {
  /** The expression without parentheses, `as`, `satisfies`, `!` and type assertions. */
  unwrap(e: TsExpr): TsExpr;
  literal(e: TsExpr | undefined): Literal;
  /** `X` bound by a top-level const is replaced by its initializer (unwrapped). */
  resolve(e: TsExpr): TsExpr;
}

export function literalReader(ts: Ts, bindings: Bindings): LiteralReader {
  const unwrap = (e: TsExpr): TsExpr => {
    let cur = e;
    while (ts.isParenthesizedExpression(cur) || ts.isAsExpression(cur) || ts.isSatisfiesExpression(cur) || ts.isNonNullExpression(cur) || ts.isTypeAssertionExpression(cur)) cur = cur.expression;
    return cur;
  };
  const resolve = (e: TsExpr): TsExpr => {
    const x = unwrap(e);
    return ts.isIdentifier(x) && bindings.consts.has(x.text) ? unwrap(bindings.consts.get(x.text)!) : x;
  };
  const literal = (e: TsExpr | undefined, depth = 0): Literal => {
    if (!e || depth > 8) return NOT_LITERAL;
    const x = unwrap(e);
    if (ts.isStringLiteral(x) || ts.isNoSubstitutionTemplateLiteral(x)) return { ok: true, value: x.text };
    if (ts.isNumericLiteral(x)) return { ok: true, value: Number(x.text) };
    if (x.kind === ts.SyntaxKind.TrueKeyword) return { ok: true, value: true };
    if (x.kind === ts.SyntaxKind.FalseKeyword) return { ok: true, value: false };
    if (x.kind === ts.SyntaxKind.NullKeyword) return { ok: true, value: null };
    if (ts.isPrefixUnaryExpression(x) && x.operator === ts.SyntaxKind.MinusToken) {
      const inner = literal(x.operand, depth + 1);
      return inner.ok && typeof inner.value === 'number' ? { ok: true, value: -inner.value } : NOT_LITERAL;
    }
    if (ts.isTemplateExpression(x)) {
      let out = x.head.text;
      for (const span of x.templateSpans) {
        const v = literal(span.expression, depth + 1);
        if (!v.ok || (typeof v.value !== 'string' && typeof v.value !== 'number')) return NOT_LITERAL;
        out += String(v.value) + span.literal.text;
      }
      return { ok: true, value: out };
    }
    if (ts.isArrayLiteralExpression(x)) {
      const out: unknown[] = [];
      for (const el of x.elements) {
        const v = literal(el, depth + 1);
        if (!v.ok) return NOT_LITERAL;
        out.push(v.value);
      }
      return { ok: true, value: out };
    }
    if (ts.isObjectLiteralExpression(x)) {
      const out: Record<string, unknown> = {};
      for (const p of x.properties) {
        if (!ts.isPropertyAssignment(p) || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) return NOT_LITERAL;
        const v = literal(p.initializer, depth + 1);
        if (!v.ok) return NOT_LITERAL;
        out[p.name.text] = v.value;
      }
      return { ok: true, value: out };
    }
    if (ts.isIdentifier(x)) {
      if (x.text === 'undefined') return { ok: true, value: undefined };
      const init = bindings.consts.get(x.text);
      return init ? literal(init, depth + 1) : NOT_LITERAL;
    }
    return NOT_LITERAL;
  };
  return { unwrap, literal: (e) => literal(e), resolve };
}
