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
import { DAG_DEFAULTS } from '../authoring/dag.ts';
import { dagProblems } from '../loader/rules.ts';
import { literalReader, type Bindings, type LiteralReader, type Ts, type TsExpr, type TsNode } from './literal.ts';
import type { DagRecord, DiagnosticCode, DiscoveredParam, DiscoveredTask, DiscoveryDiagnostic } from './types.ts';

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
  /** Names in `upstream` lists that are no task declared above, where they are written (a load error naming one is placed there). */
  unknownNames: Record<string, { line: number; column: number }>;
}

type Props = Map<string, { node: TsNode; value: TsExpr }>;

/** One file being read: where things are, what is unsure, and the literal evaluator. */
interface Reader {
  ts: Ts;
  sf: TsNamespace.SourceFile;
  file: string;
  reading: FileReading;
  bindings: Bindings;
  lit: LiteralReader;
  pos(node: TsNode): { line: number; column: number };
  diag(node: TsNode | null, code: DiagnosticCode, message: string, extra?: { dagId?: string; taskId?: string }): DiscoveryDiagnostic;
  unsure(node: TsNode, reason: string): void;
}

/** Read one source file. `ts` is ts-morph's bundled compiler namespace. */
export function readDagFile(ts: Ts, sf: TsNamespace.SourceFile, file: string, syntaxErrors: readonly TsNamespace.DiagnosticWithLocation[]): FileReading {
  const reading: FileReading = { file, dag: null, errors: [], uncertain: [], uncertainSites: [], relativeImports: [], unknownNames: {} };
  if (syntaxErrors.length) {
    // A file that does not parse would fail to import too; anything read past the error is guesswork.
    // Only the first: the parser's follow-up errors are usually echoes of it.
    for (const d of syntaxErrors.slice(0, 1)) {
      const lc = sf.getLineAndCharacterOfPosition(d.start);
      reading.errors.push({ file, line: lc.line + 1, column: lc.character + 1, code: 'syntax_error', message: `syntax error: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` });
    }
    return reading;
  }
  const { bindings, dagFunctions } = scanTopLevel(ts, sf, reading);
  const pos = (node: TsNode) => {
    const lc = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    return { line: lc.line + 1, column: lc.character + 1 };
  };
  const r: Reader = {
    ts, sf, file, reading, bindings, lit: literalReader(ts, bindings), pos,
    diag: (node, code, message, extra = {}) => ({ file, ...(node ? pos(node) : { line: 1, column: 1 }), code, message, ...extra }),
    unsure: (node, reason) => {
      const p = pos(node);
      reading.uncertain.push(`${reason} (line ${p.line}:${p.column})`);
    },
  };
  const found = findDagExport(r, dagFunctions);
  if (!found) return reading;
  const read = readDagOptions(r, found.call);
  if (!read) return reading;
  const sites = found.variable !== undefined ? readTasks(r, found.variable, read.record, read.defaultRetries) : [];
  checkDag(r, read.record, found.call, read.options, sites);
  return reading;
}

/** Imports (how `dag` and weir are named here, relative files) and top-level bindings. */
function scanTopLevel(ts: Ts, sf: TsNamespace.SourceFile, reading: FileReading): { bindings: Bindings; dagFunctions: { names: Set<string>; namespaces: Set<string> } } {
  const bindings: Bindings = { consts: new Map(), lets: new Set() };
  const names = new Set<string>();
  const namespaces = new Set<string>();
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = st.moduleSpecifier.text;
      if (spec.startsWith('.')) reading.relativeImports.push(spec);
      if (spec !== 'weir' && !/(^|\/)runtime\/(index|authoring\/dag)(\.ts)?$/.test(spec)) continue;
      const named = st.importClause?.namedBindings;
      if (named && ts.isNamespaceImport(named)) namespaces.add(named.name.text);
      if (named && ts.isNamedImports(named)) {
        for (const el of named.elements) if ((el.propertyName ?? el.name).text === 'dag') names.add(el.name.text);
      }
    } else if (ts.isVariableStatement(st)) {
      const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
      for (const decl of st.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name) || !decl.initializer) continue;
        if (isConst) bindings.consts.set(decl.name.text, decl.initializer);
        else bindings.lets.add(decl.name.text);
      }
    }
  }
  return { bindings, dagFunctions: { names, namespaces } };
}

