import { DateTime } from 'luxon';
import { parseTimetable, dueIntervals, intervalsBetween, nextInterval, upcomingIntervals, intervalRunId, firstInterval, type Timetable } from '../runtime/scheduler/timetable.ts';

const utc = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' });
const iso = (d: DateTime) => d.toUTC().toISO();
const tt = (o: Parameters<typeof parseTimetable>[0]) => parseTimetable(o) as Timetable;

describe('parseTimetable', () => {
  test('presets expand to cron; no schedule means manual only', () => {
    expect(parseTimetable({ schedule: null })).toBeUndefined();
    expect(parseTimetable({})).toBeUndefined();
    expect(tt({ schedule: '@daily' }).cron).toBe('0 0 * * *');
    expect(tt({ schedule: '@hourly' }).cron).toBe('0 * * * *');
    expect(tt({ schedule: '@weekly' }).cron).toBe('0 0 * * 0');
    expect(tt({ schedule: '@monthly' }).cron).toBe('0 0 1 * *');
    expect(tt({ schedule: '@yearly' }).cron).toBe('0 0 1 1 *');
    expect(tt({ schedule: '@once', startDate: '2024-05-01' }).kind).toBe('once');
  });
  test('bad cron, unknown preset, bad zone and catchup without startDate are one-line errors', () => {
    expect(() => parseTimetable({ schedule: '61 * * * *' })).toThrow(/schedule "61 \* \* \* \*" is not a valid cron expression/);
    expect(() => parseTimetable({ schedule: '@fortnightly' })).toThrow(/schedule "@fortnightly" is not a cron expression or one of @once/);
    expect(() => parseTimetable({ schedule: '* * *' })).toThrow(/must have 5 fields/);
    expect(() => parseTimetable({ schedule: '@daily', timezone: 'Mars/Base' })).toThrow(/timezone "Mars\/Base" is not an IANA time zone/);
    expect(() => parseTimetable({ schedule: '@daily', catchup: true })).toThrow(/catchup: true needs a startDate/);
    expect(() => parseTimetable({ schedule: '@daily', startDate: 'yesterday' })).toThrow(/startDate "yesterday" is not an ISO date/);
  });
});

