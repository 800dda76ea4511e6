/**
 * DST: a daily run at a wall-clock time that does not exist or happens twice runs
 * exactly once per calendar day, at the documented instant — checked over 2020–2030
 * against an independent computation (plain offset arithmetic, no cron library).
 *
 * Documented rule (runtime/scheduler/timetable.ts): a wall-clock time that happens once
 * runs then; twice (fall back): at its first occurrence; never (spring forward): at the
 * instant the clocks jump.
 */
import { DateTime } from 'luxon';
import { parseTimetable, intervalsBetween, type Timetable } from '../runtime/scheduler/timetable.ts';

/** Independent of any cron library: candidate instants from the day's two UTC offsets, checked with luxon. */
function expectedInstant(zone: string, day: DateTime, hour: number, minute: number): number {
  const wall = Date.UTC(day.year, day.month - 1, day.day, hour, minute);
  const offsets = new Set([0, 6, 12, 18, 23.99].map((h) => DateTime.fromObject({ year: day.year, month: day.month, day: day.day }, { zone }).plus({ hours: h }).offset));
  const occurrences = [...offsets]
    .map((off) => wall - off * 60_000)
    .filter((t) => {
      const local = DateTime.fromMillis(t, { zone });
      return local.hour === hour && local.minute === minute && local.day === day.day;
    })
    .sort((a, b) => a - b);
  if (occurrences.length) return occurrences[0]!;
  // Missing time: the instant the clocks jumped, i.e. the first minute of that day after it with a later offset.
  let t = wall - Math.max(...offsets) * 60_000;
  while (DateTime.fromMillis(t, { zone }).offset !== Math.max(...offsets)) t += 60_000;
  return t;
}

const cases: [string, number, number][] = [
  ['America/New_York', 2, 30], // 02:30 missing in March, once in November
  ['America/New_York', 1, 30], // 01:30 twice in November
  ['Europe/Berlin', 2, 30], // missing in March, twice in October
  ['Australia/Lord_Howe', 2, 15], // 30-minute gap in October: 02:00-02:30 missing
  ['Australia/Lord_Howe', 1, 45], // 30-minute overlap in April: 01:30-02:00 twice
];

test.each(cases)('%s %i:%i daily, 2020-2030: one run per calendar day at the documented instant', (zone, hour, minute) => {
  const tt = parseTimetable({ schedule: `${minute} ${hour} * * *`, timezone: zone, startDate: '2020-01-01' }) as Timetable;
  const from = DateTime.fromISO('2020-01-01', { zone });
  const to = DateTime.fromISO('2030-12-31T23:59:59', { zone });
  const runs = intervalsBetween(tt, from, to);
  const byDay = new Map<string, number[]>();
  for (const r of runs) {
    const key = r.logicalDate.setZone(zone).toISODate()!;
    byDay.set(key, [...(byDay.get(key) ?? []), r.logicalDate.toMillis()]);
  }
  let transitions = 0;
  for (let day = from.startOf('day'); day <= to; day = day.plus({ days: 1 })) {
    const key = day.toISODate()!;
    const got = byDay.get(key);
    expect([key, got?.length]).toEqual([key, 1]);
    expect([key, new Date(got![0]!).toISOString()]).toEqual([key, new Date(expectedInstant(zone, day, hour, minute)).toISOString()]);
    if (day.offset !== day.plus({ days: 1 }).offset) transitions++;
  }
  expect(runs.length).toBe(byDay.size);
  expect(transitions).toBeGreaterThanOrEqual(20); // two a year, so the rule was exercised
});

test('hourly across DST: consecutive UTC hours, none lost or doubled', () => {
  const tt = parseTimetable({ schedule: '@hourly', timezone: 'America/New_York', startDate: '2024-01-01' }) as Timetable;
  for (const [from, to] of [['2024-03-10T00:00:00', '2024-03-10T05:00:00'], ['2024-11-03T00:00:00', '2024-11-03T04:00:00']] as const) {
    const runs = intervalsBetween(tt, DateTime.fromISO(from, { zone: 'America/New_York' }), DateTime.fromISO(to, { zone: 'America/New_York' }));
    for (const r of runs) expect(r.end.toMillis() - r.start.toMillis()).toBe(3_600_000);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start.toMillis()).toBe(runs[i - 1]!.end.toMillis());
  }
});
