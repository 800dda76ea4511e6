/**
 * Numbered, append-only migrations (`sql/migrations/NNNN_name.sql`) applied in
 * one transaction under an advisory lock, each recorded in `weir.migration`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { SQL_DIR } from './sql.ts';
import { WeirError } from '../errors.ts';
import { withTransaction } from '../engine/transaction.ts';

export interface Migration {
  version: number;
  name: string;
  text: string;
}

export function listMigrations(): Migration[] {
  const dir = path.join(SQL_DIR, 'migrations');
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f.replace(/\.sql$/, ''), text: readFileSync(path.join(dir, f), 'utf8') }));
}

/** Apply pending migrations. Returns the names applied (empty when up to date). */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  return withTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('weir.migrate'))");
    await client.query('CREATE SCHEMA IF NOT EXISTS weir');
    await client.query('CREATE TABLE IF NOT EXISTS weir.migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM weir.migration');
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await client.query(m.text);
      await client.query('INSERT INTO weir.migration (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.name);
    }
    return applied;
  });
}

/** Throws an actionable error when weir's schema is missing or behind. */
export async function assertMigrated(pool: pg.Pool): Promise<void> {
  const latest = Math.max(...listMigrations().map((m) => m.version));
  let current = 0;
  try {
    const { rows } = await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM weir.migration');
    current = rows[0]?.v ?? 0;
  } catch {
    current = 0;
  }
  if (current < latest) throw new WeirError('not_migrated', `weir's database schema is at version ${current}, this weir needs ${latest}: run \`weir db migrate\``, { exitCode: 2 });
}
