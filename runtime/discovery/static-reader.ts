/**
 * Reads one parsed DAG file without executing it: the `dag({...})` call that is
 * default-exported, its `d.task(...)` calls, their upstream references and the
 * params' zod chain. Anything it cannot be sure of is recorded as an
 * `uncertain` reason (the caller then loads the file in a child process);
 * anything certainly wrong is a diagnostic with line and column.
 *
 * Works on the raw compiler nodes of a ts-morph SourceFile: wrapping every node
 * in ts-morph objects costs more than the whole read for 500 small files.
 */
import type { ts as TsNamespace } from 'ts-morph';
import { DateTime } from 'luxon';
import { ID_PATTERN, type Dag } from '../authoring/dag.ts';
import { findCycle } from '../loader/graph.ts';
import { TRIGGER_RULES } from '../states.ts';
import type { DagRecord, DiagnosticCode, DiscoveredParam, DiscoveredTask, DiscoveryDiagnostic } from './types.ts';

type Ts = typeof TsNamespace;
type TsNode = TsNamespace.Node;
type TsExpr = TsNamespace.Expression;

/** What reading one file produced, before any runtime fallback. */
export interface FileReading {
  file: string;
  /** Null when no DAG can be read (syntax error, no default export, non-literal DAG id, or unknown until loaded). */
  dag: DagRecord | null;
  /** File-level problems (not tied to a readable DAG). */
  errors: DiscoveryDiagnostic[];
  /** Reasons the reading is not sure; non-empty means "load the file to know". */
  uncertain: string[];
  /** Where the uncertain task declarations are, to place tasks only the runtime knows. */
  uncertainSites: Array<{ line: number; column: number }>;
  /** Local files imported with relative specifiers (absolute paths as written, unresolved). */
  relativeImports: string[];
}

type Literal = { ok: true; value: unknown } | { ok: false };
const NOT_LITERAL: Literal = { ok: false };

