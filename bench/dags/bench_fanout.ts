// Benchmark DAG: one task fans out to 50 parallel no-op tasks that join into one.
import { dag } from 'weir';

const d = dag({ id: 'bench_fanout', maxActiveRuns: 1000 });
const now = () => performance.timeOrigin + performance.now();
const start = d.task({ id: 'start' }, () => ({ start: now(), end: now() }));
const middle = Array.from({ length: 50 }, (_, i) => d.task({ id: `m${i}`, upstream: [start] }, () => ({ start: now(), end: now() })));
d.task({ id: 'join', upstream: middle }, () => ({ start: now(), end: now() }));
export default d;
