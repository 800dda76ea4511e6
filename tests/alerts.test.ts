/**
 * Failure alerts end to end: a task fails for good, the engine enqueues an alert
 * in the same transaction, the alerter sends it through a real SMTP server
 * (smtp-server, in-process) and mailparser reads what arrived. With the SMTP
 * server down first, the alert is retried until it is up: delayed, not dropped.
 */
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { dag, NonRetryableError } from '../runtime/index.ts';
import { Alerter } from '../runtime/worker/alerter.ts';
import { startTestEngine, type TestEngine } from './support/engine.ts';

const failing = dag({ id: 'alerting', alertRecipients: ['oncall@example.com'] });
failing.task({ id: 'load' }, async (ctx) => {
  ctx.log.info('loading <b>rows</b>');
  throw new NonRetryableError('duplicate key value violates unique constraint "<script>alert(1)</script>"');
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function startSmtp(port: number, received: ParsedMail[]): Promise<SMTPServer> {
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, cb) {
      if (auth.username === 'weir' && auth.password === 's3cret-smtp-pass') cb(null, { user: 'weir' });
      else cb(new Error('bad credentials'));
    },
    onData(stream, _session, cb) {
      simpleParser(stream).then((mail) => {
        received.push(mail);
        cb();
      }, cb);
    },
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

let te: TestEngine;
const saved = { ...process.env };
afterAll(async () => {
  await te?.close();
  process.env = saved;
});

test('a task that fails for good emails its DAG\'s recipients; an SMTP outage delays the alert, never drops it', async () => {
  const port = await freePort();
  process.env.WEIR_SMTP_URL = `smtp://weir:s3cret-smtp-pass@127.0.0.1:${port}`;
  process.env.WEIR_MAIL_FROM = 'weir@example.com';
  process.env.WEIR_ALERT_RETRY_DELAY_S = '1';
  te = await startTestEngine([failing]);
  const alerter = new Alerter(te.engine.boss);
  await alerter.start();
  const received: ParsedMail[] = [];
  let smtp: SMTPServer | undefined;
  try {
    const runId = await te.trigger('alerting');
    expect(await te.waitForRun(runId)).toBe('failed');
    // The SMTP server is down: the first send fails. Bring it up; the retry delivers.
    const { rows } = await te.db.pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'weir_alert'");
    expect(rows[0].n).toBe(1);
    // Wait until a send has really failed against the closed port before starting the server.
    const failedOnce = Date.now() + 20_000;
    while ((await te.db.pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'weir_alert' AND (state = 'retry' OR retry_count > 0)")).rows[0].n < 1 && Date.now() < failedOnce) await new Promise((r) => setTimeout(r, 100));
    expect((await te.db.pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'weir_alert' AND (state = 'retry' OR retry_count > 0)")).rows[0].n).toBeGreaterThanOrEqual(1);
    smtp = await startSmtp(port, received);
    const deadline = Date.now() + 30_000;
    while (!received.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(1);
    const mail = received[0]!;
    expect(mail.subject).toContain('alerting.load failed');
    expect(mail.subject).toContain(runId);
    expect((mail.to as { text: string }).text).toBe('oncall@example.com');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.text).toContain('duplicate key value violates unique constraint');
    expect(mail.html).toContain('loading &lt;b&gt;rows&lt;/b&gt;');
    expect(`${mail.html}${mail.text}${mail.subject}`).not.toContain('s3cret-smtp-pass');
  } finally {
    await alerter.stop();
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  }
});
