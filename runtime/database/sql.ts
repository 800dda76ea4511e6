/**
 * SQL lives in `sql/queries/`, one statement per file with a header naming its
 * parameters; each file is read once and cached.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');
const cache = new Map<string, string>();

/**
 * The text of `sql/queries/<name>.sql`, for a statement that must be planned with its
 * parameters' values every time: a named statement may switch to a generic plan after
 * five calls, and a generic plan can neither use a partial index whose predicate a
 * parameter would have to prove (admit_runs) nor drop the filters a NULL parameter
 * turns off (list_runs). Use as `client.query(sqlText('admit_runs'), values)`.
 */
export function sqlText(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(SQL_DIR, 'queries', `${name}.sql`), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/**
 * `sql/queries/<name>.sql` as a named (prepared) query: each connection parses
 * and plans it once, which is most of the cost of the larger statements on the
 * hot path (end_tries: ~1.0 ms a call unnamed, measured with bench/run.ts).
 * Use as `client.query(sql('end_tries'), values)`.
 */
export function sql(name: string): { name: string; text: string } {
  return { name: `weir_${name}`, text: sqlText(name) };
}

