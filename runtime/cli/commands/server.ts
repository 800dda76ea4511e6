/** `weir server` and `weir tokens create|revoke|list`. */
import type { Command } from 'commander';
import { logger } from '../../log.ts';
import { positiveInt, print, type Cli } from '../options.ts';
import { table, time } from '../render.ts';
import { waitForSignal } from './processes.ts';
import type { RunningServer } from '../../server/serve.ts';

/** What `weir server` (and standalone, demo) print on start: the URL, and how to log in. */
export function serverBanner(server: RunningServer): string {
  const login = server.firstSecret
    ? `first start: log in as admin with the secret ${server.firstSecret} (saved in ${server.secretFile}, mode 0600; it is not printed again)`
    : `log in as admin with the secret in ${server.secretFile}`;
  return `weir server: ${server.url} — ${login}`;
}

async function serverCommand(cli: Cli, opts: { host?: string; port?: number }): Promise<void> {
  const { startServer } = await import('../../server/serve.ts');
  const server = await startServer(cli.session(), opts);
  process.stderr.write(`${serverBanner(server)}\n`);
  logger.info({ url: server.url }, 'server started');
  await waitForSignal(() => server.close());
}

async function createTokenCommand(cli: Cli, opts: { role: 'viewer' | 'operator'; name?: string; json?: boolean }): Promise<void> {
  const { createToken } = await import('../../server/tokens.ts');
  const { pool } = await cli.session().database();
  const t = await createToken(pool, { role: opts.role, name: opts.name });
  print(Boolean(opts.json), { token_id: t.token_id, name: t.name, role: t.role, token: t.token }, () =>
    `${t.token}\n(token ${t.name}, role ${t.role}; shown once: send it as "Authorization: Bearer <token>"; end it with weir tokens revoke ${t.name})`);
}

async function revokeTokenCommand(cli: Cli, idOrName: string, opts: { json?: boolean }): Promise<void> {
  const { revokeToken } = await import('../../server/tokens.ts');
  const { pool } = await cli.session().database();
  const t = await revokeToken(pool, idOrName);
  print(Boolean(opts.json), { token_id: t.token_id, name: t.name, revoked: true }, () => `revoked token ${t.name} (${t.token_id})`);
}

async function listTokensCommand(cli: Cli, opts: { json?: boolean }): Promise<void> {
  const { listTokens } = await import('../../server/tokens.ts');
  const { pool } = await cli.session().database();
  const rows = await listTokens(pool);
  print(Boolean(opts.json), { tokens: rows }, () => (rows.length
    ? table(['token_id', 'name', 'role', 'created', 'revoked'], rows.map((r) => [r.token_id as string, r.name as string, r.role as string, time(r.created_at as Date), time(r.revoked_at as Date | null)]))
    : 'no tokens'));
}

export function registerServerCommands(program: Command, cli: Cli): void {
  program.command('server')
    .description('web UI, REST API (/api/v2) and live events; binds 127.0.0.1:8080 unless told otherwise')
    .option('--host <address>', 'address to bind (WEIR_SERVER_HOST); a non-loopback one needs WEIR_SERVER_ALLOWED_HOSTS')
    .option('--port <n>', 'port (WEIR_SERVER_PORT); 0 picks a free one', (v) => (v === '0' ? 0 : positiveInt('--port')(v)))
    .action((opts: { host?: string; port?: number }) => serverCommand(cli, opts));
  const tokens = program.command('tokens').description('bearer tokens for the REST API');
  tokens.command('create')
    .description('print a new token (shown once)')
    .requiredOption('--role <role>', 'viewer (reads) or operator (reads and writes)')
    .option('--name <name>', 'a name to find it by (default: generated)')
    .option('--json', 'print JSON')
    .action((opts: { role: 'viewer' | 'operator'; name?: string; json?: boolean }) => createTokenCommand(cli, opts));
  tokens.command('revoke <token_id_or_name>').description('end a token at once').option('--json', 'print JSON')
    .action((id: string, opts: { json?: boolean }) => revokeTokenCommand(cli, id, opts));
  tokens.command('list').description('tokens, live ones first (never the tokens themselves)').option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listTokensCommand(cli, opts));
}
