/**
 * Which database errors are worth retrying, and retrying them: a dropped connection
 * (database restart, `pg_terminate_backend`, a network blip), an admin shutdown, too
 * many connections, a deadlock or serialization failure. Anything else (a constraint,
 * bad data) fails at once: the same statement would fail again.
 */
import { logger } from '../log.ts';
import { toError } from '../errors.ts';

export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true; // connection-level (ECONNRESET, "Connection terminated")
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '40001' || code === '40P01';
}

/** Run `fn`, retrying transient errors with backoff (100 ms doubling to 5 s) for up to `attempts` tries. */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, attempts = 12): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      logger.warn({ what, attempt, err: toError(err).message }, 'database step failed; retrying');
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** (attempt - 1), 5000)));
    }
  }
}
