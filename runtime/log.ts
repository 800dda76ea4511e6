/**
 * Structured, scoped logs on stderr (stdout stays free for `--json`): a static
 * message plus fields. Every line passes through `redact`, so URL passwords and
 * registered secrets never reach a log.
 */
import pino from 'pino';
import { redact } from './redact.ts';

const level = process.env.WEIR_LOG_LEVEL ?? 'info';

export const logger = pino(
  {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      streamWrite: (line) => redact(line),
    },
  },
  pino.destination({ fd: 2, sync: true }),
);

export type Logger = pino.Logger;
