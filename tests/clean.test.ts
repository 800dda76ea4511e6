/**
 * tasks/clean.ts: parsing, drop reasons, de-duplication, extracted_at, and
 * cleanDailyBars on the real 2020 sample plus deliberately broken bars.
 */
import { readFileSync } from 'node:fs';
import { cleanDailyBars, cleanRows, drop, parseDate, parseNumber, withExtractedAt } from '../tasks/clean.ts';
import type { RawBar } from '../tasks/twelve-data.ts';

const sample = JSON.parse(readFileSync(new URL('../runtime/dev/data/time_series_2020_AAPL_AMZN_DIS.json', import.meta.url), 'utf8')) as Record<string, { values: RawBar[] }>;
const bars = Object.fromEntries(Object.entries(sample).map(([s, v]) => [s, v.values]));

test('parseNumber: strings to numbers, blanks and junk to null', () => {
  expect(parseNumber('135.58')).toBe(135.58);
  expect(parseNumber(' 96452000 ')).toBe(96452000);
  expect(parseNumber(7)).toBe(7);
  for (const v of ['', '  ', 'null', 'NaN', '12abc', null, undefined, {}, Infinity]) expect(parseNumber(v)).toBeNull();
});

test('parseDate: ISO dates and date-times to YYYY-MM-DD, invalid to null', () => {
  expect(parseDate('2020-12-30')).toBe('2020-12-30');
  expect(parseDate('2025-08-02T13:16:17-07:00')).toBe('2025-08-02');
  expect(parseDate('2020-02-30')).toBeNull();
  expect(parseDate('yesterday')).toBeNull();
  expect(parseDate(20201230)).toBeNull();
});

test('cleanRows counts read, kept and dropped by reason; first duplicate wins by default', () => {
  const input = [
    { id: 'a', v: '1' },
    { id: 'b', v: '' },
    { id: 'a', v: '2' },
    { id: 'c', v: 'x' },
    { id: 'd', v: '4' },
  ];
  const map = (r: { id: string; v: string }) => (r.v === '' ? drop('null_v') : parseNumber(r.v) === null ? drop('bad_v') : { id: r.id, v: parseNumber(r.v)! });
  const first = cleanRows(input, { map, key: (r) => r.id });
  expect(first.rows).toEqual([{ id: 'a', v: 1 }, { id: 'd', v: 4 }]);
  expect(first.report).toEqual({ read: 5, kept: 2, dropped: { null_v: 1, bad_v: 1, duplicate: 1 } });
  const last = cleanRows(input, { map, key: (r) => r.id, keep: 'last' });
  expect(last.rows).toEqual([{ id: 'a', v: 2 }, { id: 'd', v: 4 }]);
});

test('withExtractedAt stamps every row', () => {
  expect(withExtractedAt([{ a: 1 }], new Date('2024-01-02T03:04:05Z'))).toEqual([{ a: 1, extracted_at: '2024-01-02T03:04:05.000Z' }]);
});

test('cleanDailyBars keeps all 756 bars of the real 2020 sample', () => {
  const { rows, report } = cleanDailyBars(bars, { extractedAt: '2024-01-01T00:00:00.000Z' });
  expect(report).toEqual({ read: 756, kept: 756, dropped: {} });
  expect(rows[0]).toEqual({ symbol: 'AAPL', date: '2020-12-30', open: 135.58, high: 135.99, low: 133.4, close: 133.72, volume: 96452000, extracted_at: '2024-01-01T00:00:00.000Z' });
});

test('cleanDailyBars drops impossible rows, each under its reason', () => {
  const good: RawBar = { datetime: '2020-12-30', open: '10', high: '12', low: '9', close: '11', volume: '100' };
  const input = {
    XYZ: [
      good,
      { ...good }, // duplicate (symbol, date)
      { ...good, datetime: '2020-12-29', high: '8' }, // high < low
      { ...good, datetime: '2020-12-28', volume: '-5' },
      { ...good, datetime: '2020-12-27', close: null as unknown as string },
      { ...good, datetime: '2020-12-26', open: 'n/a' },
      { ...good, datetime: '2020-13-01' },
      { ...good, datetime: '2020-12-25', low: '-1', high: '2' },
    ],
  };
  const { rows, report } = cleanDailyBars(input);
  expect(rows.map((r) => r.date)).toEqual(['2020-12-30']);
  expect(report).toEqual({
    read: 8,
    kept: 1,
    dropped: { duplicate: 1, high_below_low: 1, negative_volume: 1, null_field: 1, bad_number: 1, bad_date: 1, negative_price: 1 },
  });
  expect(Date.parse(rows[0]!.extracted_at)).not.toBeNaN();
});
