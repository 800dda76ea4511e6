/**
 * When scheduled runs exist, as pure functions: Airflow's time semantics computed
 * with luxon. A scheduled run covers the data interval [start, end) between two
 * consecutive fire times of the DAG's cron in its time zone; its logical date is
 * the interval start, and it is due (created) once the interval has ended.
 *
 * The cron library (croner) only answers "which wall-clock times match", evaluated
 * on a zone-less clock; this file decides which instant each wall-clock time means,
 * using the zone's offset segments (./zone-offsets.ts). That keeps the DST rule in
 * one readable place, tested against an independent computation
 * (tests/schedule-intervals-dst.test.ts), instead of inheriting a library's: croner
 * in a zone runs `0 1,2 * * *` twice on a fall-back night and drops the 02:30 run of
 * `30 2,3 * * *` on a spring-forward night (measured with croner 11.0.1).
 *
 * DST rule (the same split as Vixie cron and croner's fixedTimeRule "no-wildcard"):
 * - Fixed-time schedules — the second, minute and hour fields have no `*` and no step
 *   (`30 2 * * *`, `0 1,13 * * *`, `@daily`): a wall-clock time that happens twice
 *   (fall back) runs once, at its first occurrence; one that does not happen (spring
 *   forward) runs once, at the instant the clocks jump (02:30 in New York runs at
 *   03:00 EDT; 02:15 on Lord Howe runs at 02:30 +11:00). Several skipped times share
 *   that one run. So a daily schedule runs exactly once per calendar day.
 * - Interval schedules — any `*` or step in those fields (`@hourly`, `*\/15 * * * *`):
 *   they follow elapsed time. A repeated wall-clock time runs at both occurrences; a
 *   skipped one does not run. So `@hourly` in New York or Berlin gives intervals of
 *   exactly one hour of UTC through both changes, none missing, none doubled; around
 *   Lord Howe's 30-minute shift one interval lasts 1.5 h on each change day (01:00 to
 *   03:00 in October, 01:00+11:00 to 02:00+10:30 in April): its clock hours are not
 *   whole UTC hours apart there.
 * In every case consecutive intervals share their boundary, so no instant is covered
 * twice or left out.
 */
import { Cron, CronPattern } from 'croner';
import { DateTime } from 'luxon';
import { InputError } from '../errors.ts';
import { DAG_DEFAULTS } from '../authoring/dag.ts';
import { resolveZone, segmentAt } from './zone-offsets.ts';

/** Airflow's presets; `@once` is handled apart because it is not a cron. */
export const SCHEDULE_PRESETS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@quarterly': '0 0 1 */3 *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/** What a DAG declares about its schedule (the matching fields of DagOptions). */
export interface ScheduleOptions {
  /** Cron (5 fields, or 6 with seconds first), a preset, `@once`, or null/absent for manual runs only. */
  schedule?: string | null;
  /** IANA zone the cron and dates are read in. Default `UTC`. */
  timezone?: string;
  /** ISO date/time in `timezone`: the first interval starts at the first fire time at or after it. Required for `@once` and `catchup: true`. */
  startDate?: string;
  /** ISO date/time in `timezone`: no interval starts after it. Default: none. */
  endDate?: string;
  /** Create every interval missed while the scheduler was down. Default false. */
  catchup?: boolean;
}

interface TimetableBase {
  /** The schedule as declared (null for manual). */
  readonly schedule: string | null;
  readonly timezone: string;
  readonly startDate: DateTime | undefined;
  readonly endDate: DateTime | undefined;
  readonly catchup: boolean;
}
export interface ManualTimetable extends TimetableBase {
  readonly kind: 'manual';
}
export interface OnceTimetable extends TimetableBase {
  readonly kind: 'once';
  readonly startDate: DateTime;
}
export interface CronTimetable extends TimetableBase {
  readonly kind: 'cron';
  /** The cron expression, presets expanded. */
  readonly cron: string;
  /** Fixed-time (once per wall-clock time) or interval (follows elapsed time) DST handling; see the file header. */
  readonly fixedTime: boolean;
}
/** A DAG's schedule, resolved and validated by {@link parseTimetable}. */
export type Timetable = ManualTimetable | OnceTimetable | CronTimetable;

/** One data interval. All DateTimes are in the DAG's zone; `.toUTC()` / `.toISO()` as needed. */
export interface DataInterval {
  /** Airflow's logical_date: the interval start (for manual runs, when triggered). */
  readonly logicalDate: DateTime;
  readonly start: DateTime;
  /** Exclusive. Equal to start for `@once` and manual runs. */
  readonly end: DateTime;
  /** When the run may be created: the interval end (for `@once`: startDate; manual: now). */
  readonly runAfter: DateTime;
}

const bad = (message: string) => new InputError('bad_schedule', message);

