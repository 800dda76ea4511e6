/**
 * Live progress of a run for `--wait`: task states redrawn in place on a TTY
 * (log-update), one line per change otherwise. Woken by the run's end
 * notification; the display itself refreshes on a short timer.
 */
import type pg from 'pg';
import { createLogUpdate } from 'log-update';
import { waitForRunEnd } from '../engine/wait.ts';
import { slotReason, waitingReason } from '../engine/waiting.ts';
import { STATE_SYMBOL, duration } from './render.ts';
import { RUN_FINISHED, type RunState, type TaskState } from '../states.ts';

interface Row {
  task_id: string;
  state: TaskState;
  try_number: number;
  duration_ms: number | null;
}

export async function followRun(url: string, pool: pg.Pool, runId: string, options: { out?: NodeJS.WriteStream; timeoutMs?: number; refreshMs?: number } = {}): Promise<RunState> {
  const out = options.out ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const seen = new Map<string, string>();
  const started = Date.now();
  let lastNote = '';
  const draw = tty ? createLogUpdate(out) : undefined;

  const render = async () => {
    const { rows } = await pool.query<Row>('SELECT task_id, state, try_number, duration_ms FROM weir.task_instance WHERE run_id = $1 ORDER BY start_date NULLS LAST, task_id', [runId]);
    const runRow = await pool.query<{ state: RunState; admitted: boolean; dag_id: string }>('SELECT state, admitted, dag_id FROM weir.dag_run WHERE run_id = $1', [runId]);
    const run = runRow.rows[0];
    let note = '';
    if (Date.now() - started > 1500 && run && !RUN_FINISHED.has(run.state)) {
      note = !run.admitted ? await slotReason(pool, run.dag_id) : (await waitingReason(pool, runId)) ?? '';
    }
    if (draw) {
      const lines = rows.map((r) => `  ${STATE_SYMBOL[r.state]} ${r.task_id.padEnd(24)} ${r.state.padEnd(16)} ${r.try_number > 1 ? `try ${r.try_number}` : ''} ${duration(r.duration_ms)}`);
      draw([`run ${runId}: ${run?.state ?? '?'}`, ...lines, note ? `  … ${note}` : ''].join('\n'));
    } else {
      for (const r of rows) {
        const key = `${r.state}/${r.try_number}`;
        if (seen.get(r.task_id) !== key) {
          seen.set(r.task_id, key);
          if (r.state !== 'none') out.write(`${new Date().toISOString()} ${r.task_id} ${r.state}${r.try_number > 1 ? ` (try ${r.try_number})` : ''}\n`);
        }
      }
      if (note && note !== lastNote) out.write(`${note}\n`);
      lastNote = note;
    }
  };

  const timer = setInterval(() => void render().catch(() => {}), options.refreshMs ?? 150);
  try {
    const state = await waitForRunEnd(url, pool, runId, options.timeoutMs ?? 24 * 3600 * 1000);
    await render();
    draw?.done();
    return state;
  } finally {
    clearInterval(timer);
  }
}
