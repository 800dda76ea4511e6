/**
 * The isolate pool's hand-off (runtime/worker/isolates.ts): short tries share a few hot
 * threads, a try waiting for one starts elsewhere once the running ones grow old (so a
 * blocking try holds nothing back), and a waiting try that is aborted never runs.
 * Real worker threads running a real DAG file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IsolatePool, type IsolateRequest } from '../runtime/worker/isolates.ts';
import { loadDagsFolder, dagModuleUrl } from '../runtime/loader/loader.ts';
import { ROOT } from './support/cli.ts';
import type { TryOutcome } from '../runtime/engine/runs.ts';

let request: (taskId: string, params?: Record<string, unknown>) => IsolateRequest;
const pools: IsolatePool[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-pool-'));

beforeAll(async () => {
  const loaded = await loadDagsFolder(path.join(ROOT, 'tests', 'fixtures', 'dags-pool'));
  const graph = loaded.dags.get('handoff')!;
  const at = new Date().toISOString();
  request = (taskId, params = {}) => ({
    moduleUrl: dagModuleUrl(graph.file, graph.hash), file: graph.relativeFile, dagId: 'handoff', taskId, timeoutMs: undefined, memoryLimitMb: 512, maxLogLines: 100,
    ctx: { runId: 'pool-test', params: { file: '', ...params }, logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, tryNumber: 1, maxTries: 0, timezone: 'UTC', outputs: [], mapIndex: -1, mapItem: undefined },
  });
});
afterAll(async () => {
  for (const p of pools) await p.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function pool(hotThreads: number, youngMs: number, spawnAfterMs?: number): IsolatePool {
  const p = new IsolatePool({ abortGraceMs: 500, idleMs: 60_000, hotThreads, youngMs, spawnAfterMs });
  pools.push(p);
  return p;
}
const threadOf = (o: TryOutcome) => {
  if (o.kind !== 'success') throw new Error(`try did not succeed: ${JSON.stringify(o)}`);
  return (o.output as { threadId: number }).threadId;
};

test('a burst of 40 short tries runs on the 2 hot threads, not on 40', async () => {
  // youngMs 60 s: a try counts as young (holding its thread hot) for the whole test.
  const p = pool(2, 60_000);
  const signal = new AbortController().signal;
  const outcomes = await Promise.all(Array.from({ length: 40 }, () => p.run(request('noop'), signal, () => {})));
  const threads = new Set(outcomes.map(threadOf));
  expect(outcomes).toHaveLength(40);
  expect(threads.size).toBeLessThanOrEqual(2);
  expect(p.size).toBeLessThanOrEqual(2);
});

test('a try waiting behind a blocked hot thread starts on another thread once the blocked one is old', async () => {
  // One hot thread, young for 50 ms: `touch` waits, then starts on a second thread and
  // creates the file that `block_until` waits for. Waiting for ever would never end.
  const p = pool(1, 50);
  const file = path.join(tmp, 'handoff-1');
  const signal = new AbortController().signal;
  const blocked = p.run(request('block_until', { file }), signal, () => {});
  const touch = await p.run(request('touch', { file }), signal, () => {});
  const block = await blocked;
  expect(fs.readFileSync(file, 'utf8')).toBe('here');
  expect(threadOf(touch)).not.toBe(threadOf(block));
});

test('a waiting try that is aborted fails with the reason and never runs; the try ahead of it is unharmed', async () => {
  const p = pool(1, 60_000);
  const file = path.join(tmp, 'handoff-2');
  const never = path.join(tmp, 'never');
  const blocked = p.run(request('block_until', { file }), new AbortController().signal, () => {});
  const cancel = new AbortController();
  const waiting = p.run(request('touch', { file: never }), cancel.signal, () => {});
  cancel.abort(new Error('cancelled by weir runs cancel'));
  const outcome = await waiting;
  expect(outcome).toMatchObject({ kind: 'failed', retryable: true });
  expect((outcome as Extract<TryOutcome, { kind: 'failed' }>).error.message).toBe('cancelled by weir runs cancel');
  // The blocked try still holds the only hot thread; let it finish.
  fs.writeFileSync(file, 'go');
  expect((await blocked).kind).toBe('success');
  expect(fs.existsSync(never)).toBe(false);
});

test('regression: a try waiting while a new thread starts for it runs on the hot thread that frees first (it waited for the new thread\'s start-up, ~0.5-0.8 s)', async () => {
  // One hot thread, young for 20 ms. `noop` warms it; `block_until` then holds it and grows
  // old, so a second thread starts for the waiting `noop`. Freed a few ms later (its file
  // appears), the hot thread takes the waiting try: the new thread is still starting then
  // (tsx, zod and the DAG module take hundreds of ms), and it was bound to nothing.
  const p = pool(1, 20);
  const file = path.join(tmp, 'handoff-3');
  const signal = new AbortController().signal;
  const hot = threadOf(await p.run(request('noop'), signal, () => {}));
  const blocked = p.run(request('block_until', { file }), signal, () => {});
  const waiting = p.run(request('noop'), signal, () => {});
  while (p.size < 2) await new Promise((r) => setImmediate(r));
  fs.writeFileSync(file, 'go');
  expect(threadOf(await blocked)).toBe(hot);
  expect(threadOf(await waiting)).toBe(hot);
  // The new thread came up and waits idle for the next try.
  expect(threadOf(await p.run(request('noop'), signal, () => {}))).toBe(hot);
});

test('regression: a try that waits past youngMs reuses the hot thread, and starts no new one before spawnAfterMs (a busy machine slowed short tries past 2 ms and started threads costing 0.3-0.8 s of CPU each)', async () => {
  // One hot thread, young for 1 ms, new threads only behind tries older than 60 s. The hot
  // thread is held well past youngMs (its pump looks every 1 ms meanwhile); with new threads
  // started after youngMs, the waiting try would have had one started for it.
  const p = pool(1, 1, 60_000);
  const file = path.join(tmp, 'handoff-4');
  const signal = new AbortController().signal;
  const hot = threadOf(await p.run(request('noop'), signal, () => {}));
  const blocked = p.run(request('block_until', { file }), signal, () => {});
  const waiting = p.run(request('noop'), signal, () => {});
  // Time passing is the condition under test here (not a stand-in for synchronisation).
  await new Promise((r) => setTimeout(r, 50));
  expect(p.size).toBe(1);
  fs.writeFileSync(file, 'go');
  expect(threadOf(await blocked)).toBe(hot);
  expect(threadOf(await waiting)).toBe(hot);
  expect(p.size).toBe(1);
});

test('a thread started for a waiting try that dies before it is up fails that try with the reason, and the pool starts no more for it', async () => {
  // A 4 MB heap cannot even load the thread's own code.
  const p = pool(2, 60_000);
  const outcome = await p.run({ ...request('noop'), memoryLimitMb: 4 }, new AbortController().signal, () => {});
  expect(outcome).toMatchObject({ kind: 'failed', retryable: true });
  expect((outcome as Extract<TryOutcome, { kind: 'failed' }>).error.message).toMatch(/task ran out of memory: its isolate's heap limit is 4 MB|the task's isolate could not start/);
  expect(p.size).toBe(0);
});
