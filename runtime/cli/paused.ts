/**
 * The paused state of DAGs for `weir dags list`, only when the database can be
 * read without starting anything: an external server that answers within a
 * second, or an embedded server that is already running. Otherwise unknown.
 */
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { ResolvedConfig } from '../config.ts';
import { pausedDags } from '../read/dags.ts';

function runningEmbeddedUrl(home: string): string | undefined {
  const pidFile = path.join(home, 'pg', 'data', 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(pid), 0);
  } catch {
    return undefined;
  }
  return `postgres://postgres@127.0.0.1:${Number(port)}/weir`;
}

export async function pausedIfReachable(config: ResolvedConfig): Promise<Map<string, boolean> | undefined> {
  const url = config.databaseUrl ?? runningEmbeddedUrl(config.home);
  if (!url) return undefined;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000, application_name: 'weir-dags-list' });
  try {
    await client.connect();
    return await pausedDags(client);
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}
