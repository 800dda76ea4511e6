/** `weir email test`. */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { print, type Cli } from '../options.ts';

async function testCommand(opts: { to: string; json?: boolean }): Promise<void> {
  if (!/^[^@\s]+@[^@\s]+$/.test(opts.to)) throw new InputError('bad_address', `--to "${opts.to}" is not an email address`);
  const { sendTestEmail } = await import('../../mailer.ts');
  const sent = await sendTestEmail(opts.to);
  print(Boolean(opts.json), sent, () => (sent.transport === 'outbox' ? `test email written to ${sent.files?.html} (no WEIR_SMTP_URL set)` : `test email sent to ${opts.to} via SMTP (message id ${sent.messageId})`));
}

export function registerEmailCommands(program: Command, _cli: Cli): void {
  program.command('email').description('email settings')
    .command('test')
    .description('send a test message with the current settings (WEIR_SMTP_URL, or the outbox)')
    .requiredOption('--to <address>', 'recipient')
    .option('--json', 'print JSON')
    .action((opts: { to: string; json?: boolean }) => testCommand(opts));
}
