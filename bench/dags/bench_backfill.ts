// Benchmark DAG: hourly, for `weir backfill` of 10,000 intervals.
import { dag } from 'weir';

const d = dag({ id: 'bench_backfill', schedule: '@hourly', startDate: '2020-01-01', maxActiveRuns: 16 });
d.task({ id: 'noop' }, () => null);
export default d;
