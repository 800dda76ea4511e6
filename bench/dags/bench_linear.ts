// Benchmark DAG: five no-op tasks in a line; each returns when it started and ended
// (performance clock, sub-millisecond) so the bench can measure the gap between steps.
import { dag, type TaskRef } from 'weir';

const d = dag({ id: 'bench_linear', maxActiveRuns: 1000 });
const now = () => performance.timeOrigin + performance.now();
let prev: TaskRef<unknown> = d.task({ id: 't1' }, () => ({ start: now(), end: now() }));
for (const id of ['t2', 't3', 't4', 't5']) {
  prev = d.task({ id, upstream: [prev] }, () => ({ start: now(), end: now() }));
}
export default d;
