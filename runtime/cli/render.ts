/** Plain-text rendering for the CLI: aligned columns, durations, times. */
import type { TaskState } from '../states.ts';
import { DateTime } from 'luxon';
import type { CheckResultRow, RunDetail } from '../read/runs.ts';

export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function time(d: Date | string | null | undefined): string {
  if (!d) return '';
  const date = typeof d === 'string' ? new Date(d) : d;
  return date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export function oneLine(text: string | null | undefined, max = 80): string {
  if (!text) return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Typed over every task state: a new state fails the type check here until it has a symbol. */
export const STATE_SYMBOL: Record<TaskState, string> = {
  none: '·', scheduled: '·', queued: '○', running: '▶', success: '✓', failed: '✗', up_for_retry: '↻', upstream_failed: '⊘', skipped: '↷',
};

/** `weir runs show`: the run, where it waits, and a table of its task instances. */
export function formatRun(run: RunDetail): string {
  return [
    `run ${run.run_id} (${run.dag_id}, ${run.run_type}): ${run.state}${run.note ? ` — ${run.note}` : ''}`,
    `  logical date ${DateTime.fromJSDate(run.logical_date).toUTC().toISO()}, interval [${time(run.data_interval_start)}, ${time(run.data_interval_end)}), duration ${duration(run.duration_ms)}`,
    `  conf ${JSON.stringify(run.conf)}`,
    `  DAG file ${run.dag_file ?? '?'} (content hash ${run.dag_hash ?? '?'})`,
    ...(run.waiting ? [`  waiting: ${run.waiting}`] : []),
    '',
    // try = tries started, max_tries = retries allowed after the first (Airflow's words), as in --json.
    table(['task_id', 'state', 'try', 'max_tries', 'start', 'end', 'duration', 'last error'], run.task_instances.map((r) => [r.task_id, r.state, r.try_number, r.max_tries, time(r.start_date), time(r.end_date), duration(r.duration_ms), oneLine(r.last_error)])),
    ...(run.checks.length ? ['', formatChecks(run.checks)] : []),
    ...(run.artifacts.length ? ['', 'artifacts:', table(['task_id', 'try', 'name', 'type', 'bytes'], run.artifacts.map((a) => [a.task_id, a.try_number, a.name, a.content_type, a.bytes]))] : []),
  ].join('\n');
}

/** Data-quality check results: one line each, failing ones with their count and a sample row. */
export function formatChecks(rows: readonly CheckResultRow[]): string {
  const passed = rows.filter((r) => r.passed).length;
  return [
    `checks: ${passed} of ${rows.length} passed`,
    table(['task_id', 'try', 'check', 'severity', 'result', 'failing', 'sample'], rows.map((r) => [
      r.task_id, r.try_number, r.name, r.severity, r.passed ? 'pass' : r.severity === 'warn' ? 'WARN' : 'FAIL', Number(r.failing), oneLine(r.sample[0] ? JSON.stringify(r.sample[0]) : ''),
    ])),
  ].join('\n');
}
