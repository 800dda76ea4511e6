// Benchmark DAG: one no-op task under maxActiveRuns 16, for draining a backlog of 50,000 queued runs.
import { dag } from 'weir';

const d = dag({ id: 'bench_drain', maxActiveRuns: 16 });
d.task({ id: 'noop' }, () => null);
export default d;
