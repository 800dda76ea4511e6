// Benchmark DAG: scheduled every minute; its task returns when it started, so the
// bench can measure a scheduler tick -> first task start.
import { dag } from 'weir';

const d = dag({ id: 'bench_tick', schedule: '* * * * *', startDate: '2024-01-01', catchup: false, maxActiveRuns: 1000 });
d.task({ id: 'start' }, () => ({ start: performance.timeOrigin + performance.now(), end: performance.timeOrigin + performance.now() }));
export default d;