/**
 * Validate and resolve a DAG's schedule. Throws InputError (code `bad_schedule`) with
 * a one-line message naming the bad field: unknown preset, invalid cron, unknown time
 * zone, unparsable or inverted dates, `@once` or `catchup: true` without startDate.
 */
export function parseTimetable(options: ScheduleOptions): Timetable {
  const timezone = options.timezone ?? DAG_DEFAULTS.timezone;
  if (!resolveZone(timezone)) throw bad(`timezone "${timezone}" is not a known IANA time zone (e.g. "Europe/Berlin", "America/New_York", "UTC")`);
  const parseDate = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const dt = DateTime.fromISO(value, { zone: timezone });
    if (!dt.isValid) throw bad(`${name} "${value}" is not an ISO date or date-time (e.g. "2024-01-01" or "2024-01-01T06:00")`);
    return dt;
  };
  const startDate = parseDate('startDate', options.startDate);
  const endDate = parseDate('endDate', options.endDate);
  if (startDate && endDate && endDate < startDate) throw bad(`endDate "${options.endDate}" is before startDate "${options.startDate}"`);
  const catchup = options.catchup ?? DAG_DEFAULTS.catchup;
  const schedule = options.schedule?.trim() || null;
  const base = { schedule, timezone, startDate, endDate, catchup };
  if (schedule === null) return { kind: 'manual', ...base };
  if (schedule === '@once') {
    if (!startDate) throw bad('schedule "@once" needs a startDate: its single run has that logical date');
    return { kind: 'once', ...base, startDate };
  }
  if (catchup && !startDate) throw bad(`catchup: true needs a startDate (the first interval to catch up from) for schedule "${schedule}"`);
  let cron = schedule;
  if (schedule.startsWith('@')) {
    const preset = SCHEDULE_PRESETS[schedule.toLowerCase()];
    if (!preset) throw bad(`schedule "${schedule}" is not a preset; use one of @once, ${Object.keys(SCHEDULE_PRESETS).join(', ')} or a cron expression`);
    cron = preset;
  }
  const fields = cron.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw bad(`schedule "${schedule}" has ${fields} fields; a cron needs 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`);
  let fixedTime: boolean;
  try {
    fixedTime = new CronPattern(cron, undefined, { mode: '5-or-6-parts', fixedTimeRule: 'no-wildcard' }).isFixedTime;
    const probe = wallCron(cron);
    // A day-of-month that never exists (`0 0 30 2 *`) parses fine but would make every lookup scan to year 3000.
    if (probe.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) throw new Error('it never fires');
  } catch (err) {
    throw bad(`schedule "${schedule}" is not a valid cron expression: ${String((err as Error).message).replace(/^CronPattern: /, '')}`);
  }
  return { kind: 'cron', ...base, cron, fixedTime };
}

/** croner on a zone-less clock: epoch milliseconds stand for wall-clock times (UTC fields = wall fields). */
function wallCron(cron: string): Cron {
  return new Cron(cron, { utcOffset: 0, paused: true, mode: '5-or-6-parts' });
}

const wallCrons = new WeakMap<CronTimetable, Cron>();
function cronOf(tt: CronTimetable): Cron {
  let c = wallCrons.get(tt);
  if (!c) wallCrons.set(tt, (c = wallCron(tt.cron)));
  return c;
}

/** First matching wall time >= w. croner's nextRun is strictly after the reference's whole second. */
function wallAtOrAfter(c: Cron, w: number): number | null {
  return c.nextRun(new Date(w - 1))?.getTime() ?? null;
}

/**
 * Every fire instant (epoch ms) at or after `fromMs`, ascending — the heart of the
 * DST rule in the header. Walks the zone's offset segments; within one segment wall
 * time and instant differ by a constant, so each matching wall time is one instant.
 */
export function* fireTimes(tt: CronTimetable, fromMs: number): Generator<number, void, undefined> {
  const c = cronOf(tt);
  let seg = segmentAt(tt.timezone, fromMs);
  let cursor = fromMs;
  let last = -Infinity;
  for (;;) {
    const { startMs, endMs, offsetMs: o, prevOffsetMs: p } = seg;
    if (tt.fixedTime && p < o && startMs >= cursor) {
      // Gap: wall times [start+p, start+o) never happen; a fixed-time schedule runs them when the clocks jump.
      const skipped = wallAtOrAfter(c, startMs + p);
      if (skipped !== null && skipped < startMs + o) yield (last = startMs);
    }
    let w: number | null = Math.max(cursor, startMs) + o;
    // Fold: wall times [start+o, start+p) happened already in the previous segment; fixed-time runs only the first.
    if (tt.fixedTime && p > o) w = Math.max(w, startMs + p);
    w = wallAtOrAfter(c, w);
    const wallEnd = endMs + o;
    while (w !== null && w < wallEnd) {
      const instant = w - o;
      // A wall time at the end of a gap lands on the jump instant already yielded for the gap.
      if (instant !== last) yield (last = instant);
      w = c.nextRun(new Date(w))?.getTime() ?? null;
    }
    if (w === null) return;
    cursor = endMs;
    seg = segmentAt(tt.timezone, endMs);
  }
}

