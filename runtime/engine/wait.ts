/**
 * Waiting for runs to end, woken by the `weir_run` notification a run's last
 * transition sends (`<run_id>:<state>`), with no polling interval in the way.
 */
import type pg from 'pg';
import { Listener } from '../database/listener.ts';
import { RUN_FINISHED, type RunState } from '../states.ts';

export async function runState(pool: pg.Pool, runId: string): Promise<RunState | undefined> {
  const { rows } = await pool.query<{ state: RunState }>('SELECT state FROM weir.dag_run WHERE run_id = $1', [runId]);
  return rows[0]?.state;
}

/** Run ends heard on one LISTEN connection, for any number of waits (the benchmark waits for thousands). */
export class RunEnds {
  private readonly waiters = new Map<string, Set<() => void>>();
  private listener: Listener | undefined;

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string, pool: pg.Pool): Promise<RunEnds> {
    const ends = new RunEnds(pool);
    ends.listener = await Listener.open({
      url,
      channels: ['weir_run'],
      applicationName: 'weir-wait',
      name: 'run wait',
      onNotification: (msg) => {
        // Run ids carry timestamps (with colons): the state is after the last one.
        const payload = msg.payload ?? '';
        for (const check of ends.waiters.get(payload.slice(0, payload.lastIndexOf(':'))) ?? []) check();
      },
      // Ends announced while disconnected reached nobody: look at every awaited run again.
      onReconnect: () => {
        for (const checks of ends.waiters.values()) for (const check of checks) check();
      },
    });
    return ends;
  }

  /** Resolves with the run's final state; rejects after `timeoutMs`. */
  wait(runId: string, timeoutMs = 60_000): Promise<RunState> {
    return new Promise<RunState>((resolve, reject) => {
      let checks = this.waiters.get(runId);
      if (!checks) this.waiters.set(runId, (checks = new Set()));
      const done = () => {
        clearTimeout(timer);
        checks.delete(check);
        if (!checks.size) this.waiters.delete(runId);
      };
      const check = () => {
        runState(this.pool, runId).then((state) => {
          if (!state || !RUN_FINISHED.has(state)) return;
          done();
          resolve(state);
        }, (err: unknown) => {
          done();
          reject(err);
        });
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`run ${runId} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      checks.add(check);
      // It may have ended before this wait began listening.
      check();
    });
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }
}

/** Wait for one run on a LISTEN connection of its own. */
export async function waitForRunEnd(url: string, pool: pg.Pool, runId: string, timeoutMs = 60_000): Promise<RunState> {
  const ends = await RunEnds.open(url, pool);
  try {
    return await ends.wait(runId, timeoutMs);
  } finally {
    await ends.close();
  }
}
