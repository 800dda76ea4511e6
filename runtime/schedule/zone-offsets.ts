/**
 * A time zone as a sequence of constant-offset segments, so that timetable math can
 * map wall-clock times to instants with plain arithmetic and see every DST gap and
 * fold explicitly instead of trusting a library's guess.
 *
 * Segments are also cut at every UTC new year: that keeps each cache entry small and
 * lets zones without DST (or UTC) use the same code path. Such artificial cuts have
 * `prevOffsetMs === offsetMs` and so are neither a gap nor a fold.
 */
import { DateTime, type Zone } from 'luxon';

/** Instants [startMs, endMs) during which the zone's UTC offset is `offsetMs` (wall = instant + offset). */
export interface OffsetSegment {
  readonly startMs: number;
  readonly endMs: number;
  readonly offsetMs: number;
  /** Offset just before startMs. Lower: the clocks jumped forward (a gap); higher: they fell back (a fold). */
  readonly prevOffsetMs: number;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** The luxon zone for an IANA name or fixed offset, or undefined when luxon does not know it. */
export function resolveZone(name: string): Zone | undefined {
  const probe = DateTime.fromMillis(0, { zone: name });
  return probe.isValid ? probe.zone : undefined;
}

const tables = new Map<string, Map<number, OffsetSegment[]>>();

/** The segment containing instant `ms` in zone `name` (which must be valid). */
export function segmentAt(name: string, ms: number): OffsetSegment {
  const year = new Date(ms).getUTCFullYear();
  for (const seg of yearTable(name, year)) if (ms < seg.endMs) return seg;
  // ms is past the last segment only through a rounding slip; the next year's table holds it.
  return yearTable(name, year + 1)[0]!;
}

function yearTable(name: string, year: number): OffsetSegment[] {
  let byYear = tables.get(name);
  if (!byYear) tables.set(name, (byYear = new Map()));
  let table = byYear.get(year);
  if (!table) byYear.set(year, (table = buildYear(resolveZone(name)!, year)));
  return table;
}

/**
 * Samples once a day and bisects each change to the millisecond. A day is far shorter
 * than any real DST period, so no pair of transitions can hide between two samples;
 * luxon's offset lookups cost ~4.5 µs (measured), so a year costs ~2 ms once per zone.
 */
function buildYear(zone: Zone, year: number): OffsetSegment[] {
  const y0 = Date.UTC(year, 0, 1);
  const y1 = Date.UTC(year + 1, 0, 1);
  const offsetAt = (ms: number) => zone.offset(ms) * MINUTE_MS;
  if (zone.isUniversal) {
    const offsetMs = offsetAt(y0);
    return [{ startMs: y0, endMs: y1, offsetMs, prevOffsetMs: offsetMs }];
  }
  const segments: OffsetSegment[] = [];
  let startMs = y0;
  let offsetMs = offsetAt(y0);
  let prevOffsetMs = offsetAt(y0 - 1);
  let a = y0;
  while (a < y1 - 1) {
    const b = Math.min(a + DAY_MS, y1 - 1);
    const ob = offsetAt(b);
    if (ob !== offsetMs) {
      let lo = a;
      let hi = b;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(mid) === offsetMs) lo = mid;
        else hi = mid;
      }
      segments.push({ startMs, endMs: hi, offsetMs, prevOffsetMs });
      prevOffsetMs = offsetMs;
      startMs = hi;
      offsetMs = ob;
    }
    a = b;
  }
  segments.push({ startMs, endMs: y1, offsetMs, prevOffsetMs });
  return segments;
}
