/**
 * DST for runtime/schedule/timetable.ts, 2020–2030, checked against an independent
 * computation: luxon's wall-clock view of each calendar day or instant, minute
 * scans for jump instants — no cron library and none of the timetable's offset
 * segments. The rule under test is the one in the timetable's header.
 */
import { DateTime } from 'luxon';
import { parseTimetable, intervalsBetween } from '../runtime/schedule/timetable.ts';

const FROM = '2020-01-01T00:00:00';
const TO = '2030-12-31T23:59:59';
const MINUTE = 60_000;

/** Where a fixed-time wall clock H:M on `day` runs, by the documented rule. */
function expectedFixedInstant(zone: string, day: DateTime, hour: number, minute: number): number {
  const wall = Date.UTC(day.year, day.month - 1, day.day, hour, minute);
  const offsets = new Set([day.startOf('day').offset, day.endOf('day').offset]);
  const occurrences = [...offsets]
    .map((offset) => wall - offset * MINUTE)
    .filter((t) => {
      const local = DateTime.fromMillis(t, { zone });
      return local.day === day.day && local.hour === hour && local.minute === minute;
    });
  // Happens once or twice: the first occurrence.
  if (occurrences.length) return Math.min(...occurrences);
  // Does not happen: the instant the clocks jump, i.e. the first minute whose wall clock reads later.
  let t = wall - Math.max(...offsets) * MINUTE;
  const wallOf = (ms: number) => {
    const l = DateTime.fromMillis(ms, { zone });
    return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute);
  };
  while (wallOf(t) < wall) t += MINUTE;
  return t;
}

const fixedCases: [zone: string, cron: string, times: [number, number][]][] = [
  ['America/New_York', '30 2 * * *', [[2, 30]]], // missing in March, once in November
  ['America/New_York', '30 1 * * *', [[1, 30]]], // twice in November
  ['America/New_York', '0 1,2 * * *', [[1, 0], [2, 0]]], // croner alone runs 01:00 twice in November
  ['America/New_York', '30 2,3 * * *', [[2, 30], [3, 30]]], // croner alone drops 02:30 in March
  ['Europe/Berlin', '30 2 * * *', [[2, 30]]], // missing in March, twice in October
  ['Europe/Berlin', '0 2-3 * * *', [[2, 0], [3, 0]]], // 02:00 and 03:00 share the jump instant in March
  ['Australia/Lord_Howe', '15 2 * * *', [[2, 15]]], // 30-minute gap in October
  ['Australia/Lord_Howe', '0 2 * * *', [[2, 0]]], // the gap's first minute
  ['Australia/Lord_Howe', '45 1 * * *', [[1, 45]]], // 30-minute fold in April
];

describe('fixed-time schedules: once per wall-clock time, every calendar day 2020-2030', () => {
  test.each(fixedCases)('%s %s', (zone, cron, times) => {
    const tt = parseTimetable({ schedule: cron, timezone: zone, startDate: FROM });
    const from = DateTime.fromISO(FROM, { zone });
    const to = DateTime.fromISO(TO, { zone });
    const byDay = new Map<string, string[]>();
    for (const r of intervalsBetween(tt, from, to)) {
      const key = r.logicalDate.toISODate()!;
      byDay.set(key, [...(byDay.get(key) ?? []), r.logicalDate.toUTC().toISO()!]);
    }
    let changeDays = 0;
    let days = 0;
    for (let day = from.startOf('day'); day <= to; day = day.plus({ days: 1 })) {
      const key = day.toISODate()!;
      const expected = [...new Set(times.map(([h, m]) => expectedFixedInstant(zone, day, h, m)))].sort((a, b) => a - b);
      // [key, ...] keeps the failing day in the diff.
      expect([key, byDay.get(key)]).toEqual([key, expected.map((t) => new Date(t).toISOString())]);
      if (day.startOf('day').offset !== day.endOf('day').offset) changeDays++;
      days++;
    }
    expect(byDay.size).toBe(days);
    expect(changeDays).toBe(22); // two changes a year for 11 years: the rule was exercised
  });
});

/** Interval schedules follow elapsed time: every instant whose wall clock matches fires, gaps never do. */
function expectedIntervalFires(zone: string, fromMs: number, toMs: number, matches: (local: DateTime) => boolean): number[] {
  const out: number[] = [];
  // Every offset in these zones is a multiple of 30 minutes, so a 30-minute walk sees every whole-hour wall time.
  for (let t = fromMs; t <= toMs; t += 30 * MINUTE) if (matches(DateTime.fromMillis(t, { zone }))) out.push(t);
  return out;
}

describe('@hourly across DST, 2020-2025', () => {
  // Six years keep this under a few seconds; the daily cases above cover 2020-2030.
  const HOURLY_TO = '2025-12-31T23:59:59';
  test.each(['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe'])('%s: fires every real hour whose wall clock reads :00', (zone) => {
    const tt = parseTimetable({ schedule: '@hourly', timezone: zone, startDate: FROM });
    const from = DateTime.fromISO(FROM, { zone: 'UTC' });
    const to = DateTime.fromISO(HOURLY_TO, { zone: 'UTC' });
    const runs = intervalsBetween(tt, from, to);
    const expected = expectedIntervalFires(zone, from.toMillis(), to.toMillis(), (l) => l.minute === 0);
    expect(runs.map((r) => r.start.toMillis())).toEqual(expected);
    // Contiguous: no instant in two intervals, none in no interval.
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start.toMillis()).toBe(runs[i - 1]!.end.toMillis());
    const lengths = new Map<number, number>();
    for (const r of runs) {
      const h = (r.end.toMillis() - r.start.toMillis()) / 3_600_000;
      lengths.set(h, (lengths.get(h) ?? 0) + 1);
    }
    if (zone === 'Australia/Lord_Howe') {
      // Clock hours 1.5 h apart once on each change day; everything else one hour.
      expect(Object.fromEntries(lengths)).toEqual({ 1: runs.length - 12, 1.5: 12 });
    } else {
      // Whole-hour shifts: exactly one UTC hour per interval, none missing, none doubled.
      expect([...lengths.keys()]).toEqual([1]);
      expect(runs.length).toBe(Math.round((expected.at(-1)! - expected[0]!) / 3_600_000) + 1);
    }
  });

  test('*/15 on Lord Howe fall-back: the repeated half hour runs twice, in real time', () => {
    const zone = 'Australia/Lord_Howe';
    const tt = parseTimetable({ schedule: '*/15 * * * *', timezone: zone, startDate: FROM });
    const from = DateTime.fromISO('2024-04-07T00:00', { zone });
    const to = DateTime.fromISO('2024-04-07T03:00', { zone });
    const got = intervalsBetween(tt, from, to).map((r) => r.start.toMillis());
    const expected: number[] = [];
    for (let t = from.toMillis(); t <= to.toMillis(); t += 15 * MINUTE) if (DateTime.fromMillis(t, { zone }).minute % 15 === 0) expected.push(t);
    expect(got).toEqual(expected);
    expect(new Set(got.map((t) => DateTime.fromMillis(t, { zone }).toFormat('HH:mm'))).size).toBe(got.length - 2); // 01:30 and 01:45 twice
  });
});