/** Properties of an options object; spreads, methods and computed keys make it unreadable (and the reading unsure). */
function objectProps(r: Reader, e: TsExpr | undefined, what: string): Props | null {
  const { ts } = r;
  const x = e ? r.lit.resolve(e) : undefined;
  if (!x || !ts.isObjectLiteralExpression(x)) {
    r.unsure(e ?? r.sf, `${what} are not an object literal`);
    return null;
  }
  const props: Props = new Map();
  for (const p of x.properties) {
    if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) props.set(p.name.text, { node: p, value: p.initializer });
    else if (ts.isShorthandPropertyAssignment(p)) props.set(p.name.text, { node: p, value: p.name });
    else {
      r.unsure(p, `${what} contain ${ts.isSpreadAssignment(p) ? 'a spread' : 'a computed or method property'}`);
      return null;
    }
  }
  return props;
}

/** The export finder: the `dag({...})` call behind the default export, and the const it is bound to. */
function findDagExport(r: Reader, dagFunctions: { names: Set<string>; namespaces: Set<string> }): { call: TsNamespace.CallExpression; variable: string | undefined } | undefined {
  const { ts, sf, lit, bindings } = r;
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
    if (ts.isIdentifier(callee)) return dagFunctions.names.has(callee.text);
    return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && dagFunctions.namespaces.has(callee.expression.text) && callee.name.text === 'dag';
  };
  if (!exportNode) {
    const declared = [...bindings.consts].find(([, init]) => isDagCall(lit.unwrap(init)));
    const hint = declared ? `; \`${declared[0]}\` is declared here with dag({...}) but not exported` : '';
    r.reading.errors.push(r.diag(declared ? declared[1] : null, 'no_default_export', `no default export: end the file with \`export default d\` where \`const d = dag({...})\`${hint}`));
    return undefined;
  }
  const target = exported ? lit.unwrap(exported) : undefined;
  if (target && isDagCall(target)) return { call: target, variable: undefined };
  if (target && ts.isIdentifier(target) && bindings.consts.has(target.text)) {
    const init = lit.unwrap(bindings.consts.get(target.text)!);
    if (isDagCall(init)) return { call: init, variable: target.text };
  }
  r.unsure(exportNode, 'the default export is not a `const` built by `dag({...})` imported from \'weir\'');
  return undefined;
}

