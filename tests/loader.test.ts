import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDagFile, loadDagsFolder, listDagFiles } from '../runtime/loader/loader.ts';
import { findCycle, validateDag } from '../runtime/loader/graph.ts';
import { dag } from '../runtime/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

test('a DAG with many problems reports all of them together, each naming file and task', async () => {
  const file = path.join(fixtures, 'dags-invalid', 'everything_wrong.ts');
  const err = await loadDagFile(file).then(() => undefined, (e: Error & { exitCode: number }) => e);
  expect(err).toBeDefined();
  expect(err!.exitCode).toBe(2);
  const lines = err!.message.split('\n');
  expect(lines.every((l) => l.startsWith(`${file}: DAG "Bad-Id"`))).toBe(true);
  const text = err!.message;
  expect(text).toMatch(/id must match/);
  expect(text).toMatch(/maxActiveRuns must be an integer >= 1/);
  expect(text).toMatch(/timezone "Mars\/Olympus" is not an IANA time zone/);
  expect(text).toMatch(/task "a": task id declared more than once/);
  expect(text).toMatch(/task "Nope": task id must match/);
  expect(text).toMatch(/task "Nope": upstream "ghost" is not a task of this DAG/);
  expect(text).toMatch(/task "Nope": retries must be an integer >= 0/);
  expect(text).toMatch(/cycle (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/);
});

test('syntax errors and missing default exports are reported per file; good files still load', async () => {
  const loaded = await loadDagsFolder(path.join(fixtures, 'dags-invalid'));
  expect(loaded.dags.size).toBe(0);
  const broken = Object.fromEntries([...loaded.broken].map(([f, e]) => [path.basename(f), e.join('\n')]));
  expect(broken['syntax_error.ts']).toMatch(/cannot import/);
  expect(broken['no_default.ts']).toMatch(/default export is not a DAG/);
  const ok = await loadDagsFolder(path.join(fixtures, 'dags-cli'));
  expect([...ok.dags.keys()].sort()).toEqual(['fails', 'greet', 'slow']);
  expect(listDagFiles(path.join(fixtures, 'nowhere'))).toEqual([]);
});

test('findCycle prints the cycle in dependency order', () => {
  const d = dag({ id: 'cyc' });
  d.task({ id: 'x', upstream: ['z'] }, () => 1);
  d.task({ id: 'y', upstream: ['x'] }, () => 1);
  d.task({ id: 'z', upstream: ['y'] }, () => 1);
  const cycle = findCycle(d)!;
  expect(cycle[0]).toBe(cycle[cycle.length - 1]);
  expect(new Set(cycle)).toEqual(new Set(['x', 'y', 'z']));
});

test('a task reference from another DAG is refused', () => {
  const other = dag({ id: 'other' });
  const foreign = other.task({ id: 'f' }, () => 1);
  const d = dag({ id: 'mine' });
  d.task({ id: 't', upstream: [foreign as never] }, () => 1);
  expect(d.tasks.get('t')!.declarationProblems[0]).toMatch(/belongs to DAG "other"/);
});

test('regression: a DAGs folder under a dot-directory is found; dot-folders inside it are still skipped', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-dot-'));
  const folder = path.join(root, '.pipelines', 'dags');
  fs.mkdirSync(path.join(folder, '.hidden'), { recursive: true });
  const source = fs.readFileSync(path.join(fixtures, 'dags-ok', 'fan_in.ts'), 'utf8');
  fs.writeFileSync(path.join(folder, 'fan_in.ts'), source);
  fs.writeFileSync(path.join(folder, '.hidden', 'ignored.ts'), source);
  try {
    expect(listDagFiles(folder)).toEqual([path.join(folder, 'fan_in.ts')]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a schedule that cannot fire is refused with the DAG (the scheduler used to log "bad schedule" and skip it)', () => {
  const problems = (schedule: string, extra: Record<string, unknown> = {}) => {
    const d = dag({ id: 'sched', schedule, ...extra });
    d.task({ id: 't' }, () => 1);
    return validateDag(d, 'sched.ts');
  };
  expect(problems('61 * * * *')).toEqual(['sched.ts: DAG "sched": schedule "61 * * * *" is not a valid cron expression: Invalid value for minute: 61']);
  expect(problems('0 0 31 2 *')).toEqual(['sched.ts: DAG "sched": schedule "0 0 31 2 *" is not a valid cron expression: it never fires']);
  expect(problems('@once')).toEqual(['sched.ts: DAG "sched": schedule "@once" needs a startDate: its single run has that logical date']);
  expect(problems('30 6 * * *', { timezone: 'Europe/Berlin' })).toEqual([]);
});

test('a route under weir\'s own paths, or naming params it does not declare, is a DAG problem', async () => {
  const { z } = await import('../runtime/index.ts');
  const d = dag({ id: 'routes_bad' });
  d.task({ id: 't' }, () => 1);
  d.route({ path: '/api/v2/dags/:id', params: z.object({ id: z.string() }), sql: 'x.sql', args: ['id'] });
  d.route({ path: '/api/v1/:key', params: z.object({ id: z.string() }), sql: 'x.sql', args: ['nope'] });
  d.route({ path: '/dags/mine', params: z.object({}), sql: 'x.sql', args: [] });
  d.route({ path: '/stats', params: z.object({}), sql: 'x.sql', args: [] });
  const problems = validateDag(d, 'routes.ts');
  expect(problems).toEqual([
    'routes.ts: DAG "routes_bad" route "/api/v2/dags/:id": path must start with / and hold only letters, digits, _, -, / and :param segments, outside weir\'s own paths (/, /api/v2/, /api/weir/, /auth/, /login, /logout, /static/, /dags/, /workers, /metrics, /ws/)',
    'routes.ts: DAG "routes_bad" route "/api/v1/:key": args names "nope", which is not one of the params',
    'routes.ts: DAG "routes_bad" route "/api/v1/:key": path segment :key is not one of the params',
    'routes.ts: DAG "routes_bad" route "/dags/mine": path must start with / and hold only letters, digits, _, -, / and :param segments, outside weir\'s own paths (/, /api/v2/, /api/weir/, /auth/, /login, /logout, /static/, /dags/, /workers, /metrics, /ws/)',
  ]);
});
