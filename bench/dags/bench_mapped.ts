// Benchmark DAG: a list of 1,000 items, a no-op task mapped over it (1,000 instances), a join.
import { dag } from 'weir';

const d = dag({ id: 'bench_mapped', maxActiveRuns: 1 });
const list = d.task({ id: 'list' }, () => Array.from({ length: 1000 }, (_, i) => i));
const each = d.map({ id: 'each', over: list }, (_ctx, i) => i);
d.task({ id: 'join', upstream: [each] }, (ctx) => ctx.output(each).length);
export default d;
