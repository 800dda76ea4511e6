/**
 * File-arrival triggers (a DAG's `trigger.files`): which files in a folder are new and
 * complete. A file is complete once its size and modification time have held for the
 * trigger's settle time, seen by two scans at least that far apart; its key is its path,
 * size and modification time, so a file rewritten with new content is new again. The
 * scheduler scans at its file tick and when the folder changes (fs.watch), and makes one
 * run per key with a run id derived from it: created once, however many schedulers scan.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface FileTrigger {
  folder: string;
  pattern: string;
  settleMs: number;
  param: string;
  /** 'stat': a file is its path, size and mtime; 'content': a SHA-256 of its bytes. */
  identity: 'stat' | 'content';
}

export interface LandedFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of path, size and mtime: what makes a file's run unique. */
  key: string;
}

/** The run id of a landed file's run: `file__<dag>__<key>` (the stat key, or the content hash). */
export function fileRunId(dagId: string, key: string): string {
  return `file__${dagId}__${key.slice(0, 32)}`;
}

/** SHA-256 of a file's bytes, streamed (a 10 GB file in constant memory). */
export async function contentHash(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class FolderScan {
  /** What each file looked like when first seen that way. */
  private readonly seen = new Map<string, { size: number; mtimeMs: number; since: number }>();

  constructor(private readonly trigger: FileTrigger, private readonly now: () => number = Date.now) {}

  /** The files complete now (including ones already handed out: the caller dedupes by key). */
  scan(): LandedFile[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.trigger.folder);
    } catch {
      return []; // no folder yet: nothing has landed
    }
    const now = this.now();
    const ready: LandedFile[] = [];
    const present = new Set<string>();
    for (const name of names) {
      if (!path.matchesGlob(name, this.trigger.pattern)) continue;
      const full = path.join(this.trigger.folder, name);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(full);
      } catch {
        continue; // gone between listing and stat
      }
      if (!stat.isFile()) continue;
      present.add(full);
      const before = this.seen.get(full);
      if (!before || before.size !== stat.size || before.mtimeMs !== stat.mtimeMs) {
        this.seen.set(full, { size: stat.size, mtimeMs: stat.mtimeMs, since: now });
        if (this.trigger.settleMs > 0) continue;
      } else if (now - before.since < this.trigger.settleMs) continue;
      const key = crypto.createHash('sha256').update(`${full}\u0000${stat.size}\u0000${stat.mtimeMs}`).digest('hex');
      ready.push({ path: full, size: stat.size, mtimeMs: stat.mtimeMs, key });
    }
    for (const p of this.seen.keys()) if (!present.has(p)) this.seen.delete(p);
    return ready;
  }
}
