/**
 * File-arrival triggers: one run per file that lands complete in a DAG's folder, exactly
 * once with two schedulers scanning and across a restart, with the file's path in its
 * params; a file still growing waits for its settle time; the same path with new content
 * is a new run; other names are ignored; a paused DAG waits. A trigger whose DAG does not
 * declare the param is a DAG problem.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dag, z } from '../runtime/index.ts';
import { validateDag } from '../runtime/loader/graph.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';

const landing = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-landing-'));
const d = dag({ id: 'landing', params: z.object({ file: z.string() }), trigger: { files: { folder: landing, pattern: '*.csv', settleMs: 300 } } });
d.task({ id: 'count' }, async (ctx) => {
  const { readFile } = await import('node:fs/promises');
  return { file: ctx.params.file, lines: (await readFile(ctx.params.file, 'utf8')).trim().split('\n').length };
});

// A file-trigger DAG with no schedule still registers paused when it says so.
const waiting = dag({ id: 'landing_waits', params: z.object({ file: z.string() }), pausedOnCreation: true, trigger: { files: { folder: path.join(landing, 'later'), pattern: '*.csv' } } });
waiting.task({ id: 't' }, () => 1);

// Known by content: the same bytes under another name (or dropped again) make no second run.
const byContent = dag({ id: 'landing_by_content', params: z.object({ file: z.string() }), trigger: { files: { folder: path.join(landing, 'content'), pattern: '*.csv', settleMs: 0, identity: 'content' } } });
byContent.task({ id: 't' }, (ctx) => ctx.params.file);

let te: TestEngine;
const schedulers: Scheduler[] = [];
beforeAll(async () => {
  te = await startTestEngine([d, waiting, byContent]);
});
afterAll(async () => {
  for (const s of schedulers) await s.stop();
  await te?.close();
  fs.rmSync(landing, { recursive: true, force: true });
});

async function scheduler(): Promise<Scheduler> {
  // The file tick is the test's: scans happen when it calls checkFiles.
  const s = new Scheduler(te.engine, te.dags, { safetyTickMs: 3_600_000, fileScanMs: 3_600_000 });
  await s.start();
  schedulers.push(s);
  return s;
}
const fileRuns = async () => (await te.db.pool.query("SELECT run_id, conf->>'file' AS file, state FROM weir.dag_run WHERE dag_id = 'landing' AND run_type = 'file' ORDER BY created_at")).rows;
/** Two schedulers scanning at once (a scheduler's overlapping scans share one). */
const both = async (a: Scheduler, b: Scheduler) => (await Promise.all([a.checkFiles(), b.checkFiles()])).flat();

test('one run per landed file, exactly once across two schedulers and a restart; new content is a new run', async () => {
  const a = await scheduler();
  const b = await scheduler();
  const file = path.join(landing, 'trips-1.csv');
  fs.writeFileSync(file, 'id,city\n1,Turin\n');
  // Seen for the first time: not complete yet, whoever looks.
  expect(await both(a, b)).toEqual([]);
  fs.appendFileSync(file, '2,Prague\n');        // still being written: its settle time starts over
  fs.writeFileSync(path.join(landing, 'notes.txt'), 'not a csv');
  const created = await eventually(async () => {
    const got = await both(a, b);
    return got.length ? got : undefined;
  }, 30_000, 'the landed file to settle');
  expect(created).toHaveLength(1);
  let runs = await fileRuns();
  expect(runs.map((r) => r.file)).toEqual([file]);
  expect(await te.waitForRun(runs[0]!.run_id, 30_000)).toBe('success');
  const { rows } = await te.db.pool.query("SELECT output FROM weir.task_instance WHERE run_id = $1 AND task_id = 'count'", [runs[0]!.run_id]);
  expect(rows[0]!.output).toEqual({ file, lines: 3 });

  // A restarted scheduler sees the same file complete: the run exists, nothing new.
  await a.stop();
  const c = await scheduler();
  const settledAfter = Date.now() + 1000;
  while (Date.now() < settledAfter) expect(await both(b, c)).toEqual([]);
  expect(await fileRuns()).toHaveLength(1);

  // The same path with new content, and a second file: one new run each.
  fs.writeFileSync(file, 'id,city\n1,Turin\n2,Prague\n3,Hamburg\n4,Turin\n');
  fs.writeFileSync(path.join(landing, 'trips-2.csv'), 'id,city\n9,Hamburg\n');
  await eventually(async () => (await both(b, c), (await fileRuns()).length === 3), 30_000, 'two more runs');
  runs = await fileRuns();
  expect(runs.map((r) => path.basename(r.file)).sort()).toEqual(['trips-1.csv', 'trips-1.csv', 'trips-2.csv']);
  expect(new Set(runs.map((r) => r.run_id)).size).toBe(3);
}, 60_000);

