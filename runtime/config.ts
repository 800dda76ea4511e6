import path from 'node:path';
import { z } from 'zod';
import dotenv from 'dotenv';
import { InputError } from './errors.ts';
import { envSetting } from './env.ts';
import { LOG_LEVELS } from './log.ts';
import { registerEnvSecrets, maskUrl } from './redact.ts';

/** Environment-driven configuration, validated once and resolved. */
export interface ResolvedConfig {
  /** External PostgreSQL; undefined means weir's embedded server. */
  databaseUrl: string | undefined;
  /** Folder of DAG files. Default `./dags`. */
  dagsFolder: string;
  /** smtp:// or smtps:// URL; undefined means emails go to `${home}/outbox`. */
  smtpUrl: string | undefined;
  /** From address for emails. Default `weir@localhost`. */
  mailFrom: string;
  /** weir's own folder (embedded database, outbox, caches). Default `./.weir`. */
  home: string;
  /** First retry delay of an alert whose sending failed (pg-boss doubles it, up to 15 min). Default 30 s. */
  alertRetryDelayS: number;
  /** Address `weir server` binds. Default 127.0.0.1. */
  serverHost: string;
  /** Port of `weir server`. Default 8080. */
  serverPort: number;
  /** Host names (with or without port) the server answers to beyond loopback ones. Default none. */
  serverAllowedHosts: string[];
}

const EnvSchema = z.object({
  WEIR_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  WEIR_DAGS_FOLDER: z.string().min(1).optional(),
  WEIR_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  WEIR_MAIL_FROM: z.string().min(3).optional(),
  WEIR_HOME: z.string().min(1).optional(),
  WEIR_LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  WEIR_ALERT_RETRY_DELAY_S: z.coerce.number({ message: 'must be a number of seconds' }).int('must be a whole number of seconds').min(1, 'must be at least 1 (second)').optional(),
  WEIR_SERVER_HOST: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'must be a host name or IP address').optional(),
  WEIR_SERVER_PORT: z.coerce.number({ message: 'must be a port number' }).int('must be a whole number').min(0, 'must be 0-65535').max(65535, 'must be 0-65535').optional(),
  WEIR_SERVER_ALLOWED_HOSTS: z.string().regex(/^[A-Za-z0-9.:[\]-]+(,\s*[A-Za-z0-9.:[\]-]+)*$/, 'must be host names separated by commas').optional(),
});

let dotenvLoaded = false;

/** Read configuration from the environment (and `.env` in the working directory). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ResolvedConfig {
  if (!dotenvLoaded && env === process.env) {
    dotenv.config({ path: path.join(cwd, '.env'), quiet: true });
    dotenvLoaded = true;
  }
  const blankToUndefined = Object.fromEntries(Object.keys(EnvSchema.shape).map((k) => [k, envSetting(k, env)]));
  const parsed = EnvSchema.safeParse(blankToUndefined);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new InputError('bad_config', `configuration ${name}=${JSON.stringify(blankToUndefined[name])}: ${issue.message}`);
  }
  const e = parsed.data;
  registerEnvSecrets(env);
  return {
    databaseUrl: e.WEIR_DATABASE_URL,
    dagsFolder: path.resolve(cwd, e.WEIR_DAGS_FOLDER ?? 'dags'),
    smtpUrl: e.WEIR_SMTP_URL,
    mailFrom: e.WEIR_MAIL_FROM ?? 'weir@localhost',
    home: path.resolve(cwd, e.WEIR_HOME ?? '.weir'),
    alertRetryDelayS: e.WEIR_ALERT_RETRY_DELAY_S ?? 30,
    serverHost: e.WEIR_SERVER_HOST ?? '127.0.0.1',
    serverPort: e.WEIR_SERVER_PORT ?? 8080,
    serverAllowedHosts: (e.WEIR_SERVER_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
  };
}

/** A connection URL fit for printing. */
export function describeDatabase(url: string): string {
  return maskUrl(url);
}
