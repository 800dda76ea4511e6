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

/** PostgreSQL's class 22 (data exception): retrying the same values cannot succeed. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('22');
}

export interface RetryOptions {
  /** Tries in all. Default 12. */
  attempts?: number;
  /** Which errors are worth another try. Default isTransient. */
  retryable?: (err: unknown) => boolean;
  /** Checked before each retry: false stops retrying (a stopped worker). */
  keepGoing?: () => boolean;
}

/** Run `fn`, retrying errors worth it with backoff (100 ms doubling to 5 s). */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, options: RetryOptions | number = {}): Promise<T> {
  const { attempts = 12, retryable = isTransient, keepGoing = () => true } = typeof options === 'number' ? { attempts: options } : options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !retryable(err) || !keepGoing()) throw err;
      logger.warn({ what, attempt, err: toError(err).message }, 'database step failed; retrying');
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** (attempt - 1), 5000)));
    }
  }
}
