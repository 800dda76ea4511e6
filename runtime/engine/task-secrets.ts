/**
 * What task code gets of the secrets store (./secrets.ts): `ctx.secret`, `ctx.setSecret`
 * and `ctx.withSecretLock`, on weir's own database, in the isolate (or process) the try
 * runs in; the key comes from that process's environment and WEIR_HOME.
 */
import type pg from 'pg';
import { NonRetryableError } from '../errors.ts';
import { logger } from '../log.ts';
import { registerSecret } from '../redact.ts';
import { readStoredSecret, secretKey, secretProblem, withSecretLock, writeSecret } from './secrets.ts';

async function onStore<T>(fn: (pool: pg.Pool, home: string) => Promise<T>): Promise<T> {
  const [{ withWeirDatabase }, { loadConfig }] = await Promise.all([import('../../tasks/postgres.ts'), import('../config.ts')]);
  const home = loadConfig().home;
  return withWeirDatabase('secrets', (pool) => fn(pool, home));
}

export function taskSecrets(by: string) {
  return {
    /** The environment variable `name`, else the stored secret; the try fails for good when neither exists. */
    async secret(name: string): Promise<string> {
      const problem = secretProblem(name);
      if (problem) throw new NonRetryableError(problem);
      const fromEnv = process.env[name];
      if (fromEnv) {
        registerSecret(fromEnv);
        return fromEnv;
      }
      const stored = await onStore((pool, home) => readStoredSecret(pool, secretKey(home), name));
      if (!stored) throw new NonRetryableError(`no secret ${name}: store it with \`weir secrets set ${name}\` (the value on stdin), or set the environment variable ${name}`);
      return stored.value;
    },
    /** Store a secret now (a rotated refresh token must outlive a try that fails later). */
    async setSecret(name: string, value: string): Promise<void> {
      const problem = secretProblem(name, value);
      if (problem) throw new NonRetryableError(problem);
      registerSecret(value);
      await onStore((pool, home) => writeSecret(pool, secretKey(home, process.env, true)!, name, value, by));
      if (process.env[name]) logger.warn({ secret: name }, `secret ${name} was stored, but the environment variable ${name} takes precedence over the store: unset it, or the stored value is never read`);
    },
    /** Run `fn` holding the secret's lock, across workers and processes. */
    withSecretLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      return onStore((pool) => withSecretLock(pool, name, fn));
    },
  };
}
