/**
 * Data-aware runs: a task's `produces` records an asset event with each successful try
 * (none for a failed one), and a DAG whose `trigger.assets` waits for it gets one run
 * (run type `asset`) once every asset it names has a new event — exactly once with two
 * schedulers looking at once; events queued while the consumer is paused make one run
 * when it is unpaused. Bad asset names are DAG problems.
 */
import { dag, z, NonRetryableError } from '../runtime/index.ts';
import { validateDag } from '../runtime/loader/graph.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';

const producer = dag({ id: 'asset_producer', params: z.object({ fail: z.boolean().default(false) }) });
const load = producer.task({ id: 'load', produces: ['lake.bronze'] }, (ctx) => {
  if (ctx.params.fail) throw new NonRetryableError('the load failed');
  return 'loaded';
});
producer.task({ id: 'after', upstream: [load] }, () => 'after');

const other = dag({ id: 'asset_other' });
other.task({ id: 'write', produces: ['lake.other'] }, () => 'written');

const single = dag({ id: 'asset_single', trigger: { assets: ['lake.bronze'] } });
single.task({ id: 'refine' }, (ctx) => ctx.runId);

const both = dag({ id: 'asset_both', trigger: { assets: ['lake.bronze', 'lake.other'] } });
both.task({ id: 'join' }, () => 'joined');

let te: TestEngine;
const schedulers: Scheduler[] = [];
beforeAll(async () => {
  te = await startTestEngine([producer, other, single, both]);
  await te.startWorker();
});
afterAll(async () => {
  for (const s of schedulers) await s.stop();
  await te?.close();
});

async function scheduler(): Promise<Scheduler> {
  // No ticks of their own: the test (and producers' announcements) make them look.
  const s = new Scheduler(te.engine, te.dags, { safetyTickMs: 3_600_000, fileScanMs: 3_600_000 });
  await s.start();
  schedulers.push(s);
  return s;
}
const runsOf = async (dagId: string) =>
  (await te.db.pool.query<{ run_id: string; run_type: string; state: string; note: string }>('SELECT run_id, run_type, state::text, note FROM weir.dag_run WHERE dag_id = $1 ORDER BY created_at', [dagId])).rows;
const lookBoth = async (a: Scheduler, b: Scheduler) => (await Promise.all([a.checkAssets(), b.checkAssets(), a.checkAssets(), b.checkAssets()])).flat();

test('a produced asset starts its consumer once, with two schedulers; a DAG waiting for two assets runs when both have events', async () => {
  const a = await scheduler();
  const b = await scheduler();
  const runId = await te.trigger('asset_producer');
  expect(await te.waitForRun(runId)).toBe('success');
  const started = await eventually(async () => {
    await lookBoth(a, b);
    const runs = await runsOf('asset_single');
    return runs.length ? runs : undefined;
  }, 30_000, 'the consumer run');
  // Looked at again and again by both: still one run for the one event.
  expect(await lookBoth(a, b)).toEqual([]);
  expect(await runsOf('asset_single')).toHaveLength(1);
  expect(started[0]).toMatchObject({ run_type: 'asset', note: `assets lake.bronze (from asset_producer ${runId})` });
  expect(started[0]!.run_id).toMatch(/^asset__asset_single__\d+$/);
  expect(await te.waitForRun(started[0]!.run_id)).toBe('success');
  const { rows: events } = await te.db.pool.query('SELECT asset, dag_id, run_id, task_id, try_number FROM weir.asset_event ORDER BY id');
  expect(events).toEqual([{ asset: 'lake.bronze', dag_id: 'asset_producer', run_id: runId, task_id: 'load', try_number: 1 }]);

  // asset_both has lake.bronze's event queued and waits for lake.other.
  expect(await runsOf('asset_both')).toEqual([]);
  const otherRun = await te.trigger('asset_other');
  expect(await te.waitForRun(otherRun)).toBe('success');
  const joined = await eventually(async () => {
    await lookBoth(a, b);
    const runs = await runsOf('asset_both');
    return runs.length ? runs : undefined;
  }, 30_000, 'the run waiting for both assets');
  expect(joined).toHaveLength(1);
  expect(joined[0]!.note).toBe(`assets lake.bronze (from asset_producer ${runId}), lake.other (from asset_other ${otherRun})`);
  expect(await te.waitForRun(joined[0]!.run_id)).toBe('success');
  expect((await te.db.pool.query('SELECT count(*)::int AS n FROM weir.asset_queue')).rows[0].n).toBe(0);
}, 90_000);

test('a failed try produces nothing; events queued while the consumer is paused make one run when it is unpaused', async () => {
  const s = await scheduler();
  const before = (await runsOf('asset_single')).length;
  const failed = await te.trigger('asset_producer', { fail: true });
  expect(await te.waitForRun(failed)).toBe('failed');
  expect(await s.checkAssets()).toEqual([]);
  expect((await te.db.pool.query("SELECT count(*)::int AS n FROM weir.asset_event WHERE run_id = $1", [failed])).rows[0].n).toBe(0);

  await te.db.pool.query("UPDATE weir.dag SET is_paused = true WHERE dag_id = 'asset_single'");
  const first = await te.trigger('asset_producer');
  const second = await te.trigger('asset_producer');
  expect(await te.waitForRun(first)).toBe('success');
  expect(await te.waitForRun(second)).toBe('success');
  expect(await s.checkAssets()).toEqual([]);
  expect((await runsOf('asset_single')).length).toBe(before);
  await te.db.pool.query("UPDATE weir.dag SET is_paused = false WHERE dag_id = 'asset_single'");
  const created = await eventually(async () => {
    const got = await s.checkAssets();
    return got.length ? got : undefined;
  }, 30_000, 'the run after unpausing');
  expect(created).toHaveLength(1);
  const runs = await runsOf('asset_single');
  expect(runs).toHaveLength(before + 1);
  expect(runs.at(-1)!.note).toBe(`assets lake.bronze (from asset_producer ${second}, 2 events)`);
}, 60_000);

test('bad asset names are DAG problems', () => {
  const bad = dag({ id: 'bad_assets', trigger: { assets: [] } });
  bad.task({ id: 't', produces: ['has space'] }, () => null);
  const problems = validateDag(bad, 'bad.ts').join('\n');
  expect(problems).toContain('trigger.assets must be a non-empty list of asset names (1-200 of letters, digits and . _ - : /)');
  expect(problems).toContain('task "t": produces must be a list of asset names');
});
