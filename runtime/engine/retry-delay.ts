import type { TaskDefinition } from '../authoring/dag.ts';

/**
 * Delay before try `nextTry` (2 = first retry). Without backoff: `retryDelayMs`.
 * With `retryExponentialBackoff`, retry k (k = nextTry - 1) waits a random time in
 * [d·2^(k-1), d·2^k), Airflow's `TaskInstance.next_retry_datetime` (min_backoff =
 * d·2^(k-1), plus a hash modulo min_backoff), so the first retry never waits less
 * than `retryDelayMs` and a burst of failing tasks does not retry in lockstep.
 * `maxRetryDelayMs` caps both.
 */
export function retryDelayMs(task: Pick<TaskDefinition, 'retryDelayMs' | 'retryExponentialBackoff' | 'maxRetryDelayMs'>, nextTry: number, random = Math.random): number {
  if (!task.retryExponentialBackoff) return Math.min(task.retryDelayMs, task.maxRetryDelayMs);
  const retry = Math.max(1, nextTry - 1);
  const minBackoff = task.retryDelayMs * 2 ** Math.min(retry - 1, 30);
  return Math.min(task.maxRetryDelayMs, Math.floor(minBackoff + minBackoff * random()));
}
