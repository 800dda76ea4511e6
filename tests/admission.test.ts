/**
 * Admission under maxActiveRuns without a lock held across a trigger's transaction
 * (issue 12): exact under a storm of concurrent triggers from several connections and
 * workers, and a backlog drained oldest first; `runs list` keyset-paged.
 */
import { z } from 'zod';
import { dag } from '../runtime/index.ts';
import { createRun } from '../runtime/engine/runs.ts';
import { getRunDetail, listRuns } from '../runtime/read/runs.ts';
import { openDatabaseUrl, type Database } from '../runtime/database/connect.ts';
import { startBoss } from '../runtime/queue.ts';
import { InputError } from '../runtime/errors.ts';
import { sqlText } from '../runtime/database/sql.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';

const LIMIT = 3;
let te: TestEngine;

const limited = dag({ id: 'limited', maxActiveRuns: LIMIT });
limited.task({ id: 'hold' }, async (ctx) => {
  // The task counts the runs active at once in the database itself, so every worker sees one counter.
  await te.db.pool.query('UPDATE admission_probe SET active = active + 1, peak = greatest(peak, active + 1)');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await te.db.pool.query('UPDATE admission_probe SET active = active - 1');
  return ctx.runId;
});

let releaseGate: () => void = () => {};
const gate = new Promise<void>((resolve) => { releaseGate = resolve; });
const serialOrder: string[] = [];
const serial = dag({ id: 'serial', maxActiveRuns: 1, params: z.object({ block: z.boolean().default(false) }) });
serial.task({ id: 'one' }, async (ctx) => {
  serialOrder.push(ctx.logicalDate.toISODate()!);
  if (ctx.params.block) await gate;
  return 1;
});

const listed = dag({ id: 'listed' });
listed.task({ id: 'only' }, () => 1);
const paged = dag({ id: 'paged' });
paged.task({ id: 'only' }, () => 1);

beforeAll(async () => {
  te = await startTestEngine([limited, serial, listed, paged], { worker: false });
  await te.db.pool.query('CREATE TABLE admission_probe (active int NOT NULL, peak int NOT NULL); INSERT INTO admission_probe VALUES (0, 0)');
});
afterAll(async () => te?.close());