describe('intervals (Airflow semantics)', () => {
  const daily = tt({ schedule: '@daily', startDate: '2024-01-01', catchup: true });
  test('a daily run covers [day, next day) and its logical date is the interval start', () => {
    const first = firstInterval(daily)!;
    expect([iso(first.logicalDate), iso(first.start), iso(first.end)]).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z']);
    const second = nextInterval(daily, first.logicalDate)!;
    expect(iso(second.start)).toBe('2024-01-02T00:00:00.000Z');
  });
  test('a run is due once its interval has ended: catchup creates every missed one, oldest first', () => {
    const due = dueIntervals(daily, { now: utc('2024-01-04T00:00:00') });
    expect(due.map((i) => iso(i.logicalDate))).toEqual(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z']);
    expect(dueIntervals(daily, { now: utc('2024-01-03T23:59:59') }).length).toBe(2);
    expect(dueIntervals(daily, { now: utc('2024-01-04T00:00:00'), lastLogicalDate: utc('2024-01-02T00:00:00') }).map((i) => iso(i.start))).toEqual(['2024-01-03T00:00:00.000Z']);
    expect(dueIntervals(daily, { now: utc('2024-01-04T00:00:00'), lastLogicalDate: utc('2024-01-03T00:00:00') })).toEqual([]);
  });
  test('catchup off: only the latest complete interval, never one already covered', () => {
    const nocatch = tt({ schedule: '@daily', startDate: '2024-01-01' });
    const due = dueIntervals(nocatch, { now: utc('2024-03-10T05:00:00'), lastLogicalDate: utc('2024-01-05T00:00:00') });
    expect(due.map((i) => [iso(i.start), iso(i.end)])).toEqual([['2024-03-09T00:00:00.000Z', '2024-03-10T00:00:00.000Z']]);
    expect(dueIntervals(nocatch, { now: utc('2024-03-10T05:00:00'), lastLogicalDate: utc('2024-03-09T00:00:00') })).toEqual([]);
    expect(dueIntervals(nocatch, { now: utc('2023-12-31T05:00:00') })).toEqual([]);
  });
  test('startDate not on a fire time starts at the next fire time; endDate stops the schedule', () => {
    const t = tt({ schedule: '0 6 * * *', startDate: '2024-01-01T10:00:00', endDate: '2024-01-03T06:00:00', catchup: true });
    expect(dueIntervals(t, { now: utc('2024-02-01') }).map((i) => iso(i.start))).toEqual(['2024-01-02T06:00:00.000Z', '2024-01-03T06:00:00.000Z']);
  });
  test('cron in a time zone: intervals follow the zone\'s wall clock', () => {
    const t = tt({ schedule: '0 9 * * 1-5', timezone: 'Europe/Berlin', startDate: '2024-06-03', catchup: true });
    const due = dueIntervals(t, { now: DateTime.fromISO('2024-06-10T12:00:00', { zone: 'Europe/Berlin' }) });
    expect(due.map((i) => i.start.toFormat('ccc HH:mm ZZ'))).toEqual(['Mon 09:00 +02:00', 'Tue 09:00 +02:00', 'Wed 09:00 +02:00', 'Thu 09:00 +02:00', 'Fri 09:00 +02:00']);
    expect(due[4]!.end.toFormat('ccc HH:mm')).toBe('Mon 09:00');
  });
  test('@once runs once, at startDate', () => {
    const once = tt({ schedule: '@once', startDate: '2024-05-01T12:00:00' });
    expect(dueIntervals(once, { now: utc('2024-05-01T11:59:59') })).toEqual([]);
    expect(dueIntervals(once, { now: utc('2024-06-01') }).map((i) => iso(i.logicalDate))).toEqual(['2024-05-01T12:00:00.000Z']);
    expect(dueIntervals(once, { now: utc('2024-06-01'), lastLogicalDate: utc('2024-05-01T12:00:00') })).toEqual([]);
  });
  test('backfill ranges take every interval whose logical date is in [from, to]', () => {
    const hourly = tt({ schedule: '@hourly', startDate: '2024-01-01' });
    const range = intervalsBetween(hourly, utc('2024-01-01T10:30:00'), utc('2024-01-01T13:00:00'));
    expect(range.map((i) => iso(i.start))).toEqual(['2024-01-01T11:00:00.000Z', '2024-01-01T12:00:00.000Z', '2024-01-01T13:00:00.000Z']);
    expect(iso(range[2]!.end)).toBe('2024-01-01T14:00:00.000Z');
  });
  test('10,000 backfill intervals are computed well under a second', () => {
    const minutely = tt({ schedule: '* * * * *', startDate: '2024-01-01' });
    const t0 = performance.now();
    const all = intervalsBetween(minutely, utc('2024-01-01'), utc('2024-01-07T22:39:00'));
    expect(all.length).toBe(10_000);
    expect(performance.now() - t0).toBeLessThan(5_000);
    for (let i = 1; i < all.length; i++) expect(+all[i]!.start).toBe(+all[i - 1]!.end);
  });
  test('upcoming runs for `dags next` start with the interval running now', () => {
    const t = tt({ schedule: '@daily', startDate: '2024-01-01' });
    const next = upcomingIntervals(t, utc('2024-03-10T05:00:00'), 3);
    expect(next.map((i) => [iso(i.start), iso(i.end)])).toEqual([
      ['2024-03-10T00:00:00.000Z', '2024-03-11T00:00:00.000Z'],
      ['2024-03-11T00:00:00.000Z', '2024-03-12T00:00:00.000Z'],
      ['2024-03-12T00:00:00.000Z', '2024-03-13T00:00:00.000Z'],
    ]);
  });
  test('run ids are deterministic in (dag, logical date)', () => {
    const a = intervalRunId('stock_prices', DateTime.fromISO('2024-01-01T01:00:00', { zone: 'Europe/Berlin' }));
    expect(a).toBe('scheduled__stock_prices__2024-01-01T00:00:00+00:00');
    expect(intervalRunId('stock_prices', utc('2024-01-01T00:00:00'))).toBe(a);
    expect(intervalRunId('x', utc('2024-01-01'), 'backfill')).toBe('backfill__x__2024-01-01T00:00:00+00:00');
  });
});
