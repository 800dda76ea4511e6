/**
 * The outbox: where emails and webhook posts go when no SMTP server or webhook URL is
 * set (`<WEIR_HOME>/outbox`). Each file appears whole: it is written under a temporary
 * name in the same folder and renamed into place, so a reader listing the folder (a
 * user's script, a test) never opens one half written.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';

export function outboxDir(home: string): string {
  return path.join(home, 'outbox');
}

/** Write `data` to `file` (in the outbox) so that it appears complete or not at all. */
export async function writeOutboxFile(file: string, data: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = path.join(path.dirname(file), `.partial-${crypto.randomBytes(6).toString('hex')}`);
  try {
    await writeFile(partial, data);
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
