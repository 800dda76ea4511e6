// Benchmark DAG: the same shape as bench_mapped with plain tasks: a start, 1,000 no-op tasks, a join.
import { dag } from 'weir';

const d = dag({ id: 'bench_wide', maxActiveRuns: 1 });
const start = d.task({ id: 'list' }, () => 1000);
const middle = Array.from({ length: 1000 }, (_, i) => d.task({ id: `t${i}`, upstream: [start] }, () => i));
d.task({ id: 'join', upstream: middle }, () => middle.length);
export default d;
