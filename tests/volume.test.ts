/**
 * Volume checks against a baseline (weir/tasks/quality checkVolume): the first runs learn,
 * then a count within the band of the rolling median passes; a drop sends one alert with
 * the numbers (a local incoming webhook receives it through the alert queue) and is stored
 * with the try's check results; with severity error a drop fails the task for good and the
 * baseline stays as it was.
 */
import { dag, z } from '../runtime/index.ts';
import { checkVolume } from '../tasks/quality.ts';
import { listDagState } from '../runtime/engine/state.ts';
import { getRunDetail } from '../runtime/read/runs.ts';
import { Alerter } from '../runtime/worker/alerter.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';
import { startHookServer } from './support/webhook.ts';

const d = dag({ id: 'volume_watch', params: z.object({ count: z.number(), severity: z.enum(['warn', 'error']).default('warn') }) });
d.task({ id: 'check', retries: 2 }, (ctx) => checkVolume(ctx, { name: 'events loaded', count: ctx.params.count, severity: ctx.params.severity, alert: { webhook: 'volume' } }));

let te: TestEngine;
let alerter: Alerter;
let hook: Awaited<ReturnType<typeof startHookServer>>;
const posts = () => hook.received.map((r) => r.body as { text: string });
const saved = { ...process.env };

beforeAll(async () => {
  hook = await startHookServer();
  process.env.WEIR_WEBHOOK_VOLUME = `${hook.url}/`;
  te = await startTestEngine([d], { worker: false });
  process.env.WEIR_DATABASE_URL = te.testDb.url;
  await te.startWorker();
  alerter = new Alerter(te.engine.boss, { pollingIntervalSeconds: 0.5 });
  await alerter.start();
});
afterAll(async () => {
  await alerter?.stop();
  await te?.close();
  await hook?.close();
  process.env = saved;
});

async function run(count: number, severity: 'warn' | 'error' = 'warn') {
  const runId = await te.trigger('volume_watch', { count, severity });
  const state = await te.waitForRun(runId, 30_000);
  const detail = await getRunDetail(te.db.pool, runId);
  return { runId, state, detail, output: (await te.db.pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1', [runId])).rows[0]!.output };
}
const baseline = async () => (await listDagState(te.db.pool, 'volume_watch')).find((r) => r.key === 'volume:events loaded')?.value;

test('learn, pass within the band, alert once with the numbers on a drop; an error-severity drop fails for good and leaves the baseline', async () => {
  for (const count of [1000, 1010, 990]) {
    const r = await run(count);
    expect([r.state, r.output.passed, r.output.median]).toEqual(['success', true, null]);
  }
  const ok = await run(1005);
  expect(ok.output).toMatchObject({ passed: true, median: 1000, lower: 500, upper: 2000, message: 'events loaded: 1,005 is within [500, 2,000] (0.5–2 × the median 1,000 of the last 3 runs)' });
  expect(await baseline()).toEqual([1000, 1010, 990, 1005]);

  const drop = await run(300);
  expect(drop.state).toBe('success');
  expect(drop.output).toMatchObject({ passed: false, count: 300, median: 1002.5, lower: 501.25 });
  const message = 'events loaded: 300 is below 501.25 (0.5 × the median 1,002.5 of the last 4 runs)';
  expect(drop.output.message).toBe(message);
  expect(drop.detail.checks.map((c) => [c.name, c.severity, c.passed, Number(c.failing), c.sample[0]])).toEqual([
    ['volume of events loaded', 'warn', false, 1, { count: 300, median: 1002.5, lower: 501.25, upper: 2005, history: [1000, 1010, 990, 1005] }],
  ]);
  await eventually(async () => posts().length > 0, 30_000, 'the volume alert');
  expect(posts()).toEqual([{ text: `weir: volume_watch run ${drop.runId}: volume alert: ${message}` }]);

  const hard = await run(100, 'error');
  expect(hard.state).toBe('failed');
  const t = hard.detail.task_instances[0]!;
  expect([t.try_number, t.last_error]).toEqual([1, 'volume check failed: events loaded: 100 is below 500 (0.5 × the median 1,000 of the last 5 runs)']);
  expect(await baseline()).toEqual([1000, 1010, 990, 1005, 300]);
  // Only the warned drop alerted.
  expect(posts()).toHaveLength(1);
});
