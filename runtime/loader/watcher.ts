/**
 * The DAG watcher: keeps a LoadedDags current with its folder while a worker or
 * scheduler runs. It watches the folder (fs.watch, recursive) and re-scans shortly
 * after a change, with a periodic re-scan as the backstop for changes a watch
 * misses (network file systems, editors that replace folders). A re-scan imports
 * only files whose content hash changed (rescanDagsFolder) and announces what
 * changed; holders of the LoadedDags see the new DAGs in place.
 */
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { rescanDagsFolder, type LoadedDags } from './loader.ts';
import { logger } from '../log.ts';
import { toError } from '../errors.ts';

export interface DagWatcherOptions {
  /** Backstop re-scan period. Default 10000 ms (WEIR_DAG_RESCAN_MS). */
  rescanIntervalMs?: number;
  /** Quiet time after a file event before re-scanning (editors write in bursts). Default 150 ms. */
  debounceMs?: number;
}

const shared = new WeakMap<LoadedDags, DagWatcher>();

export class DagWatcher extends EventEmitter {
  /**
   * The one watcher of a LoadedDags in this process (a worker and a scheduler in
   * `weir standalone` share one), started by its first user and stopped by its last.
   */
  static for(loaded: LoadedDags, options: DagWatcherOptions = {}): DagWatcher {
    let w = shared.get(loaded);
    if (!w) shared.set(loaded, (w = new DagWatcher(loaded, options)));
    return w;
  }

  private users = 0;
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly rescanIntervalMs: number;
  private readonly debounceMs: number;

  constructor(readonly loaded: LoadedDags, options: DagWatcherOptions = {}) {
    super();
    this.rescanIntervalMs = options.rescanIntervalMs ?? 10_000;
    this.debounceMs = options.debounceMs ?? 150;
  }

  start(): void {
    this.users++;
    const folder = this.loaded.folder;
    if (this.users > 1 || !folder) return; // already watching, or DAGs built in code
    try {
      this.watcher = fs.watch(folder, { recursive: true }, () => this.soon());
      this.watcher.on('error', (err) => logger.warn({ folder, err: toError(err).message }, 'watching the DAGs folder failed; re-scanning periodically only'));
    } catch (err) {
      logger.warn({ folder, err: toError(err).message }, 'cannot watch the DAGs folder; re-scanning periodically only');
    }
    this.timer = setInterval(() => void this.rescan(), this.rescanIntervalMs);
    this.timer.unref();
  }

  private soon(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.rescan(), this.debounceMs);
  }

  /** Re-scan now (serialised: a request during a scan runs once more after it). */
  rescan(): Promise<void> {
    if (this.stopped || !this.loaded.folder) return Promise.resolve();
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.again = false;
        try {
          const { changed } = await rescanDagsFolder(this.loaded);
          if (changed.length) {
            logger.info({ changed, dags: [...this.loaded.dags.keys()], broken: [...this.loaded.broken.keys()] }, 'DAG files reloaded');
            for (const [file, errors] of this.loaded.broken) if (changed.includes(file)) logger.error({ file, errors }, 'broken DAG file skipped');
            this.emit('dags:changed', changed);
          }
        } catch (err) {
          logger.warn({ err: toError(err).message }, 're-scanning the DAGs folder failed; the next scan retries');
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  async stop(): Promise<void> {
    if (--this.users > 0) return;
    this.stopped = true;
    clearTimeout(this.debounce);
    clearInterval(this.timer);
    this.watcher?.close();
    await this.scanning;
  }
}
