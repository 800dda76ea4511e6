/**
 * Trip files for the trips_* DAGs' tests and benchmark, generated deterministically (a
 * seeded PRNG) by jittering the sample's rows (data/trips/trips.csv, from the challenge):
 * every row is one of the sample's with its coordinates moved by up to ±0.02° and its time
 * by up to ±26 weeks (within 2018), so regions, datasources and shapes stay realistic.
 *
 *   node --import tsx runtime/dev/trips-data.ts <rows> <file> [--seed N]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prng } from './prng.ts';
import { once } from 'node:events';

export const TRIPS_HEADER = 'region,origin_coord,destination_coord,datetime,datasource';
/** The challenge's sample: 100 rows, the first one twice. */
export const TRIPS_SAMPLE = fileURLToPath(new URL('../../data/trips/trips.csv', import.meta.url));

interface SampleRow {
  region: string;
  o: [number, number];
  d: [number, number];
  at: number;
  source: string;
}

function sampleRows(): SampleRow[] {
  const lines = fs.readFileSync(TRIPS_SAMPLE, 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [region, o, d, at, source] = l.split(',');
    const point = (w: string) => w.match(/POINT \(([-0-9.]+) ([-0-9.]+)\)/)!.slice(1, 3).map(Number) as [number, number];
    return { region: region!, o: point(o!), d: point(d!), at: Date.parse(`${at!.replace(' ', 'T')}Z`), source: source!.trim() };
  });
}

const WEEK = 7 * 86_400_000;
const YEAR_START = Date.UTC(2018, 0, 1);
const YEAR_END = Date.UTC(2019, 0, 1);
const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** Write `rows` jittered trips (plus the header) to `file`; returns the file. */
export async function writeTrips(file: string, rows: number, seed = 1): Promise<string> {
  const sample = sampleRows();
  const rand = prng(seed);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.partial`;
  const out = fs.createWriteStream(tmp);
  let chunk = `${TRIPS_HEADER}\n`;
  for (let i = 0; i < rows; i++) {
    const s = sample[i % sample.length]!;
    const j = () => (rand() - 0.5) * 0.04;
    let at = s.at + Math.round((rand() - 0.5) * 52 * WEEK);
    if (at < YEAR_START || at >= YEAR_END) at = s.at;
    chunk += `${s.region},POINT (${(s.o[0] + j()).toFixed(6)} ${(s.o[1] + j()).toFixed(6)}),POINT (${(s.d[0] + j()).toFixed(6)} ${(s.d[1] + j()).toFixed(6)}),${fmt(at)},${s.source}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  // Renamed when whole: a folder watcher never sees a half-written file.
  fs.renameSync(tmp, file);
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [rows, file] = process.argv.slice(2);
  const seedAt = process.argv.indexOf('--seed');
  if (!rows || !file || !/^\d+$/.test(rows)) {
    console.error('usage: trips-data.ts <rows> <file> [--seed N]');
    process.exit(2);
  }
  await writeTrips(path.resolve(file), Number(rows), seedAt > 0 ? Number(process.argv[seedAt + 1]) : 1);
}
