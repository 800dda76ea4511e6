/**
 * Structured, scoped logs on stderr (stdout stays free for `--json`): a static
 * message plus fields. Every line passes through `redact`, so URL passwords and
 * registered secrets never reach a log.
 */
import pino from 'pino';
import { redact } from './redact.ts';

/** Levels WEIR_LOG_LEVEL accepts (validated with the rest of the configuration in config.ts). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

// An invalid value is refused by loadConfig with a one-line message (exit 2); until then, info.
const wanted = process.env.WEIR_LOG_LEVEL || 'info';
const level = (LOG_LEVELS as readonly string[]).includes(wanted) ? wanted : 'info';

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
