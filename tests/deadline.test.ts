/**
 * Deadline alerts: a run still unfinished past its DAG's deadline gets one alert, by email
 * (a real SMTP server in-process) and webhook (a local incoming webhook), queued by the
 * scheduler and sent by an alerter with no worker alive; never a second one for that run,
 * however many sweeps and schedulers look; runs that finished, or whose deadline is still
 * ahead, get none. A bad deadline option is a DAG problem naming it.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { dag } from '../runtime/index.ts';
import { validateDag } from '../runtime/loader/graph.ts';
import { Scheduler } from '../runtime/scheduler/scheduler.ts';
import { Alerter } from '../runtime/worker/alerter.ts';
import { cancelRun } from '../runtime/engine/runs.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';
import { eventually } from './support/cli.ts';
import { startHookServer } from './support/webhook.ts';

const late = dag({ id: 'late_run', deadline: { withinMs: 1, of: 'created' }, alertRecipients: ['oncall@example.com'], alertWebhooks: ['ops'] });
late.task({ id: 'work' }, () => 'done');
const roomy = dag({ id: 'roomy_run', deadline: { withinMs: 3_600_000 }, alertRecipients: ['oncall@example.com'] });
roomy.task({ id: 'work' }, () => 'done');

let te: TestEngine;
let smtp: SMTPServer;
let hook: Awaited<ReturnType<typeof startHookServer>>;
const inbox: ParsedMail[] = [];
const posts = () => hook.received.map((r) => r.body as { text: string });
const saved = { ...process.env };

beforeAll(async () => {
  smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], onData: (stream, _s, cb) => void simpleParser(stream).then((m) => (inbox.push(m), cb()), cb) });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  hook = await startHookServer();
  Object.assign(process.env, {
    WEIR_SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`,
    WEIR_MAIL_FROM: 'weir-tests@example.com',
    WEIR_WEBHOOK_OPS: `${hook.url}/hook`,
  });
  // No worker: nothing ever runs, so every run stays unfinished.
  te = await startTestEngine([late, roomy], { worker: false });
});
afterAll(async () => {
  await te?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await hook?.close();
  process.env = saved;
});

test('a run past its deadline gets one alert by email and webhook, sent with no worker alive; never a second', async () => {
  const a = new Scheduler(te.engine, te.dags, { safetyTickMs: 3_600_000 });
  const b = new Scheduler(te.engine, te.dags, { safetyTickMs: 3_600_000 });
  // What `weir scheduler` runs beside its scheduler: an alerter.
  const alerter = new Alerter(te.engine.boss, { pollingIntervalSeconds: 0.5 });
  await alerter.start();
  try {
    const overdue = await te.trigger('late_run');
    const finished = await te.trigger('late_run');
    await cancelRun(te.engine, te.dags.dags.get('late_run')!, finished, 'cancelled by the test');
    const ahead = await te.trigger('roomy_run');

    const alerted = await eventually(async () => {
      const found = [...(await a.checkDeadlines()), ...(await b.checkDeadlines())];
      return found.length ? found : undefined;
    }, 30_000, 'the missed deadline');
    expect(alerted).toEqual([overdue]);
    // Every later sweep, by either scheduler, finds nothing more.
    expect([...(await a.checkDeadlines()), ...(await b.checkDeadlines()), ...(await a.checkDeadlines())]).toEqual([]);

    await eventually(async () => inbox.length >= 1 && posts().length >= 1, 30_000, 'the deadline email and webhook post');
    expect(inbox).toHaveLength(1);
    expect(inbox[0]!.subject).toBe(`[weir] Deadline missed: late_run run ${overdue}`);
    expect((inbox[0]!.to as { text: string }).text).toBe('oncall@example.com');
    expect(inbox[0]!.text).toContain(`weir: run ${overdue} of late_run missed its deadline: still queued at`);
    expect(posts()).toHaveLength(1);
    expect(posts()[0]!.text).toMatch(new RegExp(`^weir: run ${overdue.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} of late_run missed its deadline: still queued at \\S+, 0.001 s after its creation`));

    const { rows } = await te.db.pool.query('SELECT run_id, deadline_alerted_at IS NOT NULL AS alerted, state FROM weir.dag_run ORDER BY run_id');
    expect(Object.fromEntries(rows.map((r) => [r.run_id, [r.state, r.alerted]]))).toEqual({
      [overdue]: ['queued', true],
      [finished]: ['failed', false],
      [ahead]: ['queued', false],
    });
  } finally {
    await alerter.stop();
  }
});

test('a deadline that is not a positive duration is a DAG problem naming the option', () => {
  const bad = dag({ id: 'bad_deadline', deadline: { withinMs: 0, of: 'created' } });
  bad.task({ id: 't' }, () => null);
  expect(validateDag(bad, 'bad.ts').join('\n')).toContain("deadline must be { withinMs: a positive number of milliseconds, of: 'data_interval_end' (default) or 'created' }");
});