/** The DAG's id and the options listing shows; the record is created here. */
function readDagOptions(r: Reader, dagCall: TsNamespace.CallExpression): { record: DagRecord; options: Props; defaultRetries: number } | undefined {
  const { ts, lit, reading } = r;
  const opts = objectProps(r, dagCall.arguments[0], 'DAG options');
  if (!opts) return undefined;
  const idProp = opts.get('id');
  if (!idProp) {
    reading.errors.push(r.diag(dagCall, 'non_literal_id', 'DAG has no id: add `id: \'my_dag\'` to dag({...})'));
    return undefined;
  }
  const id = lit.literal(idProp.value);
  if (!id.ok || typeof id.value !== 'string') {
    reading.errors.push(r.diag(idProp.value, 'non_literal_id', 'DAG id must be a string literal (or a top-level const bound to one) so weir can list the DAG without running the file'));
    return undefined;
  }
  const record: DagRecord = {
    dagId: id.value, file: r.file, ...r.pos(dagCall), description: null, schedule: null, timezone: DAG_DEFAULTS.timezone, tags: [], owner: null,
    catchup: DAG_DEFAULTS.catchup, maxActiveRuns: null, startDate: null, params: [], tasks: [], edges: [], uncertain: reading.uncertain, source: 'static', errors: [],
  };
  reading.dag = record;
  const option = <T>(name: string, check: (v: unknown) => v is T, set: (v: T) => void) => {
    const p = opts.get(name);
    if (!p) return;
    const v = lit.literal(p.value);
    if (v.ok && v.value === undefined) return;
    if (v.ok && check(v.value)) set(v.value);
    else r.unsure(p.node, `${name} is computed at runtime`);
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
  option('trigger', (v): v is { files: { folder: string; pattern: string } } | { assets: string[] } => {
    const t = v as { files?: { folder?: unknown; pattern?: unknown }; assets?: unknown } | null;
    return (typeof t?.files?.folder === 'string' && typeof t.files.pattern === 'string') || (Array.isArray(t?.assets) && t.assets.every(isString));
  }, (v) => (record.trigger = 'assets' in v ? { assets: [...v.assets] } : { folder: v.files.folder, pattern: v.files.pattern }));

  let defaultRetries = 0;
  const defaults = opts.get('defaultTaskOptions');
  if (defaults) {
    const retries = objectProps(r, defaults.value, 'defaultTaskOptions')?.get('retries');
    if (retries) {
      const v = lit.literal(retries.value);
      if (v.ok && typeof v.value === 'number') defaultRetries = v.value;
      else r.unsure(retries.node, 'defaultTaskOptions.retries is computed at runtime');
    }
  }
  const paramsProp = opts.get('params');
  if (paramsProp) record.params = readParams(ts, paramsProp.value, r.lit, r.pos);
  return { record, options: opts, defaultRetries };
}

type TaskSite = { task: DiscoveredTask; call: TsNamespace.CallExpression; upstreamNodes: TsNode[] };

/** The task reader: every use of the DAG variable must be a top-level `d.task(...)` or `d.map(...)` (or the export). */
function readTasks(r: Reader, dagVar: string, record: DagRecord, defaultRetries: number): TaskSite[] {
  const { ts, lit, reading } = r;
  const sites: TaskSite[] = [];
  const taskVars = new Map<string, string>();
  const dagErr = (node: TsNode, code: DiagnosticCode, message: string) => record.errors.push(r.diag(node, code, `DAG "${record.dagId}": ${message}`, { dagId: record.dagId }));
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
  const onTaskCall = (call: TsNamespace.CallExpression) => {
    const place = topLevel(call);
    if (!place.ok) {
      r.unsure(call, `task declared inside ${place.where}; the task list is only known at runtime`);
      reading.uncertainSites.push(r.pos(call));
      return;
    }
    const tp = objectProps(r, call.arguments[0], 'task options');
    if (!tp) {
      reading.uncertainSites.push(r.pos(call));
      return;
    }
    const idP = tp.get('id');
    const tid = lit.literal(idP?.value);
    if (!idP || !tid.ok || typeof tid.value !== 'string') {
      dagErr(idP?.value ?? call, 'non_literal_id', 'task id must be a string literal (or a top-level const bound to one) so weir can read the graph without running the file');
      return;
    }
    const task: DiscoveredTask = { id: tid.value, upstream: [], triggerRule: 'all_success', retries: defaultRetries, ...r.pos(call) };
    const upstreamNodes: TsNode[] = [];
    // d.map: `over` is an upstream (the first), and the task is shown as mapped.
    if (ts.isPropertyAccessExpression(call.expression) && call.expression.name.text === 'map') {
      const over = tp.get('over');
      const e = over ? lit.unwrap(over.value) : undefined;
      if (e && ts.isIdentifier(e) && taskVars.has(e.text) && !r.bindings.lets.has(e.text)) {
        task.mapOver = taskVars.get(e.text)!;
        task.upstream.push(task.mapOver);
        upstreamNodes.push(e);
      } else r.unsure(over?.node ?? call, `over of mapped task "${task.id}" is not a task declared above`);
    }
    const up = tp.get('upstream');
    if (up) {
      const list = lit.resolve(up.value);
      if (!ts.isArrayLiteralExpression(list)) r.unsure(up.node, `upstream of task "${task.id}" is not an array literal`);
      else {
        for (const el of list.elements) {
          const e = lit.unwrap(el);
          const v = lit.literal(e);
          if (task.upstream.includes(v.ok && typeof v.value === 'string' ? v.value : ts.isIdentifier(e) ? taskVars.get(e.text) ?? '' : '')) continue;
          if (v.ok && typeof v.value === 'string') {
            task.upstream.push(v.value);
            upstreamNodes.push(e);
          } else if (ts.isIdentifier(e) && taskVars.has(e.text) && !r.bindings.lets.has(e.text)) {
            task.upstream.push(taskVars.get(e.text)!);
            upstreamNodes.push(e);
          } else {
            if (ts.isIdentifier(e)) reading.unknownNames[e.text] ??= r.pos(e);
            r.unsure(e, `upstream entry of task "${task.id}" is not a task declared above or a string id`);
          }
        }
      }
    }
    const rule = tp.get('triggerRule');
    if (rule) {
      const v = lit.literal(rule.value);
      if (v.ok && typeof v.value === 'string') task.triggerRule = v.value;
      else r.unsure(rule.node, `triggerRule of task "${task.id}" is computed at runtime`);
    }
    const retries = tp.get('retries');
    if (retries) {
      const v = lit.literal(retries.value);
      if (v.ok && typeof v.value === 'number') task.retries = v.value;
      else if (!(v.ok && v.value === undefined)) r.unsure(retries.node, `retries of task "${task.id}" is computed at runtime`);
    }
    if (place.binding) taskVars.set(place.binding, task.id);
    sites.push({ task, call, upstreamNodes });
  };
  const visit = (node: TsNode): void => {
    if (ts.isIdentifier(node) && node.text === dagVar && node.parent) {
      const parent = node.parent;
      const isDeclName = ts.isVariableDeclaration(parent) && parent.name === node;
      const isPropName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
      const isExport = ts.isExportAssignment(parent) || ts.isExportSpecifier(parent);
      if (!isDeclName && !isPropName && !isExport) {
        if (ts.isPropertyAccessExpression(parent) && (parent.name.text === 'task' || parent.name.text === 'map') && ts.isCallExpression(parent.parent) && parent.parent.expression === parent) {
          onTaskCall(parent.parent);
        } else if (!(ts.isPropertyAccessExpression(parent) && ['id', 'options'].includes(parent.name.text))) {
          r.unsure(node, 'the DAG object is used in a way static reading cannot follow (passed on or reassigned); tasks may be added at runtime');
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(r.sf);
  return sites;
}

/** The checks: the loader's own rules (../loader/rules.ts), each problem placed at the node it names. */
function checkDag(r: Reader, record: DagRecord, dagCall: TsNamespace.CallExpression, opts: Props, sites: TaskSite[]): void {
  const optionValue = (name: string) => {
    const p = opts.get(name);
    if (!p) return undefined;
    const v = r.lit.literal(p.value);
    return v.ok ? v.value : undefined;
  };
  const complete = !r.reading.uncertain.length;
  const problems = dagProblems({
    id: record.dagId,
    options: {
      maxActiveRuns: record.maxActiveRuns ?? undefined,
      timezone: opts.has('timezone') ? record.timezone : undefined,
      startDate: record.startDate ?? undefined,
      // Read only for the checks (listing does not show them).
      endDate: optionValue('endDate'),
      dagrunTimeoutMs: optionValue('dagrunTimeoutMs'),
      deadline: optionValue('deadline'),
      schedule: record.schedule,
      catchup: record.catchup,
    },
    tasks: sites.map((s) => s.task),
    complete,
  });
  const taskIds = new Set<string>();
  for (const s of sites) {
    if (taskIds.has(s.task.id)) continue;
    taskIds.add(s.task.id);
    record.tasks.push(s.task);
  }
  for (const p of problems) {
    const site = p.taskIndex !== undefined ? sites[p.taskIndex] : undefined;
    const node = site
      ? (p.upstreamIndex !== undefined ? site.upstreamNodes[p.upstreamIndex] ?? site.call : site.call)
      : (p.option ? opts.get(p.option)?.value : undefined) ?? dagCall;
    record.errors.push(r.diag(node, p.code, `DAG "${record.dagId}": ${p.task !== undefined ? `task "${p.task}": ` : ''}${p.message}`, { dagId: record.dagId }));
  }
  record.edges = edgesOf(record.tasks);
}

/** [upstream, downstream] pairs in declaration order; unknown upstream ids are left out. */
export function edgesOf(tasks: readonly DiscoveredTask[]): Array<[string, string]> {
  const known = new Set(tasks.map((t) => t.id));
  return tasks.flatMap((t) => t.upstream.filter((u) => known.has(u) && u !== t.id).map((u): [string, string] => [u, t.id]));
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
function readParams(ts: Ts, value: TsExpr, lit: LiteralReader, pos: (n: TsNode) => { line: number; column: number }): DiscoveredParam[] | null {
  const { unwrap, literal } = lit;
  let x = lit.resolve(value);
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
      if (ts.isIdentifier(inner) && lit.resolve(inner) !== inner && !followed.has(inner.text)) {
        followed.add(inner.text);
        cur = lit.resolve(inner);
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
