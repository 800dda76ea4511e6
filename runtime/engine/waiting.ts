/**
 * Why a run's ready tries are not running: no run is stuck without a reason.
 * Read from the worker registry (runtime/worker/reaper.ts keeps it), for
 * `weir runs show` and `weir trigger --wait`.
 */
import type pg from 'pg';
import { sql } from '../database/sql.ts';

interface WaitingRow {
  dag_id: string;
  queue: string;
  ready: number;
  handed_back: number;
  alive: number;
  on_queue: number;
  with_dag: number;
  broken_errors: string[];
  /** Task queues of queued tries that no live worker works. */
  unserved_queues: string[];
  /** Running tries (`task on host:pid`) whose worker is gone. */
  orphaned: string[];
  /** Tries waiting for a pool slot (slots null: no such pool). */
  pool_waits: { task_id: string; pool: string; slots: number | null; used: number }[];
}

/**
 * Why a run waits for a slot under its DAG's maxActiveRuns: the runs holding the slots,
 * so a run left queued with no worker (it holds a slot) is found at once.
 */
export async function slotReason(pool: pg.Pool, dagId: string): Promise<string> {
  const { rows } = await pool.query<{ run_id: string; state: string }>(sql('slot_holders'), [dagId, 4]);
  const named = rows.slice(0, 3).map((r) => `${r.run_id} (${r.state})`).join(', ');
  return `waiting for a free slot (maxActiveRuns reached)${rows.length ? `; held by ${named}${rows.length > 3 ? ', …' : ''}: \`weir runs show <run>\` says why one waits` : ''}`;
}

/** One line saying why the run's queued tries wait, or undefined when nothing waits for a worker. */
export async function waitingReason(pool: pg.Pool, runId: string): Promise<string | undefined> {
  const { rows } = await pool.query<WaitingRow>(sql('run_waiting'), [runId]);
  const w = rows[0];
  if (!w) return undefined;
  // A try whose worker died is reaped (and retried) by a live worker that has its DAG.
  if (w.orphaned.length && !w.with_dag) {
    return `${w.orphaned.join(', ')}: that worker is gone and no live worker has DAG ${w.dag_id} to retry it (${w.alive} worker(s) alive); it is retried as soon as one has it`;
  }
  if (!w.ready) return undefined;
  if (!w.alive) return 'waiting for a worker: start one with `npx weir worker` (no live worker)';
  if (!w.on_queue) return `waiting for a worker on queue ${w.queue}: ${w.alive} worker(s) alive, none works that queue`;
  if (w.unserved_queues.length) {
    return `waiting for a worker of task queue ${w.unserved_queues.join(', ')}: ${w.alive} worker(s) alive, none works it; start one with \`npx weir worker --queues ${w.unserved_queues.join(',')}\``;
  }
  if (!w.with_dag) {
    const broken = w.broken_errors.length ? `; broken there: ${w.broken_errors.join('; ')}` : '';
    return `no live worker has DAG ${w.dag_id} (${w.on_queue} worker(s) alive${broken}); it runs as soon as one has it`;
  }
  if (w.pool_waits.length) {
    return w.pool_waits.map((p) => (p.slots === null
      ? `${p.task_id} waits for pool ${p.pool}, which does not exist: \`weir pools set ${p.pool} --slots N\``
      : `${p.task_id} waits for a slot of pool ${p.pool} (${p.used} of ${p.slots} in use)`)).join('; ');
  }
  return undefined;
}
