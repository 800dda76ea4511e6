/**
 * A fresh database per test file on the suite's server (embedded by default,
 * WEIR_DATABASE_URL when set), dropped afterwards.
 */
import crypto from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.WEIR_TEST_ADMIN_URL;
  if (!url) throw new Error('WEIR_TEST_ADMIN_URL is not set: run the tests through jest (tests/global-setup.ts)');
  return url;
}

export async function createTestDatabase(prefix = 'weir_test'): Promise<TestDatabase> {
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        // pg-pool's end() resolves before its connections have closed: FORCE would terminate
        // those too, and their clients report the FATAL as an unhandled 'error' (a test failed
        // so). Let them close first (50 looks, 20 ms apart); FORCE ends what is still there.
        for (let look = 0; look < 50; look++) {
          const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0]!.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
