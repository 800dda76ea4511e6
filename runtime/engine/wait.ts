/**
 * Waiting for a run to end, woken by the `weir_run` notification its last
 * transition sends (no polling interval in the way).
 */
import pg from 'pg';
import type { RunState } from '../states.ts';

export async function runState(pool: pg.Pool, runId: string): Promise<RunState | undefined> {
  const { rows } = await pool.query<{ state: RunState }>('SELECT state FROM weir.dag_run WHERE run_id = $1', [runId]);
  return rows[0]?.state;
}

/** Resolves with the run's final state; rejects after `timeoutMs`. */
export async function waitForRunEnd(url: string, pool: pg.Pool, runId: string, timeoutMs = 60_000): Promise<RunState> {
  const client = new pg.Client({ connectionString: url, application_name: 'weir-wait' });
  await client.connect();
  try {
    return await new Promise<RunState>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`run ${runId} did not finish within ${timeoutMs} ms`)), timeoutMs);
      const check = async () => {
        const state = await runState(pool, runId);
        if (state === 'success' || state === 'failed') {
          clearTimeout(timer);
          resolve(state);
        }
      };
      client.on('notification', (msg) => {
        if (msg.payload?.startsWith(`${runId}:`)) void check().catch(reject);
      });
      client.query('LISTEN weir_run').then(check).catch(reject);
    });
  } finally {
    await client.end().catch(() => {});
  }
}