test(`120 concurrent triggers from three connections pools, two workers: never more than maxActiveRuns (${LIMIT}) runs at once, none left behind`, async () => {
  // Two more engines (their own pools and pg-boss), as other CLI or API processes would be.
  const others: Database[] = [];
  const engines = [te.engine];
  for (let i = 0; i < 2; i++) {
    const db = await openDatabaseUrl(te.testDb.url, { migrate: false });
    others.push(db);
    engines.push({ pool: db.pool, boss: await startBoss(te.testDb.url), alertRetryDelayS: 30, url: te.testDb.url });
  }
  try {
    await te.startWorker({ concurrency: 8 });
    await te.startWorker({ concurrency: 8 });
    const graph = te.dags.dags.get('limited')!;
    const created = await Promise.all(Array.from({ length: 120 }, (_, i) => {
      const at = new Date(Date.UTC(2024, 0, 1) + i * 60_000);
      return createRun(engines[i % engines.length]!, graph, { runType: 'manual', conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
    }));
    const states = await Promise.all(created.map((c) => te.waitForRun(c!.runId, 120_000)));
    expect(states.every((s) => s === 'success')).toBe(true);
    const { rows } = await te.db.pool.query<{ active: number; peak: number }>('SELECT active, peak FROM admission_probe');
    expect(rows[0]).toEqual({ active: 0, peak: LIMIT });
    const unadmitted = await te.db.pool.query("SELECT 1 FROM weir.dag_run WHERE dag_id = 'limited' AND NOT admitted");
    expect(unadmitted.rowCount).toBe(0);
  } finally {
    for (const e of engines.slice(1)) await e.boss.stop({ graceful: false, close: true }).catch(() => {});
    for (const db of others) await db.close();
  }
});

test('a backlog waiting for the one slot is admitted oldest logical date first, whatever the order it was created in', async () => {
  const graph = te.dags.dags.get('serial')!;
  const at = (day: number) => new Date(Date.UTC(2025, 0, day));
  const run = async (day: number, block = false) => (await createRun(te.engine, graph, { runType: 'manual', conf: { block }, logicalDate: at(day), dataIntervalStart: at(day), dataIntervalEnd: at(day) }))!;
  const holder = await run(30, true);
  expect(holder.admitted).toBe(true);
  const waiting = [];
  for (const day of [5, 4, 3, 2, 1]) waiting.push(await run(day));
  expect(waiting.map((w) => w.admitted)).toEqual([false, false, false, false, false]);
  // A waiting run says which run holds the slot (one left queued with no worker is found at once).
  expect((await getRunDetail(te.db.pool, waiting[0]!.runId)).waiting).toBe(`waiting for a free slot (maxActiveRuns reached); held by ${holder.runId} (running): \`weir runs show <run>\` says why one waits`);
  releaseGate();
  for (const w of waiting) expect(await te.waitForRun(w.runId, 60_000)).toBe('success');
  expect(serialOrder).toEqual(['2025-01-30', '2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05']);
});

test('a trigger never waits for the admission lock inside its own transaction; its run is admitted once the lock is free', async () => {
  const graph = te.dags.dags.get('listed')!;
  // Another process holds the DAG's admission lock (as a long admission would).
  const holder = await te.db.pool.connect();
  await holder.query('BEGIN');
  await holder.query(sqlText('admission_lock'), ['listed']);
  let settled = false;
  const at = new Date();
  const creating = createRun(te.engine, graph, { runType: 'manual', conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at }).finally(() => { settled = true; });
  try {
    // The run is committed (visible to everyone) while the lock is still held: creating it did not wait.
    const runId = await eventually(async () => (await te.db.pool.query<{ run_id: string }>("SELECT run_id FROM weir.dag_run WHERE dag_id = 'listed' AND logical_date = $1", [at])).rows[0]?.run_id, 10_000, 'the run to be committed');
    expect(settled).toBe(false);
    expect((await te.db.pool.query('SELECT admitted FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0]).toEqual({ admitted: false });
    await holder.query('COMMIT');
    const created = await creating;
    expect(created).toEqual({ runId, admitted: true });
    expect(await te.waitForRun(runId)).toBe('success');
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
  }
});

test('runs list is keyset-paged: pages follow each other without overlap, with filters, to the end', async () => {
  const graph = te.dags.dags.get('paged')!;
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const at = new Date();
    ids.push((await createRun(te.engine, graph, { runType: 'manual', conf: {}, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at }))!.runId);
  }
  for (const id of ids) await te.waitForRun(id);
  const seen: string[] = [];
  let after: string | undefined;
  const sizes: number[] = [];
  do {
    const page = await listRuns(te.db.pool, { dagId: 'paged', state: 'success', limit: 3, after });
    sizes.push(page.runs.length);
    seen.push(...page.runs.map((r) => r.run_id));
    after = page.next ?? undefined;
  } while (after);
  expect(sizes).toEqual([3, 3, 1]);
  expect(seen).toEqual([...ids].reverse());
  // Without filters the newest runs of every DAG come first, the same order.
  const first = await listRuns(te.db.pool, { limit: 2 });
  expect(first.runs.map((r) => r.run_id)).toEqual([ids[6], ids[5]]);
  const second = await listRuns(te.db.pool, { limit: 2, after: first.next! });
  expect(second.runs.map((r) => r.run_id)).toEqual([ids[4], ids[3]]);
  const error = await listRuns(te.db.pool, { limit: 2, after: 'not-a-cursor' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toBe('--after "not-a-cursor" is not a page cursor (use the `next` value a previous page printed)');
});
