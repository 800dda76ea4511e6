/**
 * The secrets store (weir.secret): named values sealed with AES-256-GCM, the name bound in
 * as associated data. The key is WEIR_SECRET_KEY (32 bytes as base64 or hex, or a
 * passphrase of 16+ characters, stretched with scrypt) or else the key file
 * `<WEIR_HOME>/secret.key` (32 random bytes, mode 0600, made by the first `weir secrets
 * set`). Every process that reads secrets needs the same key. Read by task code
 * (`ctx.secret`), where an environment variable of the same name wins; written by
 * `weir secrets set` and by tasks (`ctx.setSecret`: a rotated refresh token). Every value
 * read or written is registered for masking.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { InputError, NonRetryableError, WeirError } from '../errors.ts';
import { registerSecret } from '../redact.ts';
import { sql } from '../database/sql.ts';

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** The largest value stored: 64 KiB. */
export const MAX_SECRET_BYTES = 64 * 1024;

export interface SecretKey {
  key: Buffer;
  /** A fingerprint of the key (not the key): which key sealed a value. */
  id: string;
  source: string;
}

const KEY_FILE = 'secret.key';

function fromKeyText(text: string, source: string): SecretKey {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(t) && Buffer.from(t, 'base64').length === 32) key = Buffer.from(t, 'base64');
  else if (t.length >= 16) key = crypto.scryptSync(t, 'weir secrets', 32);
  else throw new InputError('bad_secret_key', `${source} must be 32 bytes as base64 or hex, or a passphrase of at least 16 characters`);
  return { key, id: crypto.createHash('sha256').update(key).digest('hex').slice(0, 16), source };
}

/**
 * The store's key: WEIR_SECRET_KEY, else the key file under `home` — made (0600) when
 * `create` is set and there is none. Undefined when there is no key and none may be made.
 */
export function secretKey(home: string, env: NodeJS.ProcessEnv = process.env, create = false): SecretKey | undefined {
  if (env.WEIR_SECRET_KEY) return fromKeyText(env.WEIR_SECRET_KEY, 'WEIR_SECRET_KEY');
  const file = path.join(home, KEY_FILE);
  if (!fs.existsSync(file)) {
    if (!create) return undefined;
    fs.mkdirSync(home, { recursive: true });
    try {
      fs.writeFileSync(file, `${crypto.randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first: use theirs
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) throw new WeirError('secret_key_exposed', `${file} is readable by others (mode ${mode.toString(8)}): run \`chmod 600 ${file}\``);
  return fromKeyText(fs.readFileSync(file, 'utf8'), file);
}

/** Why a name or value cannot be stored, if it cannot. */
export function secretProblem(name: unknown, value?: unknown): string | undefined {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) return `a secret's name is letters, digits and _ (not starting with a digit), at most 128: got ${JSON.stringify(String(name).slice(0, 40))}`;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.length) return `secret ${name}: the value is empty`;
  if (value.includes('\u0000')) return `secret ${name}: the value holds a NUL character`;
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) return `secret ${name}: the value is over ${MAX_SECRET_BYTES} bytes`;
  return undefined;
}

interface SealedRow {
  name: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  key_id: string;
  version: number;
}

/** Seal and store `value` under `name`; returns its new version. */
export async function writeSecret(db: pg.Pool | pg.ClientBase, key: SecretKey, name: string, value: string, by: string): Promise<number> {
  const problem = secretProblem(name, value);
  if (problem) throw new InputError('bad_secret', problem);
  registerSecret(value);
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(Buffer.from(name));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  const { rows } = await db.query<{ version: number }>(sql('set_secret'), [name, nonce, ciphertext, cipher.getAuthTag(), key.id, by]);
  return rows[0]!.version;
}

/** The stored value of `name` (registered for masking), or undefined when there is none. */
export async function readStoredSecret(db: pg.Pool | pg.ClientBase, key: SecretKey | undefined, name: string): Promise<{ value: string; version: number } | undefined> {
  const row = (await db.query<SealedRow>(sql('get_secret'), [name])).rows[0];
  if (!row) return undefined;
  if (!key) throw new NonRetryableError(`secret ${name} is stored, but this process has no key to open it: set WEIR_SECRET_KEY, or the key file ${KEY_FILE} under WEIR_HOME, to the one it was stored with`);
  if (row.key_id !== key.id) throw new NonRetryableError(`secret ${name} was stored with another key (key id ${row.key_id}; this process has ${key.id} from ${key.source}): every process needs the same WEIR_SECRET_KEY or key file`);
  let value: string;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key.key, row.nonce);
    decipher.setAAD(Buffer.from(name));
    decipher.setAuthTag(row.tag);
    value = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new NonRetryableError(`secret ${name} does not open with this key (it was altered, or moved from another name)`);
  }
  registerSecret(value);
  return { value, version: row.version };
}

export interface SecretListing {
  name: string;
  version: number;
  updated_at: Date;
  updated_by: string;
}

export async function listSecrets(db: pg.Pool): Promise<SecretListing[]> {
  return (await db.query<SecretListing>(sql('list_secrets'))).rows;
}

export async function deleteSecret(db: pg.Pool, name: string): Promise<boolean> {
  return (await db.query(sql('delete_secret'), [name])).rows.length > 0;
}

/** Run `fn` holding the secret's lock (one rotation at a time, across processes). */
export async function withSecretLock<T>(db: pg.Pool, name: string, fn: () => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query(sql('secret_lock'), [name]);
    try {
      return await fn();
    } finally {
      await client.query(sql('secret_unlock'), [name]);
    }
  } finally {
    client.release();
  }
}
