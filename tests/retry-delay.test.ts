/** Retry delays follow Airflow's next_retry_datetime window (issue 9). */
import { retryDelayMs } from '../runtime/engine/retry-delay.ts';

const task = { retryDelayMs: 300, retryExponentialBackoff: true, maxRetryDelayMs: 3_600_000 };

test.each([1, 2, 3, 4])('exponential retry %i waits in [d*2^(k-1), d*2^k) across the whole random range', (k) => {
  const low = 300 * 2 ** (k - 1);
  expect(retryDelayMs(task, k + 1, () => 0)).toBe(low);
  expect(retryDelayMs(task, k + 1, () => 0.999999)).toBeLessThan(2 * low);
  expect(retryDelayMs(task, k + 1, () => 0.999999)).toBeGreaterThanOrEqual(2 * low - 1);
});

test('regression: the first retry never waits less than retryDelayMs (it drew 278 ms for 300)', () => {
  for (let i = 0; i < 1000; i++) expect(retryDelayMs(task, 2)).toBeGreaterThanOrEqual(300);
});

test('maxRetryDelayMs caps exponential delays; without backoff the delay is retryDelayMs', () => {
  expect(retryDelayMs({ ...task, maxRetryDelayMs: 1000 }, 10, () => 0.5)).toBe(1000);
  expect(retryDelayMs({ ...task, retryExponentialBackoff: false }, 5)).toBe(300);
});
