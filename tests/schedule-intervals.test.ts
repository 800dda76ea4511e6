/**
 * Interval math of runtime/schedule/timetable.ts: presets, cron, time zones,
 * start/end dates, catchup on and off, @once, backfill ranges, `dags next`, manual
 * intervals and deterministic run ids. DST lives in schedule-intervals-dst.test.ts.
 */
import { DateTime } from 'luxon';
import {
  parseTimetable, dueIntervals, intervalsBetween, nextRuns, scheduledRunId, type CronTimetable, type DataInterval,
  type Timetable,
} from '../runtime/schedule/timetable.ts';
import { InputError } from '../runtime/errors.ts';

const utc = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' });
const iso = (d: DateTime) => d.toUTC().toISO();
const starts = (list: DataInterval[]) => list.map((i) => iso(i.start));
const FAR = utc('2100-01-01');
/** The first interval the scheduler creates after `after` (catchup on, as if that run existed). */
const following = (tt: Timetable, after: DateTime) => dueIntervals(tt, { now: FAR, lastLogicalDate: after, catchup: true, limit: 1 })[0];

describe('parseTimetable', () => {
  test('presets expand to cron; null, empty or absent means manual only', () => {
    for (const s of [null, undefined, '', '  ']) expect(parseTimetable({ schedule: s }).kind).toBe('manual');
    const cronOf = (s: string) => (parseTimetable({ schedule: s }) as CronTimetable).cron;
    expect(['@hourly', '@daily', '@weekly', '@monthly', '@yearly'].map(cronOf)).toEqual(['0 * * * *', '0 0 * * *', '0 0 * * 0', '0 0 1 * *', '0 0 1 1 *']);
    expect(parseTimetable({ schedule: '@once', startDate: '2024-05-01' }).kind).toBe('once');
  });

  test('fixed-time vs interval DST handling follows the hour, minute and second fields', () => {
    const fixed = (s: string) => (parseTimetable({ schedule: s }) as CronTimetable).fixedTime;
    expect(['@daily', '30 2 * * *', '0 1,13 * * 1-5', '0 9-17 * * *'].map(fixed)).toEqual([true, true, true, true]);
    expect(['@hourly', '*/15 * * * *', '0 */2 * * *', '*/10 * * * * *'].map(fixed)).toEqual([false, false, false, false]);
  });

  test.each([
    [{ schedule: '61 * * * *' }, /^schedule "61 \* \* \* \*" is not a valid cron expression: Invalid value for minute: 61$/],
    [{ schedule: '0 0 30 2 *' }, /is not a valid cron expression: it never fires/],
    [{ schedule: '* * *' }, /has 3 fields; a cron needs 5/],
    [{ schedule: '0 0 1 1 * 2030 *' }, /has 7 fields/],
    [{ schedule: '@fortnightly' }, /schedule "@fortnightly" is not a preset; use one of @once, @hourly/],
    [{ schedule: '@daily', timezone: 'Mars/Olympus' }, /timezone "Mars\/Olympus" is not a known IANA time zone/],
    [{ schedule: '@daily', startDate: 'yesterday' }, /startDate "yesterday" is not an ISO date/],
    [{ schedule: '@daily', startDate: '2024-02-01', endDate: '2024-01-01' }, /endDate "2024-01-01" is before startDate/],
    [{ schedule: '@daily', catchup: true }, /catchup: true needs a startDate/],
    [{ schedule: '@once' }, /"@once" needs a startDate/],
  ])('%j → one-line bad_schedule error', (options, message) => {
    let thrown: unknown;
    try {
      parseTimetable(options);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).code).toBe('bad_schedule');
    expect((thrown as InputError).exitCode).toBe(2);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain('\n');
  });
});

