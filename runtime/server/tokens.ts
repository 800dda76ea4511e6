/**
 * Who may use weir's server: bearer tokens (made by `weir tokens create`, or by a login
 * as a session) stored as their SHA-256 only, and the admin secret a login checks,
 * generated at the server's first start into `${WEIR_HOME}/server/admin-secret` with
 * mode 0600. There are no fixed default credentials.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { sql } from '../database/sql.ts';
import { InputError } from '../errors.ts';

export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  token_id: string;
  name: string;
  role: Role;
  kind: 'api' | 'session';
}

/** Prefix of every token, so a leaked one is recognisable (and greppable by secret scanners). */
const TOKEN_PREFIX = 'weir_';
/** How long a login session lasts. */
export const SESSION_SECONDS = 12 * 3600;

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function canWrite(role: Role): boolean {
  return role === 'operator';
}

/** Make a token; the returned `token` is the only time it exists outside its holder. */
export async function createToken(pool: pg.Pool, options: { role: Role; name?: string; kind?: 'api' | 'session' }): Promise<Principal & { token: string; created_at: Date; expires_at: Date | null }> {
  if (!ROLES.includes(options.role)) throw new InputError('bad_role', `role "${options.role}" is not one of ${ROLES.join(', ')}`);
  const kind = options.kind ?? 'api';
  const tokenId = randomBytes(6).toString('hex');
  const name = options.name ?? `${kind}-${tokenId}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new InputError('bad_token_name', `token name "${name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const token = `${TOKEN_PREFIX}${tokenId}_${randomBytes(32).toString('base64url')}`;
  try {
    const { rows } = await pool.query(sql('insert_token'), [tokenId, name, options.role, kind, hashToken(token), kind === 'session' ? SESSION_SECONDS : null]);
    return { ...rows[0], token };
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new InputError('token_exists', `a live token is already named "${name}" (revoke it first, or choose another --name)`);
    throw err;
  }
}

/** The principal a presented token stands for, or undefined (unknown, revoked, expired, malformed). */
export async function verifyToken(pool: pg.Pool, token: string | undefined): Promise<Principal | undefined> {
  if (!token || !token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
  const { rows } = await pool.query<Principal>(sql('find_token'), [hashToken(token)]);
  return rows[0];
}

/** End a token by id or name; InputError when no live token matches. */
export async function revokeToken(pool: pg.Pool, idOrName: string, kind?: 'api' | 'session'): Promise<Principal> {
  const { rows } = await pool.query<Principal>(sql('revoke_token'), [idOrName, kind ?? null]);
  if (!rows[0]) throw new InputError('unknown_token', `no live token "${idOrName}" (see \`weir tokens list\`)`);
  return rows[0];
}

export async function listTokens(pool: pg.Pool): Promise<Record<string, unknown>[]> {
  return (await pool.query(sql('list_tokens'))).rows;
}

export function adminSecretFile(home: string): string {
  return path.join(home, 'server', 'admin-secret');
}

/**
 * The admin secret, generated on first use with mode 0600. `created` says this call made
 * it (the server prints it that once).
 */
export function ensureAdminSecret(home: string): { secret: string; file: string; created: boolean } {
  const file = adminSecretFile(home);
  try {
    return { secret: fs.readFileSync(file, 'utf8').trim(), file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(24).toString('base64url');
  try {
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { secret, file, created: true };
  } catch (err) {
    // Another server made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { secret: fs.readFileSync(file, 'utf8').trim(), file, created: false };
    throw err;
  }
}

/** Constant-time comparison of a presented password with the admin secret. */
export function isAdminSecret(secret: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(secret).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}