/** Read one source file. `ts` is ts-morph's bundled compiler namespace. */
export function readDagFile(ts: Ts, sf: TsNamespace.SourceFile, file: string, syntaxErrors: readonly TsNamespace.DiagnosticWithLocation[]): FileReading {
  const pos = (node: TsNode) => {
    const lc = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    return { line: lc.line + 1, column: lc.character + 1 };
  };
  const reading: FileReading = { file, dag: null, errors: [], uncertain: [], uncertainSites: [], relativeImports: [] };
  const diag = (node: TsNode | null, code: DiagnosticCode, message: string, extra: { dagId?: string; taskId?: string } = {}): DiscoveryDiagnostic => ({
    file, ...(node ? pos(node) : { line: 1, column: 1 }), code, message, ...extra,
  });
  const unsure = (node: TsNode, reason: string) => {
    const p = pos(node);
    reading.uncertain.push(`${reason} (line ${p.line}:${p.column})`);
  };

  if (syntaxErrors.length) {
    // A file that does not parse would fail to import too; anything read past the error is guesswork.
    // Only the first: the parser's follow-up errors are usually echoes of it.
    for (const d of syntaxErrors.slice(0, 1)) {
      const lc = sf.getLineAndCharacterOfPosition(d.start);
      reading.errors.push({ file, line: lc.line + 1, column: lc.character + 1, code: 'syntax_error', message: `syntax error: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` });
    }
    return reading;
  }

  const unwrap = (e: TsExpr): TsExpr => {
    let cur = e;
    while (ts.isParenthesizedExpression(cur) || ts.isAsExpression(cur) || ts.isSatisfiesExpression(cur) || ts.isNonNullExpression(cur) || ts.isTypeAssertionExpression(cur)) cur = cur.expression;
    return cur;
  };

  // Top-level bindings: `const X = <expr>` is followed when an option refers to X.
  const topConsts = new Map<string, TsExpr>();
  const topLets = new Set<string>();
  const dagFnNames = new Set<string>();
  const weirNamespaces = new Set<string>();
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = st.moduleSpecifier.text;
      if (spec.startsWith('.')) reading.relativeImports.push(spec);
      if (spec !== 'weir' && !/(^|\/)runtime\/(index|authoring\/dag)(\.ts)?$/.test(spec)) continue;
      const bindings = st.importClause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) weirNamespaces.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) if ((el.propertyName ?? el.name).text === 'dag') dagFnNames.add(el.name.text);
      }
    } else if (ts.isVariableStatement(st)) {
      const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
      for (const decl of st.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name) || !decl.initializer) continue;
        if (isConst) topConsts.set(decl.name.text, decl.initializer);
        else topLets.add(decl.name.text);
      }
    }
  }

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
      const init = topConsts.get(x.text);
      return init ? literal(init, depth + 1) : NOT_LITERAL;
    }
    return NOT_LITERAL;
  };

  /** Properties of an options object; spreads, methods and computed keys make it unreadable. */
  const objectProps = (e: TsExpr | undefined, what: string): Map<string, { node: TsNode; value: TsExpr }> | null => {
    let x = e ? unwrap(e) : undefined;
    if (x && ts.isIdentifier(x) && topConsts.has(x.text)) x = unwrap(topConsts.get(x.text)!);
    if (!x || !ts.isObjectLiteralExpression(x)) {
      unsure(e ?? sf, `${what} are not an object literal`);
      return null;
    }
    const props = new Map<string, { node: TsNode; value: TsExpr }>();
    for (const p of x.properties) {
      if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) props.set(p.name.text, { node: p, value: p.initializer });
      else if (ts.isShorthandPropertyAssignment(p)) props.set(p.name.text, { node: p, value: p.name });
      else {
        unsure(p, `${what} contain ${ts.isSpreadAssignment(p) ? 'a spread' : 'a computed or method property'}`);
        return null;
      }
    }
    return props;
  };

  // Which local name is the default export?
  let exported: TsExpr | undefined;
  let exportNode: TsNode | undefined;
  for (const st of sf.statements) {
    if (ts.isExportAssignment(st) && !st.isExportEquals) {
      exported = st.expression;
      exportNode = st;
    } else if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) {
        if (el.name.text === 'default') {
          exported = (el.propertyName ?? el.name) as TsNamespace.Identifier;
          exportNode = el;
        }
      }
    } else if (ts.isVariableStatement(st) || ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) {
      const mods = ts.canHaveModifiers(st) ? ts.getModifiers(st) ?? [] : [];
      if (mods.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) {
        exported = undefined;
        exportNode = st;
      }
    }
  }
  const isDagCall = (e: TsExpr): e is TsNamespace.CallExpression => {
    if (!ts.isCallExpression(e)) return false;
    const callee = e.expression;
    if (ts.isIdentifier(callee)) return dagFnNames.has(callee.text);
    return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && weirNamespaces.has(callee.expression.text) && callee.name.text === 'dag';
  };

  if (!exportNode) {
    const declared = [...topConsts].find(([, init]) => isDagCall(unwrap(init)));
    const hint = declared ? `; \`${declared[0]}\` is declared here with dag({...}) but not exported` : '';
    reading.errors.push(diag(declared ? declared[1] : null, 'no_default_export', `no default export: end the file with \`export default d\` where \`const d = dag({...})\`${hint}`));
    return reading;
  }

  let dagCall: TsNamespace.CallExpression | undefined;
  let dagVar: string | undefined;
  const target = exported ? unwrap(exported) : undefined;
  if (target && isDagCall(target)) dagCall = target;
  else if (target && ts.isIdentifier(target) && topConsts.has(target.text) && isDagCall(unwrap(topConsts.get(target.text)!))) {
    dagVar = target.text;
    dagCall = unwrap(topConsts.get(target.text)!) as TsNamespace.CallExpression;
  }
  if (!dagCall) {
    unsure(exportNode, 'the default export is not a `const` built by `dag({...})` imported from \'weir\'');
    return reading;
  }

  // DAG options.
  const opts = objectProps(dagCall.arguments[0], 'DAG options');
  if (!opts) return reading;
  const idProp = opts.get('id');
  const id = literal(idProp?.value);
  if (!idProp) {
    reading.errors.push(diag(dagCall, 'non_literal_id', 'DAG has no id: add `id: \'my_dag\'` to dag({...})'));
    return reading;
  }
  if (!id.ok || typeof id.value !== 'string') {
    reading.errors.push(diag(idProp.value, 'non_literal_id', 'DAG id must be a string literal (or a top-level const bound to one) so weir can list the DAG without running the file'));
    return reading;
  }
  const dagId = id.value;
  const record: DagRecord = {
    dagId, file, ...pos(dagCall), description: null, schedule: null, timezone: 'UTC', tags: [], owner: null, catchup: false,
    maxActiveRuns: null, startDate: null, params: [], tasks: [], edges: [], uncertain: reading.uncertain, source: 'static', errors: [],
  };
  reading.dag = record;
  const dagErr = (node: TsNode, code: DiagnosticCode, message: string) => record.errors.push(diag(node, code, `DAG "${dagId}": ${message}`, { dagId }));
  if (!ID_PATTERN.test(dagId)) dagErr(idProp.value, 'bad_id', `id must match ${ID_PATTERN} (lowercase letters, digits, underscores; starts with a letter)`);

  const option = <T>(name: string, check: (v: unknown) => v is T, set: (v: T) => void) => {
    const p = opts.get(name);
    if (!p) return;
    const v = literal(p.value);
    if (v.ok && v.value === undefined) return;
    if (v.ok && check(v.value)) set(v.value);
    else unsure(p.node, `${name} is computed at runtime`);
  };
  const isString = (v: unknown): v is string => typeof v === 'string';
  const isStringOrNull = (v: unknown): v is string | null => typeof v === 'string' || v === null;
  option('description', isString, (v) => (record.description = v));
  option('schedule', isStringOrNull, (v) => (record.schedule = v));
  option('timezone', isString, (v) => (record.timezone = v));
  option('owner', isString, (v) => (record.owner = v));
  option('startDate', isString, (v) => (record.startDate = v));
  option('tags', (v): v is string[] => Array.isArray(v) && v.every(isString), (v) => (record.tags = v));
  option('catchup', (v): v is boolean => typeof v === 'boolean', (v) => (record.catchup = v));
  option('maxActiveRuns', (v): v is number => typeof v === 'number', (v) => (record.maxActiveRuns = v));

  if (record.maxActiveRuns !== null && !(Number.isInteger(record.maxActiveRuns) && record.maxActiveRuns >= 1)) dagErr(opts.get('maxActiveRuns')!.value, 'invalid_option', `maxActiveRuns must be an integer >= 1, got ${record.maxActiveRuns}`);
  if (opts.has('timezone') && !DateTime.now().setZone(record.timezone).isValid) dagErr(opts.get('timezone')!.value, 'invalid_option', `timezone "${record.timezone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  if (record.startDate !== null && !DateTime.fromISO(record.startDate).isValid) dagErr(opts.get('startDate')!.value, 'invalid_option', `startDate "${record.startDate}" is not an ISO date (e.g. "2024-01-01")`);

  let defaultRetries = 0;
  const defaults = opts.get('defaultTaskOptions');
  if (defaults) {
    const dp = objectProps(defaults.value, 'defaultTaskOptions');
    const r = dp?.get('retries');
    if (r) {
      const v = literal(r.value);
      if (v.ok && typeof v.value === 'number') defaultRetries = v.value;
      else unsure(r.node, 'defaultTaskOptions.retries is computed at runtime');
    }
  }

  const paramsProp = opts.get('params');
  if (paramsProp) record.params = readParams(ts, paramsProp.value, topConsts, unwrap, literal, pos);

  // Tasks: every use of the DAG variable must be a top-level `d.task(...)` (or the export).
  type TaskSite = { task: DiscoveredTask; call: TsNamespace.CallExpression; upstreamNodes: TsNode[] };
  const sites: TaskSite[] = [];
  const taskVars = new Map<string, string>();
  const topLevel = (call: TsNode): { ok: true; binding?: string } | { ok: false; where: string } => {
    let cur: TsNode = call;
    let binding: string | undefined;
    while (cur.parent && !ts.isSourceFile(cur.parent)) {
      const parent: TsNode = cur.parent;
      if (ts.isVariableDeclaration(parent) && parent.initializer === cur && ts.isIdentifier(parent.name)) binding = parent.name.text;
      else if (!(ts.isVariableDeclarationList(parent) || ts.isVariableStatement(parent) || ts.isExpressionStatement(parent) || ts.isParenthesizedExpression(parent) || ts.isAsExpression(parent) || ts.isSatisfiesExpression(parent))) {
        return { ok: false, where: describeContainer(ts, parent) };
      }
      cur = parent;
    }
    return { ok: true, binding };
  };

  const visit = (node: TsNode): void => {
    if (ts.isIdentifier(node) && dagVar !== undefined && node.text === dagVar && node.parent) {
      const parent = node.parent;
      const isDeclName = ts.isVariableDeclaration(parent) && parent.name === node;
      const isPropName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
      const isExport = ts.isExportAssignment(parent) || ts.isExportSpecifier(parent);
      if (!isDeclName && !isPropName && !isExport) {
        if (ts.isPropertyAccessExpression(parent) && parent.name.text === 'task' && ts.isCallExpression(parent.parent) && parent.parent.expression === parent) {
          onTaskCall(parent.parent);
        } else if (!(ts.isPropertyAccessExpression(parent) && ['id', 'options'].includes(parent.name.text))) {
          unsure(node, 'the DAG object is used in a way static reading cannot follow (passed on or reassigned); tasks may be added at runtime');
        }
      }
    }
    ts.forEachChild(node, visit);
  };

  const onTaskCall = (call: TsNamespace.CallExpression) => {
    const place = topLevel(call);
    if (!place.ok) {
      unsure(call, `task declared inside ${place.where}; the task list is only known at runtime`);
      reading.uncertainSites.push(pos(call));
      return;
    }
    const tp = objectProps(call.arguments[0], 'task options');
    if (!tp) {
      reading.uncertainSites.push(pos(call));
      return;
    }
    const idP = tp.get('id');
    const tid = literal(idP?.value);
    if (!idP || !tid.ok || typeof tid.value !== 'string') {
      dagErr(idP?.value ?? call, 'non_literal_id', 'task id must be a string literal (or a top-level const bound to one) so weir can read the graph without running the file');
      return;
    }
    const task: DiscoveredTask = { id: tid.value, upstream: [], triggerRule: 'all_success', retries: defaultRetries, ...pos(call) };
    const upstreamNodes: TsNode[] = [];
    const up = tp.get('upstream');
    if (up) {
      let list = unwrap(up.value);
      if (ts.isIdentifier(list) && topConsts.has(list.text)) list = unwrap(topConsts.get(list.text)!);
      if (!ts.isArrayLiteralExpression(list)) unsure(up.node, `upstream of task "${task.id}" is not an array literal`);
      else {
        for (const el of list.elements) {
          const e = unwrap(el);
          const lit = literal(e);
          if (lit.ok && typeof lit.value === 'string') {
            task.upstream.push(lit.value);
            upstreamNodes.push(e);
          } else if (ts.isIdentifier(e) && taskVars.has(e.text) && !topLets.has(e.text)) {
            task.upstream.push(taskVars.get(e.text)!);
            upstreamNodes.push(e);
          } else unsure(e, `upstream entry of task "${task.id}" is not a task declared above or a string id`);
        }
      }
    }
    const rule = tp.get('triggerRule');
    if (rule) {
      const v = literal(rule.value);
      if (v.ok && typeof v.value === 'string') task.triggerRule = v.value;
      else unsure(rule.node, `triggerRule of task "${task.id}" is computed at runtime`);
    }
    const retries = tp.get('retries');
    if (retries) {
      const v = literal(retries.value);
      if (v.ok && typeof v.value === 'number') task.retries = v.value;
      else if (!(v.ok && v.value === undefined)) unsure(retries.node, `retries of task "${task.id}" is computed at runtime`);
    }
    if (place.binding) taskVars.set(place.binding, task.id);
    sites.push({ task, call, upstreamNodes });
  };

  if (dagVar !== undefined) visit(sf);

  // Checks that mirror runtime validation (runtime/loader/graph.ts), but with positions.
  const ids = new Set<string>();
  for (const s of sites) {
    if (ids.has(s.task.id)) {
      dagErr(s.call, 'duplicate_task_id', `task "${s.task.id}": task id declared more than once`);
      continue;
    }
    ids.add(s.task.id);
    record.tasks.push(s.task);
  }
  for (const s of sites) {
    const t = s.task;
    if (!record.tasks.includes(t)) continue;
    if (!ID_PATTERN.test(t.id)) dagErr(s.call, 'bad_id', `task "${t.id}": task id must match ${ID_PATTERN}`);
    t.upstream.forEach((u, i) => {
      const at = s.upstreamNodes[i] ?? s.call;
      if (u === t.id) dagErr(at, 'cycle', `task "${t.id}": depends on itself`);
      // With tasks declared out of sight (loops), an unknown id may well exist at runtime.
      else if (!ids.has(u) && !reading.uncertain.length) dagErr(at, 'unknown_upstream', `task "${t.id}": upstream "${u}" is not a task of this DAG`);
    });
    if (!(TRIGGER_RULES as string[]).includes(t.triggerRule)) dagErr(s.call, 'invalid_option', `task "${t.id}": triggerRule "${t.triggerRule}" is not one of ${TRIGGER_RULES.join(', ')}`);
    if (!(Number.isInteger(t.retries) && t.retries >= 0)) dagErr(s.call, 'invalid_option', `task "${t.id}": retries must be an integer >= 0, got ${t.retries}`);
  }
  record.edges = edgesOf(record.tasks);
  if (!reading.uncertain.length) {
    if (!record.tasks.length) dagErr(dagCall, 'no_tasks', 'has no tasks; declare at least one with d.task({ id }, fn)');
    const cycle = findCycleIn(record.tasks);
    if (cycle) {
      const first = sites.find((s) => s.task.id === cycle[0])!;
      dagErr(first.call, 'cycle', `task "${cycle[0]}": cycle ${cycle.join(' -> ')}`);
    }
  }
  return reading;
}

/** [upstream, downstream] pairs in declaration order; unknown upstream ids are left out. */
export function edgesOf(tasks: readonly DiscoveredTask[]): Array<[string, string]> {
  const known = new Set(tasks.map((t) => t.id));
  return tasks.flatMap((t) => t.upstream.filter((u) => known.has(u) && u !== t.id).map((u): [string, string] => [u, t.id]));
}

/** The runtime's own cycle finder, so static and runtime report the same cycle. */
export function findCycleIn(tasks: readonly DiscoveredTask[]): string[] | undefined {
  // findCycle only reads `tasks` (id → upstream); a structural stand-in avoids building a real Dag.
  const standIn = { tasks: new Map(tasks.map((t) => [t.id, { upstream: t.upstream }])) };
  return findCycle(standIn as unknown as Dag);
}

/** The nearest construct that makes a task declaration conditional or repeated, for the uncertain reason. */
function describeContainer(ts: Ts, from: TsNode): string {
  for (let node: TsNode | undefined = from; node && !ts.isSourceFile(node); node = node.parent) {
    const what = describeNode(ts, node);
    if (what) return what;
  }
  return 'an expression';
}

function describeNode(ts: Ts, node: TsNode): string | undefined {
  if (ts.isForStatement(node) || ts.isForOfStatement(node) || ts.isForInStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node)) return 'a loop';
  if (ts.isFunctionLike(node)) return 'a function';
  if (ts.isIfStatement(node) || ts.isConditionalExpression(node) || ts.isSwitchStatement(node)) return 'a condition';
  if (ts.isCallExpression(node)) return 'a call (e.g. `.map`/`.forEach`)';
  return undefined;
}

/** `z.object({ name: z.string().default('x'), ... })` → names, types and literal defaults. */
function readParams(
  ts: Ts,
  value: TsExpr,
  topConsts: Map<string, TsExpr>,
  unwrap: (e: TsExpr) => TsExpr,
  literal: (e: TsExpr | undefined) => Literal,
  pos: (n: TsNode) => { line: number; column: number },
): DiscoveredParam[] | null {
  let x = unwrap(value);
  if (ts.isIdentifier(x) && topConsts.has(x.text)) x = unwrap(topConsts.get(x.text)!);
  // Walk down `.strict()`, `.describe()` etc. to the `z.object({...})` call.
  while (ts.isCallExpression(x) && ts.isPropertyAccessExpression(x.expression) && x.expression.name.text !== 'object' && x.expression.name.text !== 'strictObject') x = unwrap(x.expression.expression);
  if (!ts.isCallExpression(x) || !ts.isPropertyAccessExpression(x.expression)) return null;
  const shape = x.arguments[0] ? unwrap(x.arguments[0]) : undefined;
  if (!shape || !ts.isObjectLiteralExpression(shape)) return null;
  const out: DiscoveredParam[] = [];
  for (const p of shape.properties) {
    if (!ts.isPropertyAssignment(p) || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) return null;
    const param: DiscoveredParam = { name: p.name.text, type: null, hasDefault: false, optional: false, ...pos(p) };
    let cur = unwrap(p.initializer);
    const followed = new Set<string>();
    // The chain is read from the outside in: the outermost `.default()` wins, as in zod.
    while (ts.isCallExpression(cur) && ts.isPropertyAccessExpression(cur.expression)) {
      const method = cur.expression.name.text;
      const inner = unwrap(cur.expression.expression);
      if (method === 'default' && !param.hasDefault) {
        const v = literal(cur.arguments[0]);
        param.hasDefault = true;
        if (v.ok) param.default = v.value;
      } else if (method === 'optional' || method === 'nullish') param.optional = true;
      // A schema kept in a top-level const (`const isoDate = z.string()...; isoDate.optional()`).
      if (ts.isIdentifier(inner) && topConsts.has(inner.text) && !followed.has(inner.text)) {
        followed.add(inner.text);
        cur = unwrap(topConsts.get(inner.text)!);
        continue;
      }
      if (ts.isIdentifier(inner) || (ts.isPropertyAccessExpression(inner) && ts.isIdentifier(inner.expression))) {
        // `z.string()` names the type; `imported.optional()` does not.
        param.type = ts.isIdentifier(inner) && inner.text !== 'z' ? null : method;
        break;
      }
      cur = inner;
    }
    out.push(param);
  }
  return out;
}
