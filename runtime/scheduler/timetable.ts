/**
 * Airflow's time semantics, computed with luxon and croner: a scheduled run covers
 * the data interval [start, end) between two consecutive cron fire times in the
 * DAG's time zone; its logical date is the interval start, and it is due once the
 * interval has ended.
 *
 * DST, as tests/schedule-dst.test.ts checks against an independent computation over
 * 2020-2030: a wall-clock time that happens once runs then; one that happens twice
 * (fall back) runs once, at its first occurrence; one that does not exist (spring
 * forward) runs once, at the instant the clocks jump (02:30 in New York runs at
 * 03:00 EDT; 02:15 on Lord Howe's 30-minute shift runs at 02:30). Hourly schedules
 * follow UTC hours through the change: no hour lost or doubled.
 * (cron-parser was measured first and rejected: it loops forever on Lord Howe's
 * 30-minute gap.)
 */
import { Cron } from 'croner';
import { DateTime } from 'luxon';
import { InputError } from '../errors.ts';

export const PRESETS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

export interface Timetable {
  kind: 'cron' | 'once';
  /** The cron expression (presets expanded); empty for @once. */
  cron: string;
  timezone: string;
  /** First data interval starts at the first fire time at or after this. */
  startDate: DateTime;
  endDate: DateTime | undefined;
  catchup: boolean;
}

export interface DataInterval {
  logicalDate: DateTime;
  start: DateTime;
  end: DateTime;
}

export interface ScheduleOptions {
  schedule?: string | null;
  timezone?: string;
  startDate?: string;
  endDate?: string;
  catchup?: boolean;
}

/** Far enough back that a DAG with no startDate and catchup off just runs its latest interval. */
const DEFAULT_START = '2000-01-01T00:00:00';