describe('intervals', () => {
  const daily = parseTimetable({ schedule: '@daily', startDate: '2024-01-01', catchup: true });

  test('a daily run covers [day, next day); logical date = start; created at the end', () => {
    const first = dueIntervals(daily, { now: FAR, limit: 1 })[0]!;
    expect([iso(first.logicalDate), iso(first.start), iso(first.end), iso(first.runAfter)]).toEqual([
      '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', '2024-01-02T00:00:00.000Z',
    ]);
    expect(iso(following(daily, first.logicalDate)!.start)).toBe('2024-01-02T00:00:00.000Z');
    // An `after` between fire times (e.g. the schedule changed) continues at the next fire time.
    expect(iso(following(daily, utc('2024-01-05T13:00'))!.start)).toBe('2024-01-06T00:00:00.000Z');
    expect(iso(following(daily, utc('2023-06-01'))!.start)).toBe('2024-01-01T00:00:00.000Z');
  });

  test('every preset: consecutive fire times in UTC', () => {
    const spans = (schedule: string) => {
      const [a, b] = intervalsBetween(parseTimetable({ schedule }), utc('2024-01-01'), utc('2025-12-31'), { limit: 2 });
      return [iso(a!.start), iso(a!.end), iso(b!.end)];
    };
    expect(spans('@hourly')).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-01T01:00:00.000Z', '2024-01-01T02:00:00.000Z']);
    expect(spans('@weekly')).toEqual(['2024-01-07T00:00:00.000Z', '2024-01-14T00:00:00.000Z', '2024-01-21T00:00:00.000Z']);
    expect(spans('@monthly')).toEqual(['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
    expect(spans('@yearly')).toEqual(['2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    expect(spans('*/20 * * * * *')).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:20.000Z', '2024-01-01T00:00:40.000Z']);
  });

  test('cron in a time zone follows its wall clock; values come back in that zone', () => {
    const t = parseTimetable({ schedule: '0 9 * * 1-5', timezone: 'Europe/Berlin', startDate: '2024-03-28', catchup: true });
    const due = dueIntervals(t, { now: DateTime.fromISO('2024-04-03T12:00', { zone: 'Europe/Berlin' }) });
    expect(due.map((i) => i.start.toFormat('ccc dd HH:mm ZZ'))).toEqual(['Thu 28 09:00 +01:00', 'Fri 29 09:00 +01:00', 'Mon 01 09:00 +02:00', 'Tue 02 09:00 +02:00']);
    expect(iso(due[1]!.end)).toBe('2024-04-01T07:00:00.000Z'); // Friday's interval spans the weekend and the DST change
  });

  test('catchup: every ended interval after lastLogicalDate, oldest first, up to limit', () => {
    expect(starts(dueIntervals(daily, { now: utc('2024-01-04T00:00') }))).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z']);
    expect(dueIntervals(daily, { now: utc('2024-01-03T23:59:59.999') })).toHaveLength(2);
    expect(starts(dueIntervals(daily, { now: utc('2024-01-04'), lastLogicalDate: utc('2024-01-02') }))).toEqual(['2024-01-03T00:00:00.000Z']);
    expect(dueIntervals(daily, { now: utc('2024-01-04'), lastLogicalDate: utc('2024-01-03') })).toEqual([]);
    expect(starts(dueIntervals(daily, { now: utc('2024-12-31'), limit: 2 }))).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z']);
  });

  test('catchup off: only the latest complete interval, never one already covered, none before startDate', () => {
    const t = parseTimetable({ schedule: '@daily', startDate: '2024-01-01' });
    const due = dueIntervals(t, { now: utc('2024-03-10T05:00'), lastLogicalDate: utc('2024-01-05') });
    expect(due.map((i) => [iso(i.start), iso(i.end)])).toEqual([['2024-03-09T00:00:00.000Z', '2024-03-10T00:00:00.000Z']]);
    expect(dueIntervals(t, { now: utc('2024-03-10T05:00'), lastLogicalDate: utc('2024-03-09') })).toEqual([]);
    expect(dueIntervals(t, { now: utc('2024-01-01T23:00') })).toEqual([]);
    expect(starts(dueIntervals(t, { now: utc('2024-01-02T00:00') }))).toEqual(['2024-01-01T00:00:00.000Z']);
    // Without startDate the latest interval is still due (nothing older).
    expect(starts(dueIntervals(parseTimetable({ schedule: '@hourly' }), { now: utc('2024-06-01T10:30') }))).toEqual(['2024-06-01T09:00:00.000Z']);
  });

  test('startDate off a fire time starts at the next one; endDate is the last interval start', () => {
    const t = parseTimetable({ schedule: '0 6 * * *', startDate: '2024-01-01T10:00', endDate: '2024-01-03T06:00', catchup: true });
    expect(starts(dueIntervals(t, { now: utc('2024-02-01') }))).toEqual(['2024-01-02T06:00:00.000Z', '2024-01-03T06:00:00.000Z']);
    expect(iso(dueIntervals(t, { now: FAR, limit: 1 })[0]!.start)).toBe('2024-01-02T06:00:00.000Z');
    expect(following(t, utc('2024-01-03T06:00'))).toBeUndefined();
    // catchup off after endDate: the final interval is still created, once.
    const off = parseTimetable({ schedule: '0 6 * * *', startDate: '2024-01-01T10:00', endDate: '2024-01-03T06:00' });
    expect(starts(dueIntervals(off, { now: utc('2024-02-01') }))).toEqual(['2024-01-03T06:00:00.000Z']);
    expect(dueIntervals(off, { now: utc('2024-02-01'), lastLogicalDate: utc('2024-01-03T06:00') })).toEqual([]);
  });

  test('@once: a single run at startDate, due from then on, never twice', () => {
    const once = parseTimetable({ schedule: '@once', startDate: '2024-05-01T12:00', timezone: 'Asia/Tokyo' });
    expect(dueIntervals(once, { now: utc('2024-05-01T02:59:59') })).toEqual([]);
    const [run] = dueIntervals(once, { now: utc('2024-06-01') });
    expect([iso(run!.logicalDate), iso(run!.start), iso(run!.end)]).toEqual(['2024-05-01T03:00:00.000Z', '2024-05-01T03:00:00.000Z', '2024-05-01T03:00:00.000Z']);
    expect(dueIntervals(once, { now: utc('2024-06-01'), lastLogicalDate: run!.logicalDate })).toEqual([]);
    expect(intervalsBetween(once, utc('2024-01-01'), utc('2024-12-31'))).toHaveLength(1);
    expect(intervalsBetween(once, utc('2025-01-01'), utc('2025-12-31'))).toHaveLength(0);
  });

  test('manual DAGs have no scheduled intervals', () => {
    const manual = parseTimetable({});
    expect([dueIntervals(manual, { now: utc('2024-01-01') }), intervalsBetween(manual, utc('2024-01-01'), utc('2025-01-01')), nextRuns(manual, utc('2024-01-01'), 3)]).toEqual([[], [], []]);
  });
});

describe('backfill ranges', () => {
  test('every interval whose logical date is in [from, to], inclusive, not clipped to start/end dates', () => {
    const hourly = parseTimetable({ schedule: '@hourly', startDate: '2024-06-01', endDate: '2024-06-30' });
    const range = intervalsBetween(hourly, utc('2024-01-01T10:30'), utc('2024-01-01T13:00'));
    expect(starts(range)).toEqual(['2024-01-01T11:00:00.000Z', '2024-01-01T12:00:00.000Z', '2024-01-01T13:00:00.000Z']);
    expect(iso(range[2]!.end)).toBe('2024-01-01T14:00:00.000Z');
    expect(intervalsBetween(hourly, utc('2024-01-01T10:01'), utc('2024-01-01T10:59'))).toEqual([]);
  });

  test('the backfill chain agrees with what the scheduler creates next, step by step', () => {
    const t = parseTimetable({ schedule: '15 */6 * * 1-5', timezone: 'America/New_York', startDate: '2024-01-01' });
    const range = intervalsBetween(t, DateTime.fromISO('2024-03-01', { zone: 'America/New_York' }), DateTime.fromISO('2024-03-31', { zone: 'America/New_York' }));
    expect(range.length).toBeGreaterThan(20);
    for (let i = 1; i < range.length; i++) expect(+following(t, range[i - 1]!.logicalDate)!.start).toBe(+range[i]!.start);
  });

  // How fast is the benchmark's business (bench/run.ts, `backfill_10k_runs_ms`); this checks the chain.
  test('10,000 consecutive intervals share their boundaries, none missing or doubled', () => {
    for (const [schedule, zone] of [['@hourly', 'UTC'], ['*/5 * * * *', 'Europe/Berlin'], ['30 2 * * *', 'America/New_York']] as const) {
      const t = parseTimetable({ schedule, timezone: zone, startDate: '2020-01-01' });
      const intervals = intervalsBetween(t, t.startDate!, FAR, { limit: 10_000 });
      expect(intervals).toHaveLength(10_000);
      for (let i = 1; i < intervals.length; i++) expect(+intervals[i]!.start).toBe(+intervals[i - 1]!.end);
    }
    const minutes = intervalsBetween(parseTimetable({ schedule: '* * * * *' }), utc('2024-01-01'), utc('2025-01-01'), { limit: 10_000 });
    expect([minutes.length, +minutes[0]!.start, +minutes[9_999]!.end]).toEqual([10_000, Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 1) + 10_000 * 60_000]);
  });
});

describe('nextRuns (weir dags next)', () => {
  test('starts with the interval in progress, in the zone and in UTC', () => {
    const t = parseTimetable({ schedule: '0 2 * * *', timezone: 'America/New_York', startDate: '2024-01-01' });
    const runs = nextRuns(t, utc('2024-03-09T12:00'), 3);
    expect(runs.map((r) => r.iso.local.logicalDate)).toEqual(['2024-03-09T02:00:00.000-05:00', '2024-03-10T03:00:00.000-04:00', '2024-03-11T02:00:00.000-04:00']);
    expect(runs.map((r) => r.iso.utc.runAfter)).toEqual(['2024-03-10T07:00:00.000Z', '2024-03-11T06:00:00.000Z', '2024-03-12T06:00:00.000Z']);
  });

  test('a future startDate comes first; endDate and lastLogicalDate bound the list', () => {
    const t = parseTimetable({ schedule: '@daily', startDate: '2030-01-01', endDate: '2030-01-02' });
    expect(nextRuns(t, utc('2024-01-01'), 5).map((r) => r.iso.utc.logicalDate)).toEqual(['2030-01-01T00:00:00.000Z', '2030-01-02T00:00:00.000Z']);
    const d = parseTimetable({ schedule: '@daily' });
    expect(nextRuns(d, utc('2024-01-01T05:00'), 1, utc('2024-01-01'))[0]!.iso.utc.logicalDate).toBe('2024-01-02T00:00:00.000Z');
  });
});

describe('scheduledRunId', () => {
  test("Airflow's format with the dag id, the same for any zone the logical date is expressed in", () => {
    const berlin = DateTime.fromISO('2024-01-01T01:00:00', { zone: 'Europe/Berlin' });
    expect(scheduledRunId('stock_prices', berlin)).toBe('scheduled__stock_prices__2024-01-01T00:00:00+00:00');
    expect(scheduledRunId('stock_prices', utc('2024-01-01T00:00'))).toBe(scheduledRunId('stock_prices', berlin));
    expect(scheduledRunId('stock_prices', utc('2024-01-01'), 'backfill')).toBe('backfill__stock_prices__2024-01-01T00:00:00+00:00');
  });

  test('recomputing the due intervals gives the same ids (two schedulers agree)', () => {
    const now = DateTime.fromISO('2024-11-03T04:00', { zone: 'America/New_York' });
    const options = { schedule: '*/30 * * * *', timezone: 'America/New_York', startDate: '2024-11-03', catchup: true };
    const ids = () => dueIntervals(parseTimetable(options), { now }).map((i) => scheduledRunId('d', i.logicalDate));
    const first = ids();
    expect(ids()).toEqual(first);
    expect(new Set(first).size).toBe(first.length); // the repeated 01:00-02:00 hour gets distinct ids
    expect(first).toHaveLength(10);
  });
});
