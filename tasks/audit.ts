/**
 * Audit rows for pipeline steps: `withAudit` runs a step and records it in the warehouse's
 * `audit.step_log` (schema in sql/warehouse/audit.sql) — step, source, target, start and
 * end, duration, rows in / out / affected, status, and the error (secrets masked) — also
 * when the step fails, then rethrows. Reports and alerts query the table.
 *
 * ```ts
 * import { withAudit } from 'weir/tasks/audit';
 * const loaded = await withConnection('warehouse', (pool) => withAudit(pool, ctx, { step: 'bronze', source: file, target: 'bronze.trips' },
 *   async () => { const n = await loadBronze(pool, file); return { result: n, rowsIn: n.read, rowsOut: n.kept }; }));
 * ```
 */
import type pg from 'pg';
import { redact } from '../runtime/redact.ts';
import { toError } from '../runtime/errors.ts';
import { applySqlFile, sqlFile } from './postgres.ts';

export interface AuditStep {
  step: string;
  source?: string;
  target?: string;
}

export interface AuditCounts<T> {
  result: T;
  rowsIn?: number;
  rowsOut?: number;
  rowsAffected?: number;
}

/** Run `fn` as an audited step; its row is written whether it succeeds or throws. */
export async function withAudit<T>(db: pg.Pool, ctx: { dagId: string; runId: string; taskId: string; tryNumber: number }, step: AuditStep, fn: () => Promise<AuditCounts<T>>): Promise<T> {
  await applySqlFile(db, 'warehouse/audit.sql');
  const started = new Date();
  const record = (status: 'success' | 'failed', counts: Omit<AuditCounts<T>, 'result'>, error: string | null) =>
    db.query(sqlFile('warehouse/audit_step.sql'), [
      ctx.dagId, ctx.runId, ctx.taskId, ctx.tryNumber, step.step, step.source ?? null, step.target ?? null, started, new Date(), status,
      counts.rowsIn ?? null, counts.rowsOut ?? null, counts.rowsAffected ?? null, error,
    ]);
  let out: AuditCounts<T>;
  try {
    out = await fn();
  } catch (err) {
    await record('failed', {}, redact(toError(err).message).slice(0, 4000));
    throw err;
  }
  await record('success', out, null);
  return out.result;
}
