/**
 * Artifacts: files a try keeps with its run — a report, a chart, an export — stored in
 * weir's database (so any server serves them, whatever machine the worker ran on), listed
 * by `weir runs show` and the run page, and downloaded from the server.
 *
 * ```ts
 * import { saveArtifact } from 'weir/tasks/artifacts';
 * await saveArtifact(ctx, 'summary.html', reportHtml(report), 'text/html');
 * ```
 */
import type pg from 'pg';
import { sql } from '../runtime/database/sql.ts';
import { NonRetryableError } from '../runtime/errors.ts';
import { withWeirDatabase } from './postgres.ts';

/** The largest artifact kept (bigger files belong in object storage or the warehouse). */
export const MAX_ARTIFACT_BYTES = 10 * 1024 * 1024;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ArtifactTarget {
  runId: string;
  taskId: string;
  tryNumber: number;
}

/** Keep `content` as this try's artifact `name` (a file name: letters, digits, `.`, `_`, `-`). */
export async function saveArtifact(target: ArtifactTarget, name: string, content: string | Buffer, contentType: string, options: { db?: pg.Pool } = {}): Promise<{ name: string; bytes: number }> {
  if (!NAME.test(name)) throw new NonRetryableError(`artifact name "${name}" must be a file name: letters, digits, '.', '_' or '-' (at most 128)`);
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (bytes.length > MAX_ARTIFACT_BYTES) throw new NonRetryableError(`artifact ${name} is ${bytes.length} bytes, over the ${MAX_ARTIFACT_BYTES} weir keeps; store it in the warehouse or object storage`);
  return withWeirDatabase('artifacts', async (pool) => {
    const { rows } = await pool.query<{ name: string; bytes: number }>(sql('save_artifact'), [target.runId, target.taskId, target.tryNumber, name, contentType, bytes]);
    return rows[0]!;
  }, options.db);
}
