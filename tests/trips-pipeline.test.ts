/**
 * The trips pipeline (dags/trips_ingest.ts, dags/trips_gold_checks.ts) run by real
 * `weir scheduler` (two of them, watching one folder) and `weir worker` processes, with
 * weir's server in-process: the challenge's sample dropped into landing/ makes one run —
 * bronze 101 rows, silver 100 (its repeated first row goes), gold as computed here independently,
 * an audit row per step, the file in archive/ — whose progress arrives on the event
 * stream over /ws/status; gold's asset starts trips_gold_checks; GET /stats answers with
 * the independently counted trips. The same bytes dropped again make no run; two files at
 * once make two; a wrong header fails for good naming both headers and leaves the file in
 * landing/; malformed and empty rows are set aside and counted while the run goes on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Session } from '../runtime/cli/session.ts';
import { loadConfig } from '../runtime/config.ts';
import { startServer, type RunningServer } from '../runtime/server/serve.ts';
import { createToken } from '../runtime/server/tokens.ts';
import { writeTrips, TRIPS_SAMPLE } from '../runtime/dev/trips-data.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { ROOT, eventually, runWeir, startWeir, type RunningProcess } from './support/cli.ts';
import type pg from 'pg';

let testDb: TestDatabase;
let session: Session;
let server: RunningServer;
let pool: pg.Pool;
let token: string;
const procs: RunningProcess[] = [];
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-trips-'));
const landing = path.join(home, 'landing');
const archive = path.join(home, 'archive');
const DAGS = path.join(ROOT, 'tests', 'fixtures', 'dags-trips');
let env: Record<string, string>;

beforeAll(async () => {
  fs.mkdirSync(landing, { recursive: true });
  testDb = await createTestDatabase();
  env = {
    WEIR_DATABASE_URL: testDb.url, WEIR_CONN_WAREHOUSE: testDb.url, WEIR_HOME: home, WEIR_DAGS_FOLDER: DAGS,
    TRIPS_LANDING_DIR: landing, TRIPS_ARCHIVE_DIR: archive,
  };
  // The DAG files read the folders when loaded: this process's copy (the server's) too.
  Object.assign(process.env, { TRIPS_LANDING_DIR: landing, TRIPS_ARCHIVE_DIR: archive, WEIR_CONN_WAREHOUSE: testDb.url });
  session = new Session(loadConfig(env));
  pool = (await session.database({ migrate: true })).pool;
  server = await startServer(session, { port: 0 });
  token = (await createToken(pool, { role: 'viewer', name: 'trips' })).token;
  for (const args of [['scheduler'], ['scheduler'], ['worker']]) {
    const p = startWeir(args, env);
    procs.push(p);
    await p.waitFor(args[0] === 'worker' ? /worker started/ : /scheduler started/);
  }
}, 60_000);

afterAll(async () => {
  for (const p of procs) await p.stop('SIGTERM');
  await server?.close();
  await session?.close();
  await testDb?.drop();
  fs.rmSync(home, { recursive: true, force: true });
});

const runs = async (dagId = 'trips_ingest') =>
  (await pool.query<{ run_id: string; state: string; file: string }>("SELECT run_id, state::text, conf->>'file' AS file FROM weir.dag_run WHERE dag_id = $1 ORDER BY created_at", [dagId])).rows;
const ended = (runId: string) => eventually(async () => {
  const r = (await pool.query<{ state: string }>('SELECT state::text FROM weir.dag_run WHERE run_id = $1', [runId])).rows[0];
  return r && ['success', 'failed'].includes(r.state) ? r.state : undefined;
}, 90_000, `run ${runId} to end`);
const newRuns = (before: number, n: number) => eventually(async () => {
  const all = await runs();
  return all.length >= before + n ? all.slice(before) : undefined;
}, 60_000, `${n} new trips_ingest run(s)`);
const output = async (runId: string, task: string) => (await pool.query('SELECT output FROM weir.task_instance WHERE run_id = $1 AND task_id = $2', [runId, task])).rows[0]?.output;
const get = (p: string, auth = true) => fetch(new URL(p, server.url), { headers: auth ? { authorization: `Bearer ${token}` } : {} });
/** Drop a file the way a producer should: written beside, then renamed in (the folder sees it whole). */
function drop(name: string, content: string | Buffer): string {
  const tmp = path.join(home, `.${name}.tmp`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, path.join(landing, name));
  return path.join(landing, name);
}

