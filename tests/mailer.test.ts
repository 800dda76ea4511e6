/**
 * runtime/mailer.ts, runtime/templates.ts and tasks/email-alert.ts with a real SMTP
 * server in-process (smtp-server) and what arrived parsed by mailparser: subject,
 * recipients, HTML with inlined CSS, escaped values, a link-free text part; SMTP down
 * then up; the outbox; passwords never in errors or emails.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { sendMail, sendTestEmail } from '../runtime/mailer.ts';
import { renderEmail } from '../runtime/templates.ts';
import { NonRetryableError } from '../runtime/errors.ts';
import { sendThresholdAlert, thresholdAlertEmail } from '../tasks/email-alert.ts';
import { sendTaskFailureAlert } from '../runtime/alerts.ts';
import { registerSecret } from '../runtime/redact.ts';

const PASSWORD = 'smtp-pass-91d2e7';

interface Inbox {
  port: number;
  received: { envelopeTo: string[]; mail: ParsedMail }[];
  next(): Promise<ParsedMail>;
  close(): Promise<void>;
}

async function startSmtp(port = 0): Promise<Inbox> {
  const received: Inbox['received'] = [];
  const waiters: ((m: ParsedMail) => void)[] = [];
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, cb) {
      if (auth.username === 'alerts' && auth.password === PASSWORD) cb(null, { user: 'alerts' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((mail) => {
          received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), mail });
          waiters.shift()?.(mail);
          cb();
        })
        .catch(cb);
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const address = server.server.address() as AddressInfo;
  return {
    port: address.port,
    received,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const smtpUrl = (port: number, password = PASSWORD) => `smtp://alerts:${encodeURIComponent(password)}@127.0.0.1:${port}`;

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'weir-mailer-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

// In the flagship's own words (dags/stock_prices.ts): the template knows nothing of stocks.
const alert = {
  to: ['ops@example.com', 'cfo@example.com'],
  metric: 'AAPL average price',
  description: 'Average (H+L)/2',
  window: { start: '2020-01-01', end: '2020-12-31' },
  value: 95.1365,
  min: 130,
  max: 150,
  rows: [
    { date: '2020-12-30', open: 135.58, high: 135.99, low: 133.4, close: 133.72, volume: 96452000 },
    { date: '2020-12-29', open: 138.05, high: 138.79, low: 134.34, close: 134.87, volume: 121047000 },
  ],
  columns: [
    { key: 'date', label: 'Date' }, { key: 'open', label: 'Open', format: 'fixed' as const }, { key: 'high', label: 'High', format: 'fixed' as const },
    { key: 'low', label: 'Low', format: 'fixed' as const }, { key: 'close', label: 'Close', format: 'fixed' as const }, { key: 'volume', label: 'Volume', format: 'thousands' as const },
  ],
  rowsTitle: 'Most recent prices',
  dagId: 'stock_prices',
  runId: 'manual__2024-01-01T00:00:00Z',
};

test('threshold alert over SMTP: subject, recipients, inlined HTML, price table, link-free text', async () => {
  const inbox = await startSmtp();
  try {
    const arrived = inbox.next();
    const sent = await sendThresholdAlert(alert, { smtpUrl: smtpUrl(inbox.port), from: 'weir <weir@example.com>', home });
    expect(sent.transport).toBe('smtp');
    expect(sent.accepted).toEqual(alert.to);
    const mail = await arrived;
    expect(mail.subject).toBe('[weir] AAPL average price 95.14 below [130, 150] (2020-01-01 to 2020-12-31)');
    expect(inbox.received[0]!.envelopeTo).toEqual(alert.to);
    expect(mail.from?.text).toContain('weir@example.com');
    const html = String(mail.html);
    expect(html).toContain('95.14');
    expect(html).toContain('[130.00, 150.00]');
    expect(html).toContain('2020-12-29');
    expect(html).toContain('121,047,000');
    expect(html).not.toContain('<style'); // inlined by juice
    expect(html).toMatch(/<table[^>]*style="[^"]*border-collapse/);
    expect(mail.text).toContain('Average (H+L)/2: 95.14');
    expect(mail.text).toContain('2020-12-30');
    expect(mail.text).not.toMatch(/https?:\/\//);
  } finally {
    await inbox.close();
  }
});

test('values from data are HTML-escaped (a symbol "<script>" arrives as text)', async () => {
  const inbox = await startSmtp();
  try {
    const arrived = inbox.next();
    await sendThresholdAlert({ ...alert, metric: '<script>alert(1)</script>', rows: [{ ...alert.rows[0]!, date: '<b>x</b>' }] }, { smtpUrl: smtpUrl(inbox.port), home });
    const mail = await arrived;
    const html = String(mail.html);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>x</b>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // The plain-text part is not HTML: the value reads as written.
    expect(mail.text).toContain('<script>alert(1)</script>');
  } finally {
    await inbox.close();
  }
});

test('SMTP down: the send fails (so the task retries) with the password redacted; once up, it goes through', async () => {
  const probe = await startSmtp();
  const port = probe.port;
  await probe.close(); // connection refused from now on
  registerSecret(PASSWORD);
  const error = await sendThresholdAlert(alert, { smtpUrl: smtpUrl(port), home, connectionTimeoutMs: 2000 }).then(
    (): Error & { code?: string } => new Error('expected a failure'),
    (e: unknown) => e as Error & { code?: string },
  );
  expect(error.code).toBe('smtp_failed');
  expect(error.message).toMatch(/ECONNREFUSED/);
  expect(error.message).toContain('smtp://alerts:***@127.0.0.1');
  expect(error.message).not.toContain(PASSWORD);
  expect(JSON.stringify(error)).not.toContain(PASSWORD);

  const inbox = await startSmtp(port);
  try {
    const arrived = inbox.next();
    await expect(sendThresholdAlert(alert, { smtpUrl: smtpUrl(port), home })).resolves.toMatchObject({ transport: 'smtp' });
    expect((await arrived).subject).toContain('AAPL');
  } finally {
    await inbox.close();
  }
});

test('a wrong SMTP password fails without showing it', async () => {
  const inbox = await startSmtp();
  try {
    const wrong = 'wrong-pass-0c0c0c';
    const error = await sendMail({ to: 'a@example.com', subject: 's', html: '<p>x</p>', text: 'x' }, { smtpUrl: smtpUrl(inbox.port, wrong), home }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    );
    expect(error.message).toMatch(/EAUTH|Invalid/);
    expect(error.message).not.toContain(wrong);
  } finally {
    await inbox.close();
  }
});

test('no SMTP URL: one .eml and one .html per message in the outbox', async () => {
  const sent = await sendThresholdAlert(alert, { smtpUrl: null, home, from: 'weir@localhost' });
  expect(sent.transport).toBe('outbox');
  expect(path.dirname(sent.files!.eml)).toBe(path.join(home, 'outbox'));
  expect(sent.files!.html).toBe(sent.files!.eml.replace(/\.eml$/, '.html'));
  const parsed = await simpleParser(await readFile(sent.files!.eml));
  expect(parsed.subject).toContain('AAPL average price 95.14');
  expect((parsed.to as { text: string }).text).toBe('ops@example.com, cfo@example.com');
  expect(parsed.text).toContain('Window:          2020-01-01 to 2020-12-31');
  expect(await readFile(sent.files!.html, 'utf8')).toContain('95.14');
});

test('task failure email: DAG, run, task, try, error and log tail; secrets in the error are masked', async () => {
  registerSecret('td-key-in-error-123');
  const sent = await sendTaskFailureAlert(
    {
      to: 'ops@example.com',
      dagId: 'stock_prices',
      runId: 'scheduled__2024-05-01',
      taskId: 'extract',
      tryNumber: 5,
      maxTries: 5,
      error: 'GET /time_series?apikey=td-key-in-error-123 answered HTTP 503 <html>',
      logTail: ['12:00:00 WARN http request failed, retrying', '12:00:05 ERROR gave up'],
    },
    { smtpUrl: null, home },
  );
  const parsed = await simpleParser(await readFile(sent.files!.eml));
  expect(parsed.subject).toBe('[weir] task stock_prices.extract failed (run scheduled__2024-05-01, try 5)');
  const html = String(parsed.html);
  expect(html).toContain('5 of 5');
  expect(html).toContain('apikey=***');
  expect(html).toContain('&lt;html&gt;');
  expect(html).toContain('gave up');
  expect(html + parsed.text).not.toContain('td-key-in-error-123');
  expect(parsed.text).toContain('weir runs show scheduled__2024-05-01');
});

test('sendTestEmail reports where it went', async () => {
  const inbox = await startSmtp();
  try {
    const arrived = inbox.next();
    const sent = await sendTestEmail('me@example.com', { smtpUrl: smtpUrl(inbox.port), home });
    expect(sent.transport).toBe('smtp');
    const mail = await arrived;
    expect(mail.subject).toBe('weir test email');
    expect(mail.text).toContain('smtp://alerts:***@127.0.0.1');
    expect(mail.text).not.toContain(PASSWORD);
  } finally {
    await inbox.close();
  }
});

test('templates resolve from the module, not the working directory', () => {
  const cwd = process.cwd();
  process.chdir(os.tmpdir());
  try {
    expect(renderEmail('threshold-alert', { ...alert, direction: 'below' }).text).toContain('AAPL');
  } finally {
    process.chdir(cwd);
  }
});

test('regression (a revenue check read "REVENUE average price … Average of (high + low) / 2"): the threshold alert speaks the metric\'s own words', () => {
  const email = thresholdAlertEmail({
    to: 'finance@example.com', metric: 'daily revenue', unit: 'EUR', description: 'Sum of order totals',
    window: { start: '2026-11-30', end: '2026-11-30' }, value: 54450, min: 60000, max: 80000,
    rows: [{ region: 'north', revenue: 12000.5 }, { region: '<south>', revenue: 42449.5 }],
    columns: [{ key: 'region', label: 'Region' }, { key: 'revenue', label: 'Revenue', format: 'fixed' }], rowsTitle: 'By region',
    dagId: 'revenue', runId: 'manual__x',
  });
  expect(email.subject).toBe('[weir] daily revenue 54450.00 EUR below [60000, 80000] (2026-11-30 to 2026-11-30)');
  const { html, text } = renderEmail(email.template, email.context);
  for (const part of [html, text]) {
    expect(part).not.toMatch(/price|symbol|high \+ low|H\+L/i);
    expect(part).toContain('Sum of order totals');
    expect(part).toContain('42449.50');
  }
  expect(text).toContain('Sum of order totals: 54450.00 EUR');
  expect(text).toMatch(/By region:\nRegion {4}Revenue/);
  expect(html).toContain('&lt;south&gt;');
  // Without columns, the first row's keys are the columns, values as text.
  const plain = thresholdAlertEmail({ to: 'x@example.com', metric: 'rows loaded', value: 3, min: 10, max: null, rows: [{ table: 'raw.orders', rows: 3 }], dagId: 'd', runId: 'r' });
  expect(renderEmail(plain.template, plain.context).text).toMatch(/Context:\ntable {5}rows/);
});

test('an email template beside the DAG is rendered from its file URL, with weir\'s styles includable; a missing one fails for good, naming its path', () => {
  const own = new URL('./fixtures/own-templates/revenue-alert', import.meta.url).href;
  const { html, text } = renderEmail(own, { value: 54450, region: '<north>' });
  expect(text).toBe('Revenue 54450.00 for <north>\n');
  expect(html).toContain('Revenue 54450.00 for &lt;north&gt;');
  expect(html).not.toContain('<style'); // weir's _styles.css.njk was included, then inlined
  const missing = new URL('./fixtures/own-templates/nope', import.meta.url).href;
  const error = (() => { try { renderEmail(missing, {}); } catch (e) { return e; } })();
  expect(error).toBeInstanceOf(NonRetryableError);
  expect((error as Error).message).toBe(`email template ${new URL(`${missing}.html.njk`).pathname} not found`);
  const unknown = (() => { try { renderEmail('revenue-alert', {}); } catch (e) { return e; } })();
  expect((unknown as Error).message).toBe("email template templates/revenue-alert.html.njk not found; for one beside your DAG pass new URL('./revenue-alert', import.meta.url).href");
});