test('a paused DAG makes no file runs until unpaused', async () => {
  const s = await scheduler();
  expect((await te.db.pool.query("SELECT dag_id, is_paused FROM weir.dag WHERE dag_id LIKE 'landing%' ORDER BY dag_id")).rows).toEqual([
    { dag_id: 'landing', is_paused: false }, { dag_id: 'landing_by_content', is_paused: false }, { dag_id: 'landing_waits', is_paused: true },
  ]);
  await te.db.pool.query("UPDATE weir.dag SET is_paused = true WHERE dag_id = 'landing'");
  const before = (await fileRuns()).length;
  fs.writeFileSync(path.join(landing, 'trips-3.csv'), 'id,city\n5,Turin\n');
  const until = Date.now() + 1000;
  while (Date.now() < until) expect(await s.checkFiles()).toEqual([]);
  await te.db.pool.query("UPDATE weir.dag SET is_paused = false WHERE dag_id = 'landing'");
  await eventually(async () => (await s.checkFiles()).length === 1, 30_000, 'the run after unpausing');
  expect((await fileRuns()).length).toBe(before + 1);
});

test('a file trigger whose DAG does not declare the param is a DAG problem', () => {
  const bad = dag({ id: 'bad_trigger', trigger: { files: { folder: 'landing', pattern: '*.csv' } } });
  bad.task({ id: 't' }, () => null);
  expect(validateDag(bad, 'bad.ts').join('\n')).toContain('a file trigger passes the file\'s path in the param "file": declare it in params (z.string())');
  const slash = dag({ id: 'bad_pattern', params: z.object({ file: z.string() }), trigger: { files: { folder: 'landing', pattern: 'sub/*.csv' } } });
  slash.task({ id: 't' }, () => null);
  expect(validateDag(slash, 'bad.ts').join('\n')).toContain('trigger must be { files: { folder, pattern (a file-name glob such as "*.csv", no "/")');
});

test("identity 'content': the same bytes again, under any name, make no run; new bytes do", async () => {
  const s = await scheduler();
  const folder = path.join(landing, 'content');
  fs.mkdirSync(folder, { recursive: true });
  const runsOfContent = async () => (await te.db.pool.query("SELECT conf->>'file' AS file FROM weir.dag_run WHERE dag_id = 'landing_by_content' ORDER BY created_at")).rows.map((r) => path.basename(r.file));
  // Other schedulers of this file watch the folder too: whichever looks first makes the run, so the runs are counted.
  fs.writeFileSync(path.join(folder, 'a.csv'), 'id\n1\n');
  await s.checkFiles();
  expect(await runsOfContent()).toEqual(['a.csv']);
  fs.rmSync(path.join(folder, 'a.csv'));
  fs.writeFileSync(path.join(folder, 'a.csv'), 'id\n1\n');     // dropped again: a new mtime, the same bytes
  fs.writeFileSync(path.join(folder, 'copy.csv'), 'id\n1\n');  // and under another name
  expect(await s.checkFiles()).toEqual([]);
  expect(await runsOfContent()).toEqual(['a.csv']);
  fs.writeFileSync(path.join(folder, 'b.csv'), 'id\n2\n');
  await s.checkFiles();
  expect(await runsOfContent()).toEqual(['a.csv', 'b.csv']);
});
