import type { TaskDefinition } from '../authoring/dag.ts';

/**
 * Delay before try `nextTry` (2 = first retry). Exponential backoff doubles the
 * base per retry and draws from the upper half (equal jitter), so a burst of
 * failing tasks does not retry in lockstep; the cap always holds.
 */
export function retryDelayMs(task: Pick<TaskDefinition, 'retryDelayMs' | 'retryExponentialBackoff' | 'maxRetryDelayMs'>, nextTry: number, random = Math.random): number {
  const retryIndex = Math.max(0, nextTry - 2);
  if (!task.retryExponentialBackoff) return Math.min(task.retryDelayMs, task.maxRetryDelayMs);
  const ceiling = Math.min(task.maxRetryDelayMs, task.retryDelayMs * 2 ** Math.min(retryIndex, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
