/**
 * The log shipper: lines a running try writes reach the database within
 * `flushMs` (one statement for all tries with new lines), so `weir tasks logs`
 * shows a running try's lines and a cancelled or killed try keeps what it wrote.
 * What is still buffered when a try ends goes with the statement that ends it.
 */
import type pg from 'pg';
import type { LogLine } from '../authoring/dag.ts';
import { sql } from '../database/sql.ts';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';

export interface TryKey {
  runId: string;
  taskId: string;
  tryNumber: number;
}

interface Buffer {
  key: TryKey;
  lines: LogLine[];
}

export class LogShipper {
  private readonly buffers = new Map<string, Buffer>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly pool: pg.Pool, private readonly flushMs: number) {}

  private static id(k: TryKey): string {
    return `${k.runId}\u0000${k.taskId}\u0000${k.tryNumber}`;
  }

  /** A line written by a running try. */
  add(key: TryKey, line: LogLine): void {
    const id = LogShipper.id(key);
    let buffer = this.buffers.get(id);
    if (!buffer) this.buffers.set(id, (buffer = { key, lines: [] }));
    buffer.lines.push(line);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
  }

  /** Ship every buffered line now (serialised after any flush under way). */
  flush(): Promise<void> {
    const batch = [...this.buffers.values()].filter((b) => b.lines.length);
    this.buffers.clear();
    if (!batch.length) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.pool.query(sql('append_try_logs'), [
          batch.map((b) => b.key.runId), batch.map((b) => b.key.taskId), batch.map((b) => b.key.tryNumber), batch.map((b) => JSON.stringify(b.lines)),
        ]);
      } catch (err) {
        // The lines are not lost for the try's end: they go back to the front of its buffer.
        logger.warn({ tries: batch.length, err: toError(err).message }, 'shipping log lines failed; they go with the next flush');
        for (const b of batch) {
          const id = LogShipper.id(b.key);
          const now = this.buffers.get(id);
          if (now) now.lines.unshift(...b.lines);
          else this.buffers.set(id, b);
        }
      }
    });
    return this.flushing;
  }

  /**
   * The try ended: its lines not shipped yet, once every flush under way has landed
   * (so lines keep their order).
   */
  async take(key: TryKey): Promise<LogLine[]> {
    await this.flushing;
    const id = LogShipper.id(key);
    const lines = this.buffers.get(id)?.lines ?? [];
    this.buffers.delete(id);
    return lines;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
