/**
 * `weir backfill`: one run per data interval in a range, created in batches (each
 * batch one transaction), oldest first; maxActiveRuns is applied by admission, so
 * the runs wait `queued` for their turn. Intervals with a successful run are
 * skipped; failed ones are cleared and re-run with --rerun-failed. Ctrl-C stops
 * creating batches; what was created stays consistent, and running the same
 * command again creates only what is missing.
 */
import { DateTime } from 'luxon';
import { createLogUpdate } from 'log-update';
import type { DagGraph } from '../loader/graph.ts';
import { InputError } from '../errors.ts';
import { sql } from '../database/sql.ts';
import { BULK_RUNS, refreshRunStatistics, clearRun, createRuns, type Engine } from '../engine/runs.ts';
import { parseTimetable, intervalsBetween, scheduledRunId, type DataInterval } from '../schedule/timetable.ts';

const BATCH = 500;

export interface BackfillOptions {
  from: string;
  to: string;
  conf: Record<string, unknown>;
  rerunFailed: boolean;
  dryRun: boolean;
  json: boolean;
  /** Set to stop after the current batch (Ctrl-C). */
  signal?: AbortSignal;
}

export interface BackfillSummary {
  dag_id: string;
  intervals: number;
  created: number;
  skipped_successful: number;
  skipped_in_progress: number;
  skipped_failed: number;
  rerun_failed: number;
  interrupted: boolean;
  dry_run: boolean;
  /** Logical dates (ISO) of the runs a dry run would create, oldest first. */
  planned: string[];
  text: string;
}

/** A range bound in the DAG's zone; `--to` given as a day (no time) includes that whole day. */
function parseBound(name: 'from' | 'to', value: string, zone: string): DateTime {
  const dt = DateTime.fromISO(value, { zone });
  if (!dt.isValid) throw new InputError('bad_date', `--${name} "${value}" is not an ISO date (e.g. 2024-01-31 or 2024-01-31T06:00)`);
  return name === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? dt.endOf('day') : dt;
}

export async function planBackfill(engine: Engine, graph: DagGraph, intervals: DataInterval[]) {
  const existing = new Map<number, { run_id: string; state: string }>();
  for (let i = 0; i < intervals.length; i += 5000) {
    const slice = intervals.slice(i, i + 5000);
    const { rows } = await engine.pool.query<{ run_id: string; logical_date: Date; state: string }>(sql('interval_runs'), [graph.dag.id, slice.map((s) => s.logicalDate.toJSDate())]);
    for (const r of rows) existing.set(r.logical_date.getTime(), r);
  }
  return existing;
}

/** Where a backfill gets its engine: a CLI Session, or the server. */
export interface EngineSource {
  engine(): Promise<Engine>;
}

export async function runBackfill(session: EngineSource, graph: DagGraph, options: BackfillOptions): Promise<BackfillSummary> {
  // A DAG without a schedule is backfilled day by day.
  let tt = graph.options.timetable;
  if (tt.kind === 'manual') tt = parseTimetable({ ...graph.dag.options, schedule: '@daily' });
  const zone = tt.timezone;
  const from = parseBound('from', options.from, zone);
  const to = parseBound('to', options.to, zone);
  if (to < from) throw new InputError('bad_range', `--to ${options.to} is before --from ${options.from}`);
  const intervals = intervalsBetween(tt, from, to);
  const engine = await session.engine();
  const existing = await planBackfill(engine, graph, intervals);

  const summary: BackfillSummary = {
    dag_id: graph.dag.id, intervals: intervals.length, created: 0, skipped_successful: 0, skipped_in_progress: 0,
    skipped_failed: 0, rerun_failed: 0, interrupted: false, dry_run: options.dryRun, planned: [], text: '',
  };
  const toCreate: DataInterval[] = [];
  const toRerun: string[] = [];
  for (const i of intervals) {
    const run = existing.get(i.logicalDate.toMillis());
    if (!run) toCreate.push(i);
    else if (run.state === 'success') summary.skipped_successful++;
    else if (run.state === 'failed') {
      if (options.rerunFailed) toRerun.push(run.run_id);
      else summary.skipped_failed++;
    } else summary.skipped_in_progress++;
  }

  if (options.dryRun) summary.planned = toCreate.map((i) => i.logicalDate.toUTC().toISO()!);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  const tty = !options.json && Boolean(process.stderr.isTTY);
  const bar = tty ? createLogUpdate(process.stderr) : undefined;
  const progress = () => {
    const done = summary.created + summary.rerun_failed;
    const total = toCreate.length + toRerun.length;
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    bar?.(`backfill ${graph.dag.id} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`);
  };
  try {
    if (!options.dryRun) {
      for (let i = 0; i < toCreate.length && !stop.signal.aborted && !options.signal?.aborted; i += BATCH) {
        const batch = toCreate.slice(i, i + BATCH);
        const { created } = await createRuns(engine, graph, batch.map((b) => ({
          runType: 'backfill' as const,
          runId: scheduledRunId(graph.dag.id, b.logicalDate, 'backfill'),
          conf: options.conf,
          logicalDate: b.logicalDate.toJSDate(),
          dataIntervalStart: b.start.toJSDate(),
          dataIntervalEnd: b.end.toJSDate(),
        })));
        summary.created += created.length;
        // Created meanwhile by a scheduler or another backfill: in progress, not ours.
        summary.skipped_in_progress += batch.length - created.length;
        progress();
      }
      if (summary.created >= BULK_RUNS) await refreshRunStatistics(engine);
      for (const runId of toRerun) {
        if (stop.signal.aborted || options.signal?.aborted) break;
        await clearRun(engine, graph, runId, true);
        summary.rerun_failed++;
        progress();
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    bar?.done();
  }
  summary.interrupted = stop.signal.aborted || Boolean(options.signal?.aborted);
  const first = intervals[0]?.logicalDate.toISO();
  const last = intervals[intervals.length - 1]?.logicalDate.toISO();
  summary.text = [
    `${options.dryRun ? 'dry run: ' : ''}backfill of ${graph.dag.id}: ${intervals.length} interval(s)${first ? ` from ${first} to ${last}` : ''}`,
    options.dryRun ? `  would create ${toCreate.length} run(s)${toRerun.length ? `, re-run ${toRerun.length} failed` : ''}` : `  created ${summary.created} run(s)${summary.rerun_failed ? `, re-ran ${summary.rerun_failed} failed` : ''}`,
    `  skipped: ${summary.skipped_successful} already successful, ${summary.skipped_in_progress} queued or running, ${summary.skipped_failed} failed${summary.skipped_failed ? ' (use --rerun-failed)' : ''}`,
    ...(summary.interrupted ? ['  interrupted: runs created so far are kept; run the same command again to create the rest'] : []),
    ...(!options.dryRun && summary.created ? [`  runs start as workers take them, at most ${graph.options.maxActiveRuns} at a time (maxActiveRuns)`] : []),
  ].join('\n');
  return summary;
}
