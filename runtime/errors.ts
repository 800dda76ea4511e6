/**
 * One error base class with a code. Every error weir raises on purpose is a
 * WeirError; `exitCode` follows PRODUCT.md: 1 a run or task failed, 2 bad usage
 * or bad input.
 */
export class WeirError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WeirError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad input from a user: unknown DAG, params that fail validation, malformed JSON. Exit code 2. */
export class InputError extends WeirError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, exitCode: 2 });
    this.name = 'InputError';
  }
}

/** Thrown from task code: the task fails now, remaining retries are not used. */
export class NonRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** Thrown from task code: the task instance ends `skipped`; downstream follows its trigger rule. */
export class SkipTask extends Error {
  constructor(message = 'task skipped') {
    super(message);
    this.name = 'SkipTask';
  }
}

/** Normalise anything thrown into an Error (the one place that does so). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  try {
    return new Error(`non-Error thrown: ${JSON.stringify(thrown)}`);
  } catch {
    return new Error(`non-Error thrown: ${String(thrown)}`);
  }
}