/** The timetable of a DAG, or undefined for manual-only DAGs. Throws InputError (code bad_schedule). */
export function parseTimetable(options: ScheduleOptions): Timetable | undefined {
  const schedule = options.schedule ?? null;
  if (schedule === null || schedule === '' || schedule === '@none') return undefined;
  const timezone = options.timezone ?? 'UTC';
  if (!DateTime.now().setZone(timezone).isValid) throw new InputError('bad_schedule', `timezone "${timezone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  const parseDate = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const dt = DateTime.fromISO(value, { zone: timezone });
    if (!dt.isValid) throw new InputError('bad_schedule', `${name} "${value}" is not an ISO date (e.g. "2024-01-01")`);
    return dt;
  };
  if (options.catchup && !options.startDate) throw new InputError('bad_schedule', 'catchup: true needs a startDate (otherwise every interval since 2000 would be due)');
  const startDate = parseDate('startDate', options.startDate) ?? DateTime.fromISO(DEFAULT_START, { zone: timezone });
  const endDate = parseDate('endDate', options.endDate);
  const catchup = options.catchup ?? false;
  if (schedule === '@once') return { kind: 'once', cron: '', timezone, startDate, endDate, catchup };
  const cron = schedule.startsWith('@') ? PRESETS[schedule] : schedule;
  if (!cron) throw new InputError('bad_schedule', `schedule "${schedule}" is not a cron expression or one of @once, ${Object.keys(PRESETS).join(', ')}`);
  if (cron.trim().split(/\s+/).length !== 5) throw new InputError('bad_schedule', `schedule "${schedule}" must have 5 fields (minute hour day-of-month month day-of-week)`);
  try {
    new Cron(cron, { timezone, paused: true });
  } catch (err) {
    throw new InputError('bad_schedule', `schedule "${schedule}" is not a valid cron expression: ${(err as Error).message}`);
  }
  return { kind: 'cron', cron, timezone, startDate, endDate, catchup };
}

const crons = new WeakMap<Timetable, Cron>();
function cronOf(tt: Timetable): Cron {
  let c = crons.get(tt);
  if (!c) {
    c = new Cron(tt.cron, { timezone: tt.timezone, paused: true });
    crons.set(tt, c);
  }
  return c;
}

const toZone = (tt: Timetable, d: Date) => DateTime.fromJSDate(d, { zone: tt.timezone });

/** The first fire time strictly after `t`. */
export function fireAfter(tt: Timetable, t: DateTime): DateTime {
  const next = cronOf(tt).nextRun(t.toJSDate());
  if (!next) throw new InputError('bad_schedule', `schedule "${tt.cron}" never fires after ${t.toISO()}`);
  return toZone(tt, next);
}

/** The latest fire time at or before `t`. */
export function fireAtOrBefore(tt: Timetable, t: DateTime): DateTime {
  const [prev] = cronOf(tt).previousRuns(1, t.plus({ milliseconds: 1 }).toJSDate());
  if (!prev) throw new InputError('bad_schedule', `schedule "${tt.cron}" never fired before ${t.toISO()}`);
  return toZone(tt, prev);
}

/** The first fire time at or after `t`. */
function fireAtOrAfter(tt: Timetable, t: DateTime): DateTime {
  return fireAfter(tt, t.minus({ milliseconds: 1 }));
}

function interval(tt: Timetable, start: DateTime): DataInterval | undefined {
  if (tt.endDate && start > tt.endDate) return undefined;
  const end = fireAfter(tt, start);
  return { logicalDate: start, start, end };
}

/** The first interval of the timetable (starting at the first fire time at or after startDate). */
export function firstInterval(tt: Timetable): DataInterval | undefined {
  if (tt.kind === 'once') return { logicalDate: tt.startDate, start: tt.startDate, end: tt.startDate };
  return interval(tt, fireAtOrAfter(tt, tt.startDate));
}

/** The interval after the one whose logical date is `logicalDate`. */
export function nextInterval(tt: Timetable, logicalDate?: DateTime): DataInterval | undefined {
  if (!logicalDate) return firstInterval(tt);
  if (tt.kind === 'once') return undefined;
  return interval(tt, fireAfter(tt, logicalDate));
}

/**
 * Intervals due at `now` that have no run yet, given the latest logical date that
 * has one. catchup: every missed interval, oldest first; otherwise only the latest
 * complete interval (never an older one, so unpausing creates no burst).
 */
export function dueIntervals(tt: Timetable, state: { lastLogicalDate?: DateTime; now: DateTime; limit?: number }): DataInterval[] {
  const { lastLogicalDate, now } = state;
  if (tt.kind === 'once') {
    return !lastLogicalDate && tt.startDate <= now ? [firstInterval(tt)!] : [];
  }
  if (tt.catchup) {
    const out: DataInterval[] = [];
    const limit = state.limit ?? 100_000;
    for (let next = nextInterval(tt, lastLogicalDate); next && next.end <= now && out.length < limit; next = nextInterval(tt, next.logicalDate)) out.push(next);
    return out;
  }
  const end = fireAtOrBefore(tt, now);
  const start = fireAtOrBefore(tt, end.minus({ milliseconds: 1 }));
  if (start < fireAtOrAfter(tt, tt.startDate)) return [];
  if (tt.endDate && start > tt.endDate) return [];
  if (lastLogicalDate && lastLogicalDate >= start) return [];
  return [{ logicalDate: start, start, end }];
}

/** Every interval whose logical date lies in [from, to] (for backfill). */
export function intervalsBetween(tt: Timetable, from: DateTime, to: DateTime, limit = 1_000_000): DataInterval[] {
  if (tt.kind === 'once') {
    const only = firstInterval(tt)!;
    return only.logicalDate >= from && only.logicalDate <= to ? [only] : [];
  }
  const out: DataInterval[] = [];
  const cron = cronOf(tt);
  let start = fireAtOrAfter(tt, from);
  while (start <= to && (!tt.endDate || start <= tt.endDate) && out.length < limit) {
    const next = cron.nextRun(start.toJSDate());
    if (!next) break;
    const end = toZone(tt, next);
    out.push({ logicalDate: start, start, end });
    start = end;
  }
  return out;
}

/** The next `n` runs the scheduler will create (for `weir dags next`), each due at its interval end. */
export function upcomingIntervals(tt: Timetable, now: DateTime, n: number, lastLogicalDate?: DateTime): DataInterval[] {
  const out: DataInterval[] = [];
  let next: DataInterval | undefined;
  if (lastLogicalDate) next = nextInterval(tt, lastLogicalDate);
  else if (tt.kind === 'once') next = firstInterval(tt);
  else {
    // The interval running now (due at its end), unless the schedule starts later.
    const first = firstInterval(tt);
    const current = interval(tt, fireAtOrBefore(tt, now));
    next = first && current && first.start > current.start ? first : current;
  }
  while (next && out.length < n) {
    out.push(next);
    next = nextInterval(tt, next.logicalDate);
  }
  return out;
}

/**
 * The run id of a scheduled or backfill run, deterministic in (dag, logical date):
 * Airflow's `scheduled__2024-01-01T00:00:00+00:00` with the DAG id added, since weir's
 * run ids are unique across DAGs.
 */
export function intervalRunId(dagId: string, logicalDate: DateTime, prefix: 'scheduled' | 'backfill' = 'scheduled'): string {
  return `${prefix}__${dagId}__${logicalDate.toUTC().toFormat("yyyy-MM-dd'T'HH:mm:ss")}+00:00`;
}
