/**
 * Sending email. With `WEIR_SMTP_URL` set, messages go out over SMTP (nodemailer);
 * without it they are written to `${WEIR_HOME}/outbox/` as one `.eml` (the full MIME
 * message, openable in any mail client) and one `.html` (open in a browser).
 * SMTP failures are thrown, so the email task fails and retries like any task and
 * no alert is silently dropped; their messages never carry the SMTP password.
 */
import { outboxDir, writeOutboxFile } from './outbox.ts';
import path from 'node:path';
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { loadConfig } from './config.ts';
import { WeirError, toError } from './errors.ts';
import { maskUrl, redact, registerSecret } from './redact.ts';

export interface MailMessage {
  to: string | string[];
  subject: string;
  html: string;
  /** Plain-text alternative. */
  text: string;
  cc?: string | string[];
  /** Files sent with the message; one with a `cid` is an inline image the HTML shows as `<img src="cid:…">`. */
  attachments?: MailAttachment[];
}

export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
  cid?: string;
}

export interface SendResult {
  transport: 'smtp' | 'outbox';
  messageId: string;
  /** Outbox only: where the message was written. */
  files?: { eml: string; html: string };
  /** SMTP only: the recipients the server accepted. */
  accepted?: string[];
}

export interface MailerOptions {
  /** Default: `WEIR_SMTP_URL` (through loadConfig); undefined means the outbox. Pass `null` to force the outbox. */
  smtpUrl?: string | null;
  /** Default: `WEIR_MAIL_FROM`, else `weir@localhost`. */
  from?: string;
  /** weir's home; the outbox is `${home}/outbox`. Default: `WEIR_HOME`, else `./.weir`. */
  home?: string;
  /** SMTP connection timeout. Default 10 000 ms. */
  connectionTimeoutMs?: number;
}

function resolve(options: MailerOptions) {
  const needConfig = options.smtpUrl === undefined || options.from === undefined || options.home === undefined;
  const config = needConfig ? loadConfig() : undefined;
  const smtpUrl = options.smtpUrl === undefined ? config!.smtpUrl : options.smtpUrl ?? undefined;
  if (smtpUrl) {
    try {
      registerSecret(decodeURIComponent(new URL(smtpUrl).password));
    } catch {
      // an unparsable URL fails below, with its password masked by maskUrl
    }
  }
  return {
    smtpUrl,
    from: options.from ?? config!.mailFrom,
    home: options.home ?? config!.home,
    connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
  };
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => v.trim()).filter(Boolean);
}

// Outbox file names sort by time and say what the message is about.
function outboxBaseName(subject: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const slug = subject.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 50) || 'message';
  return `${stamp}-${slug}-${crypto.randomBytes(3).toString('hex')}`;
}

/**
 * Send one message: over SMTP when configured, else into the outbox. Throws a
 * `WeirError` (code `smtp_failed`, password redacted) when the SMTP server cannot be
 * reached or refuses the message.
 */
export async function sendMail(message: MailMessage, options: MailerOptions = {}): Promise<SendResult> {
  const to = list(message.to);
  if (to.length === 0) throw new WeirError('no_recipients', `email "${message.subject}" has no recipients`);
  const settings = resolve(options);
  const mail = { from: settings.from, to, cc: list(message.cc), subject: message.subject, html: message.html, text: message.text, attachments: message.attachments };

  if (!settings.smtpUrl) {
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    const info = await transport.sendMail(mail);
    const base = path.join(outboxDir(settings.home), outboxBaseName(message.subject));
    const files = { eml: `${base}.eml`, html: `${base}.html` };
    await writeOutboxFile(files.eml, info.message as Buffer);
    await writeOutboxFile(files.html, message.html);
    return { transport: 'outbox', messageId: info.messageId, files };
  }

  const transport = nodemailer.createTransport(settings.smtpUrl, {
    connectionTimeout: settings.connectionTimeoutMs,
    greetingTimeout: settings.connectionTimeoutMs,
    socketTimeout: settings.connectionTimeoutMs * 3,
  } as never);
  try {
    const info = await transport.sendMail(mail);
    return { transport: 'smtp', messageId: info.messageId, accepted: (info.accepted ?? []).map(String) };
  } catch (thrown) {
    const err = toError(thrown);
    const code = (err as { code?: string }).code;
    throw new WeirError(
      'smtp_failed',
      redact(`sending "${message.subject}" via ${maskUrl(settings.smtpUrl)} failed${code ? ` (${code})` : ''}: ${err.message}; check WEIR_SMTP_URL, or unset it to write emails to the outbox`),
    );
  } finally {
    transport.close();
  }
}

/** What `weir email test --to ADDRESS` sends: proves the current settings deliver mail. */
export async function sendTestEmail(to: string, options: MailerOptions = {}): Promise<SendResult> {
  const settings = resolve(options);
  const where = settings.smtpUrl ? maskUrl(settings.smtpUrl) : outboxDir(settings.home);
  const sentAt = new Date().toISOString();
  return sendMail(
    {
      to,
      subject: 'weir test email',
      html: `<p>This is a test email from <strong>weir</strong>, sent at ${sentAt}.</p><p>If you can read it, alerts will reach you.</p>`,
      text: `This is a test email from weir, sent at ${sentAt} via ${where}.\nIf you can read it, alerts will reach you.\n`,
    },
    options,
  );
}
