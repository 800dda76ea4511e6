/**
 * Static DAG discovery (issue 5): every class of error has a fixture under
 * tests/fixtures/dags-broken/<case>/, the static graph agrees with the runtime
 * graph, top-level code is never run, and uncertain files fall back to an
 * isolated load.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { discoverDags, validateDags, formatDagTable, renderGraph, formatDiagnostic, type DagRecord, type DiscoveryResult } from '../runtime/discovery/index.ts';
import { listDagFiles, loadDagFile, loadDagsFolder } from '../runtime/loader/loader.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(root, 'tests', 'fixtures');
const broken = (c: string) => path.join(fixtures, 'dags-broken', c);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-discovery-test-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const discover = (folder: string, extra: Parameters<typeof discoverDags>[1] = {}) => discoverDags(folder, { cacheDir, ...extra });
const lines = (r: DiscoveryResult) => r.errors.map((e) => formatDiagnostic({ ...e, file: path.relative(root, e.file) }));
const dagOf = (r: DiscoveryResult, id: string): DagRecord => {
  const d = r.dags.find((x) => x.dagId === id);
  if (!d) throw new Error(`no DAG ${id} in ${r.dags.map((x) => x.dagId).join(', ')}`);
  return d;
};

describe('reading good DAG files', () => {
  let result: DiscoveryResult;
  beforeAll(async () => {
    result = await discover(path.join(fixtures, 'dags-ok'), { cache: false });
  });

  test('lists every DAG with no errors', () => {
    expect(result.errors).toEqual([]);
    expect(result.broken).toEqual([]);
    expect(result.dags.map((d) => d.dagId).sort()).toEqual(['fan_in', 'loop_chain', 'stock_prices']);
  });

  test('reads options, params with literal defaults, retries (with DAG defaults) and positions', () => {
    const d = dagOf(result, 'stock_prices');
    expect(d).toMatchObject({
      file: path.join(fixtures, 'dags-ok', 'stock_prices.ts'),
      line: 4,
      column: 11,
      description: 'daily prices with an average-price check',
      schedule: '@daily',
      timezone: 'America/New_York',
      tags: ['finance', 'etl'],
      owner: 'data',
      catchup: false,
      maxActiveRuns: 1,
      startDate: '2024-01-01',
      source: 'static',
      uncertain: [],
    });
    expect(d.params).toEqual([
      expect.objectContaining({ name: 'symbol', type: 'string', hasDefault: true, default: 'AMZN', optional: false, line: 16 }),
      expect.objectContaining({ name: 'days', type: 'number', hasDefault: true, default: 30 }),
      expect.objectContaining({ name: 'dry_run', type: 'boolean', hasDefault: false, optional: true }),
      expect.objectContaining({ name: 'mode', type: 'enum', default: 'delta' }),
      // A schema held in a top-level const is followed to its type.
      expect.objectContaining({ name: 'since', type: 'string', hasDefault: false, optional: true }),
    ]);
    expect(d.tasks.map((t) => [t.id, t.retries, t.triggerRule, t.line])).toEqual([
      ['extract', 3, 'all_success', 22],
      ['clean', 2, 'all_success', 23],
      ['load', 2, 'all_success', 24],
      ['check_average', 2, 'all_done', 25],
    ]);
    expect(d.edges).toEqual([['extract', 'clean'], ['clean', 'load'], ['load', 'check_average'], ['clean', 'check_average']]);
  });

  test('follows const-bound ids and `export { d as default }`', () => {
    const d = dagOf(result, 'fan_in');
    expect(d.source).toBe('static');
    expect(d.tasks.find((t) => t.id === 'merge')).toMatchObject({ upstream: ['ingest_a', 'ingest_b'], triggerRule: 'none_failed_min_one_success' });
  });
});

describe('static graph agrees with the runtime graph', () => {
  const files = [...listDagFiles(path.join(root, 'dags')), ...listDagFiles(path.join(fixtures, 'dags-ok'))];

  test.each(files.map((f) => [path.relative(root, f), f]))('%s', async (_name, file) => {
    const result = await discover(path.dirname(file), { cache: false });
    const record = result.dags.find((d) => d.file === file);
    expect(record?.errors ?? result.errors).toEqual([]);
    const graph = await loadDagFile(file);
    const runtimeTasks = [...graph.tasks.values()];
    expect(record!.dagId).toBe(graph.dag.id);
    expect(record!.tasks.map((t) => t.id)).toEqual(runtimeTasks.map((t) => t.id));
    const sortEdges = (e: Array<[string, string]>) => e.map(([a, b]) => `${a}->${b}`).sort();
    expect(sortEdges(record!.edges)).toEqual(sortEdges(runtimeTasks.flatMap((t) => t.upstream.map((u): [string, string] => [u, t.id]))));
    expect(Object.fromEntries(record!.tasks.map((t) => [t.id, t.triggerRule]))).toEqual(Object.fromEntries(runtimeTasks.map((t) => [t.id, t.triggerRule])));
    expect(Object.fromEntries(record!.tasks.map((t) => [t.id, t.retries]))).toEqual(Object.fromEntries(runtimeTasks.map((t) => [t.id, t.retries])));
    expect(record!.schedule).toBe(graph.dag.options.schedule ?? null);
  });
});

describe('each class of error is reported with file:line:column', () => {
  test('syntax error', async () => {
    const r = await discover(broken('syntax-error'));
    expect(r.dags).toEqual([]);
    expect(lines(r)).toEqual(["tests/fixtures/dags-broken/syntax-error/broken_syntax.ts:4:37: syntax error: ',' expected."]);
    expect(r.broken[0]!.errors[0]!.code).toBe('syntax_error');
  });

  test('type error (validate)', async () => {
    const listed = await discover(broken('type-error'), { cache: false });
    expect(listed.errors).toEqual([]); // listing does not type-check: that is what keeps it fast
    const v = await validateDags(broken('type-error'), { cacheDir });
    expect(v.ok).toBe(false);
    expect(v.errors.map((e) => e.code)).toEqual(['type_error']);
    expect(lines(v.result)[0]).toMatch(/^tests\/fixtures\/dags-broken\/type-error\/typed_wrong\.ts:6:80: TS2551: Property 'toFixed' does not exist on type 'string'/);
  });

  test('regression (placed at the dag() call): a misspelt variable in upstream is reported where it is written, by list and validate', async () => {
    const listed = await discover(broken('unknown-variable'), { cache: false });
    expect(lines(listed)).toEqual(['tests/fixtures/dags-broken/unknown-variable/unknown_variable.ts:6:33: cannot import: extarct is not defined']);
    const v = await validateDags(broken('unknown-variable'), { cacheDir });
    expect(lines(v.result)).toContain("tests/fixtures/dags-broken/unknown-variable/unknown_variable.ts:6:33: TS2552: Cannot find name 'extarct'. Did you mean 'extract'?");
  });

  test('regression ("not assignable to parameter of type \'never\'"): reading a task that is not upstream says so in words', async () => {
    const v = await validateDags(broken('not-upstream'), { cacheDir });
    expect(v.errors.map((e) => e.code)).toEqual(['type_error']);
    expect(lines(v.result)).toEqual([
      'tests/fixtures/dags-broken/not-upstream/not_upstream.ts:7:73: TS2345: Argument of type \'TaskRef<number, "load">\' is not assignable to parameter of type \'"task \'load\' is not upstream of \'report\': add it to this task\'s upstream to read its output"\'.',
    ]);
  });

  test('good files pass validate, type-checked against weir from their own folder', async () => {
    const v = await validateDags(path.join(fixtures, 'dags-ok'), { cacheDir });
    expect(v.errors).toEqual([]);
    expect(v.ok).toBe(true);
  });

  test('a DAG folder outside any project imports the building blocks by their public names (weir/tasks/*): type-checked, and run through the resolve hook', async () => {
    const folder = path.join(tmp, 'elsewhere', 'dags');
    fs.mkdirSync(folder, { recursive: true });
    const file = path.join(folder, 'blocks.ts');
    fs.writeFileSync(file, [
      "import { dag } from 'weir';",
      "import { qualifiedName } from 'weir/tasks/postgres';",
      "import { parseRetryAfterMs } from 'weir/tasks/http';",
      "const d = dag({ id: 'blocks' });",
      "d.task({ id: 'names' }, async () => ({ table: qualifiedName('raw.items'), retry: parseRetryAfterMs('3') }));",
      'export default d;',
      '',
    ].join('\n'));
    expect((await validateDags(folder, { cacheDir })).errors).toEqual([]);
    const ran = spawnSync(process.execPath, [path.join(root, 'bin', 'weir.js'), 'tasks', 'test', 'blocks', 'names', '--json'], {
      cwd: tmp, encoding: 'utf8', env: { ...process.env, WEIR_DAGS_FOLDER: folder, WEIR_HOME: path.join(tmp, 'home') },
    });
    expect(ran.stderr).toBe('');
    expect(JSON.parse(ran.stdout)).toMatchObject({ state: 'success', output: { table: '"raw"."items"', retry: 3000 } });

    fs.appendFileSync(file, "export const wrong: number = qualifiedName('x');\n");
    const v = await validateDags(folder, { cacheDir });
    expect(v.errors.map((e) => `${path.basename(e.file)}:${e.line}: ${e.message}`)).toEqual(["blocks.ts:7: TS2322: Type 'string' is not assignable to type 'number'."]);
  });

  test('duplicate DAG ids across files: both files name the other', async () => {
    const r = await discover(broken('duplicate-dag-id'));
    expect(lines(r)).toEqual([
      'tests/fixtures/dags-broken/duplicate-dag-id/first.ts:4:11: DAG id "same_id" is also declared in ' + path.join(broken('duplicate-dag-id'), 'second.ts') + ':4:11; DAG ids must be unique across the DAGs folder',
      'tests/fixtures/dags-broken/duplicate-dag-id/second.ts:4:11: DAG id "same_id" is also declared in ' + path.join(broken('duplicate-dag-id'), 'first.ts') + ':4:11; DAG ids must be unique across the DAGs folder',
    ]);
  });

  test('DAG id that is not a literal', async () => {
    const r = await discover(broken('non-literal-id'));
    expect(r.errors.map((e) => e.code)).toEqual(['non_literal_id']);
    expect(lines(r)[0]).toMatch(/^tests\/fixtures\/dags-broken\/non-literal-id\/computed_id\.ts:4:21: DAG id must be a string literal/);
  });

  test('ids not matching ^[a-z][a-z0-9_]*$', async () => {
    const r = await discover(broken('bad-id'));
    expect(r.errors.map((e) => e.code)).toEqual(['bad_id', 'bad_id']);
    expect(lines(r)[0]).toMatch(/bad_id\.ts:4:21: DAG "Stock-Prices": id must match/);
    expect(lines(r)[1]).toMatch(/bad_id\.ts:5:1: DAG "Stock-Prices": task "Extract": task id must match/);
  });

  test('a schedule that is not a cron or preset: read statically and refused by the loader alike', async () => {
    const r = await discover(broken('bad-schedule'));
    const message = 'DAG "bad_schedule": schedule "0 6 * *" has 4 fields; a cron needs 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)';
    expect(lines(r)).toEqual([`tests/fixtures/dags-broken/bad-schedule/bad_schedule.ts:4:47: ${message}`]);
    expect(r.errors[0]!.code).toBe('invalid_option');
    const loaded = await loadDagsFolder(broken('bad-schedule'));
    expect([...loaded.broken.values()].flat()).toEqual([`${path.join(broken('bad-schedule'), 'bad_schedule.ts')}: ${message}`]);
  });

  test('upstream reference to an unknown task', async () => {
    const r = await discover(broken('unknown-upstream'));
    expect(lines(r)).toEqual(['tests/fixtures/dags-broken/unknown-upstream/unknown_upstream.ts:6:44: DAG "unknown_upstream": task "load": upstream "transfrom" is not a task of this DAG']);
  });

  test('cycle, printed in dependency order', async () => {
    const r = await discover(broken('cycle'));
    expect(lines(r)).toEqual(['tests/fixtures/dags-broken/cycle/cycle.ts:5:1: DAG "cyclic": task "a": cycle a -> b -> c -> a']);
  });

  test('no default export of a DAG', async () => {
    const r = await discover(broken('missing-default-export'));
    expect(r.dags).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual(['no_default_export']);
    expect(lines(r)[0]).toMatch(/no_default\.ts:4:18: no default export: .*`d` is declared here/);
  });

  test('the table shows broken DAGs and files with an errors column and the reasons below', async () => {
    const r = await discover(path.join(fixtures, 'dags-broken'), { cache: false });
    const text = formatDagTable(r, { cwd: root });
    expect(text.split('\n')[0]).toMatch(/^dag_id\s+file\s+schedule\s+timezone\s+tags\s+owner\s+tasks\s+paused\s+errors$/);
    expect(text).toMatch(/^cyclic\s+tests\/fixtures\/dags-broken\/cycle\/cycle\.ts\s+manual\s+UTC\s+-\s+-\s+3\s+-\s+1$/m);
    expect(text).toMatch(/^-\s+tests\/fixtures\/dags-broken\/syntax-error\/broken_syntax\.ts .* 1$/m);
    expect(text).toContain('  tests/fixtures/dags-broken/cycle/cycle.ts:5:1: DAG "cyclic": task "a": cycle a -> b -> c -> a');
  });
});

test('a DAG whose top level does I/O is listed without running it', async () => {
  const sentinel = path.join(fixtures, 'dags-io', 'written-at-import.txt');
  fs.rmSync(sentinel, { force: true });
  const r = await discover(path.join(fixtures, 'dags-io'), { cache: false });
  expect(r.errors).toEqual([]);
  expect(dagOf(r, 'top_level_io')).toMatchObject({ schedule: '@daily', source: 'static', tasks: [expect.objectContaining({ id: 'only' })] });
  expect(fs.existsSync(sentinel)).toBe(false);
});

describe('uncertain static reading falls back to an isolated load', () => {
  test('tasks built in a loop: marked uncertain, graph taken from the runtime, positions kept', async () => {
    const r = await discover(path.join(fixtures, 'dags-ok'), { cache: false });
    const d = dagOf(r, 'loop_chain');
    expect(d.source).toBe('runtime');
    expect(d.uncertain).toEqual(['task declared inside a loop; the task list is only known at runtime (line 8:10)']);
    expect(d.tasks.map((t) => [t.id, t.line])).toEqual([['start', 6], ['load_invoices', 8], ['load_customers', 8], ['load_items', 8], ['summary', 10]]);
    expect(d.edges).toEqual([['start', 'load_invoices'], ['load_invoices', 'load_customers'], ['load_customers', 'load_items'], ['load_items', 'summary']]);
    expect(formatDagTable(r, { cwd: root })).toMatch(/^loop_chain\s.*\s5\*\s/m);
  });

  test('without the fallback, the partial static reading says it is unsure', async () => {
    const r = await discover(path.join(fixtures, 'dags-ok'), { cache: false, runtimeFallback: false });
    const d = dagOf(r, 'loop_chain');
    expect(d.source).toBe('static');
    expect(d.tasks.map((t) => t.id)).toEqual(['start', 'summary']);
    expect(d.errors).toEqual([]); // 'load_items' may exist at runtime: not an unknown upstream
  });

  test('a file that never finishes importing is killed at the timeout and reported', async () => {
    const r = await discover(path.join(fixtures, 'dags-hang'), { cache: false, isolatedLoadTimeoutMs: 1500 });
    const d = dagOf(r, 'hangs_on_import');
    expect(d.errors.map((e) => [e.code, e.message])).toEqual([['runtime_load', 'loading the file took longer than 1500 ms (its top-level code must only declare the DAG)']]);
  });
});

describe('cache', () => {
  test('a warm run serves every file from the cache without importing ts-morph; a changed file is read again', () => {
    const folder = path.join(tmp, 'warm');
    fs.cpSync(path.join(fixtures, 'dags-ok'), folder, { recursive: true });
    const dir = path.join(tmp, 'warm-cache');
    // A resolve hook that fails any import of ts-morph, so "not imported" is checked, not assumed.
    const forbid = `data:text/javascript,${encodeURIComponent("export async function resolve(s, c, n) { if (s === 'ts-morph') throw new Error('ts-morph imported'); return n(s, c); }")}`;
    const script = `
      import { register } from 'node:module';
      const { discoverDags } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'runtime/discovery/index.ts')).href)});
      if (process.argv[2] === 'warm') register(${JSON.stringify(forbid)});
      const r = await discoverDags(${JSON.stringify(folder)}, { cacheDir: ${JSON.stringify(dir)} });
      console.log(JSON.stringify({ cache: r.cache, dags: r.dags.map((d) => d.dagId + ':' + d.tasks.length + ':' + d.source).sort(), errors: r.errors.length }));
    `;
    const tsx = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const run = (mode: string) => {
      const p = spawnSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script, mode], { encoding: 'utf8', cwd: root });
      if (p.status !== 0) throw new Error(p.stderr);
      return JSON.parse(p.stdout.trim().split('\n').pop()!) as { cache: { hits: number; misses: number }; dags: string[]; errors: number };
    };
    const cold = run('cold');
    expect(cold.cache).toEqual({ hits: 0, misses: 3 });
    const warm = run('warm');
    expect(warm.cache).toEqual({ hits: 3, misses: 0 });
    expect(warm.dags).toEqual(cold.dags);
    expect(warm.dags).toContain('loop_chain:5:runtime');

    fs.appendFileSync(path.join(folder, 'fan_in.ts'), '\n// touched\n');
    const touched = run('cold');
    expect(touched.cache).toEqual({ hits: 2, misses: 1 });
  });
});

test('validate re-checks a DAG file when a local file it imports changes (type errors are cached per file)', async () => {
  const folder = path.join(tmp, 'typed');
  fs.mkdirSync(folder);
  fs.writeFileSync(path.join(folder, '_helper.ts'), 'export const rows: number = 3;\n');
  fs.writeFileSync(path.join(folder, 'uses_helper.ts'), [
    "import { dag } from 'weir';",
    "import { rows } from './_helper.ts';",
    "const d = dag({ id: 'uses_helper' });",
    'd.task({ id: \'count\' }, () => rows.toFixed(0));',
    'export default d;',
    '',
  ].join('\n'));
  const dir = path.join(tmp, 'typed-cache');
  expect((await validateDags(folder, { cacheDir: dir })).errors).toEqual([]);
  fs.writeFileSync(path.join(folder, '_helper.ts'), "export const rows: string = 'three';\n");
  const v = await validateDags(folder, { cacheDir: dir });
  expect(v.errors.map((e) => `${path.basename(e.file)}:${e.line}:${e.column}: ${e.message}`)).toEqual([
    "uses_helper.ts:4:36: TS2551: Property 'toFixed' does not exist on type 'string'. Did you mean 'fixed'?",
  ]);
});

describe('rendering', () => {
  let d: DagRecord;
  beforeAll(async () => {
    d = dagOf(await discover(path.join(fixtures, 'dags-ok'), { cache: false }), 'stock_prices');
  });

  test('tree: schedule, params with defaults, tasks as a tree, edges', () => {
    const text = renderGraph(d, 'tree');
    expect(text).toContain('stock_prices — daily prices with an average-price check');
    expect(text).toContain('schedule: @daily (America/New_York), from 2024-01-01, catchup false, max 1 active runs');
    expect(text).toContain('    symbol: string = "AMZN"');
    expect(text).toContain('    dry_run: boolean (optional)');
    expect(text).toContain(['    extract [retries=3]', '    └─ clean [retries=2]', '       ├─ load [retries=2]', '       │  └─ check_average [all_done, retries=2]', '       └─ check_average [all_done, retries=2] (see above)'].join('\n'));
    expect(text).toContain('    clean -> check_average');
  });

  test('mermaid, dot and json', () => {
    expect(renderGraph(d, 'mermaid')).toMatch(/^flowchart LR\n/);
    expect(renderGraph(d, 'mermaid')).toContain('  extract --> clean');
    expect(renderGraph(d, 'dot')).toContain('  "load" -> "check_average";');
    const json = JSON.parse(renderGraph(d, 'json'));
    expect(json.tasks[0]).toEqual({ task_id: 'extract', upstream: [], downstream: ['clean'], trigger_rule: 'all_success', retries: 3, mapped_over: null, line: 22, column: 17 });
    expect(json.params[0]).toEqual({ name: 'symbol', type: 'string', default: 'AMZN', optional: false });
  });
});

test('a file-arrival trigger is read statically and shown by dags show', async () => {
  const folder = path.join(tmp, 'file-trigger');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'landing.ts'), `import { dag, z } from 'weir';
const d = dag({ id: 'trips_landing', params: z.object({ file: z.string() }), trigger: { files: { folder: '../landing', pattern: '*.csv' } } });
d.task({ id: 'load' }, (ctx) => ctx.params.file);
export default d;
`);
  const r = await discover(folder);
  const d = dagOf(r, 'trips_landing');
  expect([d.source, d.trigger]).toEqual(['static', { folder: '../landing', pattern: '*.csv' }]);
  expect(renderGraph(d, 'tree')).toContain('  trigger: a run per file matching *.csv in ../landing');
});
