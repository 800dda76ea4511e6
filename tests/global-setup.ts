/**
 * Starts (or finds) the embedded PostgreSQL once for the whole suite, unless
 * WEIR_DATABASE_URL points at a server. Test files each get their own database
 * from tests/support/database.ts.
 */
import path from 'node:path';
import { ensureEmbeddedPostgres } from '../runtime/database/embedded.ts';

export default async function globalSetup(): Promise<void> {
  if (process.env.WEIR_DATABASE_URL) {
    process.env.WEIR_TEST_ADMIN_URL = process.env.WEIR_DATABASE_URL;
    return;
  }
  const home = process.env.WEIR_TEST_HOME ?? path.resolve('.weir');
  const server = await ensureEmbeddedPostgres(home);
  process.env.WEIR_TEST_ADMIN_URL = server.url;
}
