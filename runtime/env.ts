/**
 * Reading one environment variable as a setting, for weir's configuration and for building
 * blocks alike (no dependencies: task code in isolates imports it).
 */
import { InputError } from './errors.ts';

/**
 * One environment variable as a setting: blank (empty or spaces, as docker-compose's
 * `${X:-}` gives) counts as unset, and the value is trimmed.
 */
export function envSetting(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** A URL from an environment variable (of one of `protocols`, when given), or an error naming the variable. */
export function envUrl(name: string, env: NodeJS.ProcessEnv = process.env, protocols?: readonly string[]): string | undefined {
  const value = envSetting(name, env);
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (protocols && !protocols.includes(url.protocol))) {
    throw new InputError('bad_config', `${name}=${JSON.stringify(value)} is not ${protocols ? `an ${protocols.map((p) => p.replace(':', '')).join(' or ')}` : 'a'} URL (e.g. https://api.example.com)`);
  }
  return value;
}
