/**
 * What a CLI command needs, opened lazily and closed once: configuration, the
 * loaded DAGs, the database and pg-boss. Commands that only read DAG files
 * never start the database.
 */
import { loadConfig, type ResolvedConfig } from '../config.ts';
import { openDatabase, type Database } from '../database/connect.ts';
import { loadDagsFolder, requireDag, type LoadedDags } from '../loader/loader.ts';
import type { DagGraph } from '../loader/graph.ts';
import { startBoss } from '../queue.ts';
import type { PgBoss } from 'pg-boss';
import type { Engine } from '../engine/runs.ts';

export class Session {
  readonly config: ResolvedConfig;
  private dagsPromise: Promise<LoadedDags> | undefined;
  private db: Database | undefined;
  private boss: PgBoss | undefined;

  constructor(config: ResolvedConfig = loadConfig()) {
    this.config = config;
  }

  dags(): Promise<LoadedDags> {
    this.dagsPromise ??= loadDagsFolder(this.config.dagsFolder);
    return this.dagsPromise;
  }

  async dag(dagId: string): Promise<DagGraph> {
    return requireDag(await this.dags(), dagId);
  }

  async database(options: { migrate?: boolean } = {}): Promise<Database> {
    this.db ??= await openDatabase(this.config, options);
    return this.db;
  }

  async engine(options: { supervise?: boolean; bossMax?: number } = {}): Promise<Engine & { url: string; db: Database }> {
    const db = await this.database();
    this.boss ??= await startBoss(db.url, { supervise: options.supervise ?? false, max: options.bossMax });
    return { pool: db.pool, boss: this.boss, alertRetryDelayS: this.config.alertRetryDelayS, url: db.url, db };
  }

  async close(): Promise<void> {
    const steps = [
      async () => this.boss?.stop({ graceful: false, close: true, timeout: 5000 }),
      async () => this.db?.close(),
    ];
    for (const step of steps) await step().catch(() => {});
  }
}