/** The first fire instant >= ms, or undefined if the cron never fires again (past year 3000). */
function fireAtOrAfter(tt: CronTimetable, ms: number): number | undefined {
  for (const f of fireTimes(tt, ms)) return f;
  return undefined;
}

/**
 * The latest fire instant <= ms. Looks back through growing windows (1 minute, ×8 each
 * step) so a minutely cron costs a few wall times and a yearly one about ten windows.
 */
function fireAtOrBefore(tt: CronTimetable, ms: number): number | undefined {
  for (let windowMs = 60_000; windowMs < 40 * 365 * 86_400_000; windowMs *= 8) {
    let found: number | undefined;
    for (const f of fireTimes(tt, ms - windowMs)) {
      if (f > ms) break;
      found = f;
    }
    if (found !== undefined) return found;
  }
  return undefined;
}

const inZone = (tt: Timetable, ms: number): DateTime => DateTime.fromMillis(ms, { zone: tt.timezone });

function cronInterval(tt: CronTimetable, startMs: number, endMs: number, start: DateTime = inZone(tt, startMs), end: DateTime = inZone(tt, endMs)): DataInterval {
  return { logicalDate: start, start, end, runAfter: end };
}

/** Consecutive fire instants as [start, end) pairs, from the first fire at or after `fromMs`, oldest first. */
function* firePairs(tt: CronTimetable, fromMs: number): Generator<[number, number], void, undefined> {
  let prev: number | undefined;
  for (const f of fireTimes(tt, fromMs)) {
    if (prev !== undefined) yield [prev, f];
    prev = f;
  }
}

/** The intervals of {@link firePairs}; each boundary's DateTime is built once (one interval's end is the next one's start). */
function* intervalsFrom(tt: CronTimetable, fromMs: number): Generator<{ startMs: number; endMs: number; interval: DataInterval }, void, undefined> {
  let end: DateTime | undefined;
  for (const [startMs, endMs] of firePairs(tt, fromMs)) {
    const start = end ?? inZone(tt, startMs);
    end = inZone(tt, endMs);
    yield { startMs, endMs, interval: cronInterval(tt, startMs, endMs, start, end) };
  }
}

/** The interval starting at fire instant `startMs`, unless it starts after endDate or the cron stops. */
function intervalFrom(tt: CronTimetable, startMs: number | undefined): DataInterval | undefined {
  if (startMs === undefined || (tt.endDate && startMs > tt.endDate.toMillis())) return undefined;
  const endMs = fireAtOrAfter(tt, startMs + 1);
  return endMs === undefined ? undefined : cronInterval(tt, startMs, endMs);
}

function onceInterval(tt: OnceTimetable): DataInterval {
  const s = tt.startDate;
  return { logicalDate: s, start: s, end: s, runAfter: s };
}

export interface DueOptions {
  /** Logical date of the latest scheduled (or backfill) run; nothing at or before it is returned. */
  lastLogicalDate?: DateTime;
  now: DateTime;
  /** Default: the timetable's catchup. */
  catchup?: boolean;
  /** At most this many intervals (the oldest). Default unlimited. */
  limit?: number;
}

/**
 * The intervals whose runs should exist at `now` and don't yet: each has ended
 * (end <= now), starts at or after startDate and at or before endDate, and after
 * lastLogicalDate. catchup: all of them, oldest first; otherwise only the latest
 * complete one — so unpausing after a long pause creates a single run, never a burst.
 * `@once`: its interval once startDate has passed, if no run exists yet.
 */
export function dueIntervals(tt: Timetable, options: DueOptions): DataInterval[] {
  const { lastLogicalDate, now } = options;
  const catchup = options.catchup ?? tt.catchup;
  const limit = options.limit ?? Infinity;
  if (tt.kind === 'manual' || limit <= 0) return [];
  if (tt.kind === 'once') return !lastLogicalDate && tt.startDate <= now ? [onceInterval(tt)] : [];
  const nowMs = now.toMillis();
  const floorMs = Math.max(tt.startDate?.toMillis() ?? -Infinity, lastLogicalDate ? lastLogicalDate.toMillis() + 1 : -Infinity);
  const endDateMs = tt.endDate?.toMillis() ?? Infinity;
  if (catchup) {
    if (floorMs === -Infinity) throw bad('dueIntervals with catchup needs a startDate or a lastLogicalDate to start from');
    const out: DataInterval[] = [];
    for (const { startMs, endMs, interval } of intervalsFrom(tt, floorMs)) {
      // Not ended yet, or starting after endDate: neither is due, nor is anything later.
      if (endMs > nowMs || startMs > endDateMs) break;
      out.push(interval);
      if (out.length >= limit) break;
    }
    return out;
  }
  // Latest complete interval, clamped to endDate so a missed final interval is not lost.
  let endMs = fireAtOrBefore(tt, nowMs);
  if (endMs === undefined) return [];
  let startMs = fireAtOrBefore(tt, endMs - 1);
  if (startMs !== undefined && startMs > endDateMs) {
    startMs = fireAtOrBefore(tt, endDateMs);
    endMs = startMs === undefined ? undefined : fireAtOrAfter(tt, startMs + 1);
  }
  if (startMs === undefined || endMs === undefined || startMs < floorMs) return [];
  return [cronInterval(tt, startMs, endMs)];
}

