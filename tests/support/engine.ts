/**
 * A real engine for integration tests: a fresh database (migrated), pg-boss, and
 * an in-process worker over DAGs declared in the test.
 */
import type { Dag } from '../../runtime/authoring/dag.ts';
import { validateDag, resolveGraph, type DagGraph } from '../../runtime/loader/graph.ts';
import type { LoadedDags } from '../../runtime/loader/loader.ts';
import { openDatabaseUrl, type Database } from '../../runtime/database/connect.ts';
import { startBoss } from '../../runtime/queue.ts';
import { createRun, type Engine, type RunSpec } from '../../runtime/engine/runs.ts';
import { validateParams } from '../../runtime/engine/params.ts';
import { waitForRunEnd } from '../../runtime/engine/wait.ts';
import { Worker, type WorkerOptions } from '../../runtime/worker/worker.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import type { RunState } from '../../runtime/states.ts';
import { loadConfig } from '../../runtime/config.ts';

export function loadedDags(...dags: Dag[]): LoadedDags {
  const map = new Map<string, DagGraph>();
  for (const d of dags) {
    const problems = validateDag(d, 'test');
    if (problems.length) throw new Error(problems.join('\n'));
    map.set(d.id, resolveGraph(d, 'test'));
  }
  return { dags: map, broken: new Map() };
}

export interface TestEngine {
  engine: Engine & { url: string };
  db: Database;
  testDb: TestDatabase;
  dags: LoadedDags;
  workers: Worker[];
  startWorker(options?: WorkerOptions): Promise<Worker>;
  trigger(dagId: string, conf?: Record<string, unknown>, spec?: Partial<RunSpec>): Promise<string>;
  waitForRun(runId: string, timeoutMs?: number): Promise<RunState>;
  taskStates(runId: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function startTestEngine(dags: Dag[], options: { worker?: WorkerOptions | false } = {}): Promise<TestEngine> {
  const testDb = await createTestDatabase();
  const db = await openDatabaseUrl(testDb.url, { migrate: true });
  const boss = await startBoss(testDb.url, { supervise: false });
  const engine = { pool: db.pool, boss, alertRetryDelayS: loadConfig().alertRetryDelayS, url: testDb.url };
  const loaded = loadedDags(...dags);
  const workers: Worker[] = [];
  const te: TestEngine = {
    engine,
    db,
    testDb,
    dags: loaded,
    workers,
    async startWorker(wopts = {}) {
      const w = new Worker(engine, loaded, { pollIntervalMs: 500, ...wopts });
      await w.start();
      workers.push(w);
      return w;
    },
    async trigger(dagId, conf = {}, spec = {}) {
      const graph = loaded.dags.get(dagId)!;
      const now = new Date();
      const created = await createRun(engine, graph, {
        runType: 'manual', conf: validateParams(graph.dag, conf), logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now, ...spec,
      });
      if (!created) throw new Error('run not created');
      return created.runId;
    },
    waitForRun: (runId, timeoutMs) => waitForRunEnd(testDb.url, db.pool, runId, timeoutMs),
    async taskStates(runId) {
      const { rows } = await db.pool.query<{ task_id: string; state: string }>('SELECT task_id, state FROM weir.task_instance WHERE run_id = $1 ORDER BY task_id', [runId]);
      return Object.fromEntries(rows.map((r) => [r.task_id, r.state]));
    },
    async close() {
      for (const w of workers) await w.stop();
      await boss.stop({ graceful: false, close: true }).catch(() => {});
      await db.close();
      await testDb.drop();
    },
  };
  if (options.worker !== false) await te.startWorker(options.worker || {});
  return te;
}
