/**
 * SQL lives in `sql/queries/`, one statement per file with a header naming its
 * parameters; each file is read once and cached.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');
const cache = new Map<string, string>();

/** The text of `sql/queries/<name>.sql`. */
export function sql(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(SQL_DIR, 'queries', `${name}.sql`), 'utf8');
    cache.set(name, text);
  }
  return text;
}