export interface BetweenOptions {
  /** Stop after this many intervals. Default unlimited. */
  limit?: number;
}

/**
 * For backfill: every interval whose logical date lies in [from, to], oldest first.
 * The range is the user's explicit request, so it is not clipped to startDate or
 * endDate, and intervals may not have ended yet. `@once`: its interval if startDate
 * is in range.
 */
export function intervalsBetween(tt: Timetable, from: DateTime, to: DateTime, options: BetweenOptions = {}): DataInterval[] {
  if (tt.kind === 'manual') return [];
  if (tt.kind === 'once') return tt.startDate >= from && tt.startDate <= to ? [onceInterval(tt)] : [];
  const out: DataInterval[] = [];
  const limit = options.limit ?? Infinity;
  const toMs = to.toMillis();
  for (const { startMs, interval } of intervalsFrom(tt, from.toMillis())) {
    if (startMs > toMs) break;
    out.push(interval);
    if (out.length >= limit) break;
  }
  return out;
}

/** One upcoming run for `weir dags next`. */
export interface UpcomingRun extends DataInterval {
  /** ISO strings of the same instants in the DAG's zone and in UTC. */
  readonly iso: {
    readonly local: { logicalDate: string; start: string; end: string; runAfter: string };
    readonly utc: { logicalDate: string; start: string; end: string; runAfter: string };
  };
}

/**
 * The next `n` scheduled runs not yet due at `now`, oldest first: the interval in
 * progress (its run is created at its end), then the following ones — or, when
 * startDate is later, the first ones from startDate. Stops at endDate. With
 * `lastLogicalDate`, nothing at or before it. Empty for manual DAGs.
 */
export function nextRuns(tt: Timetable, now: DateTime, n: number, lastLogicalDate?: DateTime): UpcomingRun[] {
  const out: UpcomingRun[] = [];
  let next: DataInterval | undefined;
  if (tt.kind === 'manual') return out;
  if (tt.kind === 'once') next = tt.startDate > now && (!lastLogicalDate || tt.startDate > lastLogicalDate) ? onceInterval(tt) : undefined;
  else {
    // The interval in progress started at the latest fire time <= now.
    const floor = Math.max(tt.startDate?.toMillis() ?? -Infinity, lastLogicalDate ? lastLogicalDate.toMillis() + 1 : -Infinity);
    const current = fireAtOrBefore(tt, now.toMillis());
    next = intervalFrom(tt, current !== undefined && current >= floor ? current : fireAtOrAfter(tt, Math.max(floor, now.toMillis())));
  }
  while (next && out.length < n) {
    out.push(withIso(next));
    next = tt.kind === 'cron' ? intervalFrom(tt, next.end.toMillis()) : undefined;
  }
  return out;
}

function withIso(i: DataInterval): UpcomingRun {
  const fmt = (f: (d: DateTime) => string) => ({ logicalDate: f(i.logicalDate), start: f(i.start), end: f(i.end), runAfter: f(i.runAfter) });
  return { ...i, iso: { local: fmt((d) => d.toISO()!), utc: fmt((d) => d.toUTC().toISO()!) } };
}

/**
 * The run id of a scheduled or backfill run: deterministic in (dag_id, logical_date),
 * so two schedulers computing the same interval produce the same id and the insert's
 * ON CONFLICT makes the second a no-op. Airflow's `scheduled__2024-01-01T00:00:00+00:00`
 * with the dag id added, because weir's run ids are unique across DAGs
 * (weir.dag_run.run_id is the primary key). The date is the UTC logical date, to the
 * second (fire times are whole seconds). Default prefix `scheduled`.
 */
export function scheduledRunId(dagId: string, logicalDate: DateTime, runType: 'scheduled' | 'backfill' = 'scheduled'): string {
  return `${runType}__${dagId}__${logicalDate.toUTC().toFormat("yyyy-MM-dd'T'HH:mm:ss")}+00:00`;
}