/** The sample read here, on its own: distinct rows, and ISO weeks computed in JavaScript. */
function expectedFromSample() {
  const lines = fs.readFileSync(TRIPS_SAMPLE, 'utf8').trim().split('\n').slice(1);
  const distinct = [...new Set(lines)];
  const isoWeek = (text: string) => {
    const [y, m, d] = text.slice(0, 10).split('-').map(Number);
    const date = new Date(Date.UTC(y!, m! - 1, d!));
    const day = (date.getUTCDay() + 6) % 7; // Monday 0
    date.setUTCDate(date.getUTCDate() - day + 3); // the week's Thursday decides its year
    const year = date.getUTCFullYear();
    const firstThursday = new Date(Date.UTC(year, 0, 4));
    firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
    return { year, week: 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000)) };
  };
  const weekly = new Map<string, number>();
  for (const l of distinct) {
    const f = l.split(',');
    const { year, week } = isoWeek(f[3]!);
    const key = `${f[0]}|${year}|${week}`;
    weekly.set(key, (weekly.get(key) ?? 0) + 1);
  }
  return { rows: lines.length, distinct: distinct.length, weekly };
}

interface WsMessage { type: string; dag_id?: string; run_id?: string | null; task_id?: string; state?: string }

test('the sample lands: one run through bronze, silver, gold and archive, audited, followed live, served by /stats', async () => {
  const expected = expectedFromSample();
  // The sample holds 101 rows: 100 trips, the first one twice.
  expect([expected.rows, expected.distinct]).toEqual([101, 100]);

  // Follow the event stream over the WebSocket bridge before the file lands.
  const messages: WsMessage[] = [];
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}ws/status?dag_id=trips_ingest`, { headers: { authorization: `Bearer ${token}` } });
  ws.on('message', (m) => messages.push(JSON.parse(String(m)) as WsMessage));
  await eventually(async () => messages.some((m) => m.type === 'ready'), 10_000, 'the socket ready');

  const file = drop('trips.csv', fs.readFileSync(TRIPS_SAMPLE));
  const [run] = await newRuns(0, 1);
  expect(run!.file).toBe(file);
  expect(await ended(run!.run_id)).toBe('success');
  await eventually(async () => messages.some((m) => m.type === 'run' && m.run_id === run!.run_id && m.state === 'success'), 10_000, 'the run end on the socket');
  ws.close();
  // Without a token, or with the UI's cookie from another site's page, no socket.
  const refused = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    const s = new WebSocket(`${server.url.replace('http', 'ws')}ws/status`, { headers });
    s.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
    s.on('open', () => reject(new Error('the socket opened')));
  });
  expect(await refused({})).toBe(401);
  expect(await refused({ cookie: `weir_session=${token}`, origin: 'http://evil.example' })).toBe(403);
  const taskEvents = messages.filter((m) => m.type === 'task_instance' && m.run_id === run!.run_id);
  for (const task of ['bronze', 'silver', 'gold', 'archive']) {
    expect(taskEvents.filter((m) => m.task_id === task).map((m) => m.state)).toContain('success');
  }
  expect(messages.every((m) => m.type === 'ready' || m.dag_id === 'trips_ingest' || m.dag_id === '*')).toBe(true);

  expect(await output(run!.run_id, 'bronze')).toMatchObject({ rows: 101, kept: 101, empty: 0, rejected: 0, chunks: 1 });
  expect(await output(run!.run_id, 'silver')).toMatchObject({ added: 100, duplicates: 1 });
  const q = async (text: string) => (await pool.query(text)).rows;
  expect(await q('SELECT count(*)::int AS n FROM trips.bronze')).toEqual([{ n: 101 }]);
  expect(await q('SELECT count(*)::int AS n, count(DISTINCT trip_id)::int AS d FROM trips.silver')).toEqual([{ n: 100, d: 100 }]);
  const gold = await q('SELECT region, year, week, trips::int FROM trips.gold_weekly ORDER BY region, year, week');
  expect(new Map(gold.map((g) => [`${g.region}|${g.year}|${g.week}`, g.trips]))).toEqual(expected.weekly);
  expect(await q('SELECT sum(trips)::int AS n FROM trips.gold_similar')).toEqual([{ n: 100 }]);
  const audit = await pool.query('SELECT step, status, rows_in::int, rows_out::int FROM audit.step_log WHERE run_id = $1 ORDER BY id', [run!.run_id]);
  expect(audit.rows).toEqual([
    { step: 'bronze', status: 'success', rows_in: 101, rows_out: 101 },
    { step: 'silver', status: 'success', rows_in: 101, rows_out: 100 },
    { step: 'gold', status: 'success', rows_in: 100, rows_out: 100 },
    { step: 'archive', status: 'success', rows_in: null, rows_out: null },
  ]);
  expect(fs.existsSync(file)).toBe(false);
  expect(fs.readFileSync(path.join(archive, 'trips.csv'))).toEqual(fs.readFileSync(TRIPS_SAMPLE));

  // Gold's asset event started the checks DAG, which passed.
  const [checks] = await eventually(async () => {
    const r = await runs('trips_gold_checks');
    return r.length && ['success', 'failed'].includes(r[0]!.state) ? r : undefined;
  }, 60_000, 'the gold checks run');
  expect(checks!.state).toBe('success');
  const assets = JSON.parse((await runWeir(['assets', 'list', '--json'], env)).stdout);
  expect(assets.assets).toEqual([expect.objectContaining({ asset: 'warehouse.trips_gold', producers: ['trips_ingest.gold'], consumers: ['trips_gold_checks'], events: 1, queued: 0 })]);
  // Static discovery reads the asset trigger (from the DAG file itself: it does not follow this fixture's re-export).
  expect((await runWeir(['dags', 'show', 'trips_gold_checks'], { ...env, WEIR_DAGS_FOLDER: path.join(ROOT, 'dags') })).stdout).toContain('trigger: a run when each of warehouse.trips_gold has a new event');

  // GET /stats: Turin's trips in ISO week 21 of 2018, as counted here.
  const turin = expected.weekly.get('Turin|2018|21')!;
  expect(turin).toBeGreaterThan(0);
  const stats = await get('/stats?region=Turin&week=21&year=2018');
  expect(stats.status).toBe(200);
  const body = await stats.json() as Record<string, unknown>;
  expect(body).toMatchObject({ region: 'Turin', year: 2018, week: 21, trips: turin });
  const turinWeeks = [...expected.weekly].filter(([k]) => k.startsWith('Turin|')).map(([k, n]) => [Number(k.split('|')[2]), n] as const);
  const span = Math.max(...turinWeeks.map((w) => w[0])) - Math.min(...turinWeeks.map((w) => w[0])) + 1;
  expect(body.weekly_average).toBeCloseTo(turinWeeks.reduce((s, w) => s + w[1], 0) / span, 2);
  expect(await (await get('/stats?region=turin&week=30&year=2018')).json()).toMatchObject({ region: 'Turin', week: 30, trips: 0 });
  const bad = await get('/stats?region=Turin&week=54&year=2018');
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { detail: string }).detail).toMatch(/^week: /);
  expect((await get('/stats?region=Atlantis&week=21&year=2018')).status).toBe(404);
  expect((await get('/stats?region=Turin&week=21&year=2018', false)).status).toBe(401);
  // The bounding box around Turin holds exactly Turin's trips.
  const box = await (await get('/stats/bbox?min_lon=7&min_lat=44&max_lon=8.5&max_lat=46&week=21&year=2018')).json();
  expect(box).toMatchObject({ trips: turin });
  const openapi = await (await get('/api/v2/openapi.json', false)).json() as { paths: Record<string, { get: { parameters: { name: string; in: string; required: boolean }[] } }> };
  expect(openapi.paths['/stats']!.get.parameters.map((p) => [p.name, p.in, p.required])).toEqual([['region', 'query', true], ['year', 'query', true], ['week', 'query', true]]);
  expect(Object.keys(openapi.paths)).toContain('/stats/bbox');
}, 180_000);

test('the same bytes again make no run; two files at once make two', async () => {
  const before = (await runs()).length;
  const landedAgain = () => procs.slice(0, 2).reduce((n, p) => n + (p.output().match(/file landed again/g) ?? []).length, 0);
  const seen = landedAgain();
  const again = drop('trips-again.csv', fs.readFileSync(TRIPS_SAMPLE));
  // Both schedulers looked at it, found its run, and made none.
  await eventually(async () => landedAgain() >= seen + 2, 30_000, 'both schedulers to see the file again');
  expect((await runs()).length).toBe(before);
  fs.rmSync(again);

  const a = await writeTrips(path.join(home, 'a.csv'), 1000, 2);
  const b = await writeTrips(path.join(home, 'b.csv'), 1500, 3);
  fs.renameSync(a, path.join(landing, 'a.csv'));
  fs.renameSync(b, path.join(landing, 'b.csv'));
  const made = await newRuns(before, 2);
  expect(made.map((r) => path.basename(r.file)).sort()).toEqual(['a.csv', 'b.csv']);
  for (const r of made) expect(await ended(r.run_id)).toBe('success');
  expect((await runs()).length).toBe(before + 2);
  const kept = await Promise.all(made.map(async (r) => (await output(r.run_id, 'bronze')).kept));
  expect(kept.sort()).toEqual([1000, 1500]);
  expect(fs.readdirSync(landing)).toEqual([]);
  // Gold still adds up over all three files.
  const { rows } = await pool.query('SELECT (SELECT count(*) FROM trips.silver)::int AS silver, (SELECT sum(trips) FROM trips.gold_weekly)::int AS weekly');
  expect(rows[0].silver).toBe(rows[0].weekly);
}, 180_000);

test('a wrong header fails for good and stays in landing; malformed and empty rows are set aside while the run goes on', async () => {
  const before = (await runs()).length;
  const wrong = drop('wrong.csv', 'region,origin,destination,datetime,source\nTurin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-21 02:54:04,baba_car\n');
  const [failed] = await newRuns(before, 1);
  expect(await ended(failed!.run_id)).toBe('failed');
  const { rows: tries } = await pool.query("SELECT try_number, error FROM weir.task_try WHERE run_id = $1 AND task_id = 'bronze'", [failed!.run_id]);
  expect(tries).toEqual([{ try_number: 1, error: 'wrong.csv: wrong header: expected region,origin_coord,destination_coord,datetime,datasource, found region,origin,destination,datetime,source' }]);
  expect(fs.existsSync(wrong)).toBe(true);
  const { rows: audit } = await pool.query('SELECT step, status, error FROM audit.step_log WHERE run_id = $1', [failed!.run_id]);
  expect(audit).toEqual([{ step: 'bronze', status: 'failed', error: tries[0].error }]);
  fs.rmSync(wrong);

  const lines = fs.readFileSync(TRIPS_SAMPLE, 'utf8').trim().split('\n');
  const messy = [
    lines[0], lines[3], lines[4],
    'Turin,POINT (7.6 45.0),2018-05-21 02:54:04,baba_car',            // line 4: 4 fields
    'Turin,POINT (7.6),POINT (7.7 45.1),2018-05-21 02:54:04,baba_car', // line 5: not a point
    ',,,,',                                                              // line 6: every field empty
    '',                                                                  // line 7: an empty line
    'Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-02-30 02:54:04,baba_car', // line 8: no such day
    lines[5],
    'Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-21 02:54:04,"Baba, Car "', // line 10: a quoted comma (RFC 4180)
  ].join('\n');
  drop('messy.csv', `${messy}\n`);
  const [ok] = await newRuns(before + 1, 1);
  expect(await ended(ok!.run_id)).toBe('success');
  expect(await output(ok!.run_id, 'bronze')).toMatchObject({ rows: 9, kept: 4, empty: 2, rejected: 3 });
  const { rows: rejects } = await pool.query('SELECT line::int, reason FROM trips.bronze_rejects WHERE run_id = $1 ORDER BY line', [ok!.run_id]);
  expect(rejects).toEqual([
    { line: 4, reason: 'expected 5 fields, found 4' },
    { line: 5, reason: 'origin_coord is not a WKT point POINT (lon lat): "POINT (7.6)"' },
    { line: 8, reason: 'datetime is not a time (YYYY-MM-DD hh:mm:ss): "2018-02-30 02:54:04"' },
  ]);
  const { rows: bronzeRows } = await pool.query('SELECT row_number::int FROM trips.bronze JOIN trips.batches USING (batch_id) WHERE run_id = $1 ORDER BY row_number', [ok!.run_id]);
  expect(bronzeRows.map((r) => r.row_number)).toEqual([1, 2, 8, 9]);
  const { rows: quoted } = await pool.query("SELECT datasource FROM trips.silver WHERE source_file = 'messy.csv' AND row_number = 9");
  expect(quoted).toEqual([{ datasource: 'baba, car' }]);
}, 180_000);
