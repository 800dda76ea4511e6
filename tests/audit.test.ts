/**
 * weir/tasks/audit: a step's audit row in the warehouse — step, source, target, times,
 * duration, rows in/out/affected, status — written when it succeeds and when it fails
 * (with the error, secrets masked), through the real engine.
 */
import { dag, z } from '../runtime/index.ts';
import { withAudit } from '../tasks/audit.ts';
import { withConnection } from '../tasks/postgres.ts';
import { registerSecret } from '../runtime/redact.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';

const SECRET = 'pw-audit-5f1c9e';
const d = dag({ id: 'audited', params: z.object({ fail: z.boolean().default(false) }) });
d.task({ id: 'bronze' }, (ctx) => withConnection('warehouse', (pool) => withAudit(pool, ctx, { step: 'bronze', source: 'landing/trips.csv', target: 'bronze.trips' }, async () => {
  if (ctx.params.fail) throw new Error(`connection to postgres://etl:${SECRET}@db/x refused`);
  return { result: 'loaded', rowsIn: 100, rowsOut: 99, rowsAffected: 99 };
})));

let te: TestEngine;
const saved = { ...process.env };
beforeAll(async () => {
  registerSecret(SECRET);
  te = await startTestEngine([d], { worker: false });
  process.env.WEIR_CONN_WAREHOUSE = te.testDb.url;
  process.env.WEIR_DATABASE_URL = te.testDb.url;
  await te.startWorker();
});
afterAll(async () => {
  await te?.close();
  process.env = saved;
});

test('an audit row for a step that succeeds and for one that fails, with counts, times and the masked error', async () => {
  const ok = await te.trigger('audited', {});
  expect(await te.waitForRun(ok, 30_000)).toBe('success');
  const bad = await te.trigger('audited', { fail: true });
  expect(await te.waitForRun(bad, 30_000)).toBe('failed');
  const { rows } = await te.db.pool.query('SELECT run_id, step, source, target, status, rows_in, rows_out, rows_affected, error, duration_ms >= 0 AS timed, finished_at >= started_at AS ordered FROM audit.step_log ORDER BY id');
  expect(rows.map((r) => ({ ...r, rows_in: r.rows_in === null ? null : Number(r.rows_in), rows_out: r.rows_out === null ? null : Number(r.rows_out), rows_affected: r.rows_affected === null ? null : Number(r.rows_affected) }))).toEqual([
    { run_id: ok, step: 'bronze', source: 'landing/trips.csv', target: 'bronze.trips', status: 'success', rows_in: 100, rows_out: 99, rows_affected: 99, error: null, timed: true, ordered: true },
    { run_id: bad, step: 'bronze', source: 'landing/trips.csv', target: 'bronze.trips', status: 'failed', rows_in: null, rows_out: null, rows_affected: null, error: 'connection to postgres://etl:***@db/x refused', timed: true, ordered: true },
  ]);
});
