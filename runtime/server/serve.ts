/**
 * Starting weir's server on a Session: the DAGs kept current by the watcher, the event
 * hub on its own LISTEN connection, the admin secret (made at first start), and the
 * bind rules — loopback by default; any other address only with the host names the
 * server may be reached by (WEIR_SERVER_ALLOWED_HOSTS), so a request naming another
 * host (DNS rebinding) is refused.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Session } from '../cli/session.ts';
import { InputError } from '../errors.ts';
import { DagWatcher } from '../loader/watcher.ts';
import { buildApp } from './app.ts';
import { EventHub } from './events.ts';
import { Metrics } from './metrics.ts';
import { allowedHosts } from './security.ts';
import { ensureAdminSecret } from './tokens.ts';
import { attachStatusSocket } from './ws-status.ts';
import type { Server } from 'node:http';

export interface RunningServer {
  url: string;
  /** Set the first time this home's server started: the secret to print once. */
  firstSecret: string | undefined;
  secretFile: string;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export async function startServer(session: Session, options: { host?: string; port?: number } = {}): Promise<RunningServer> {
  const config = session.config;
  const host = options.host ?? config.serverHost;
  const port = options.port ?? config.serverPort;
  if (!LOOPBACK.test(host) && !config.serverAllowedHosts.length) {
    throw new InputError('server_exposed', `--host ${host} is not a loopback address: set WEIR_SERVER_ALLOWED_HOSTS to the host names clients use to reach it (every request is authenticated; the allowlist stops DNS rebinding)`);
  }
  const loaded = await session.dags();
  const watcher = DagWatcher.for(loaded);
  watcher.start();
  const engine = await session.engine();
  const events = new EventHub(engine.pool);
  await events.start(engine.url);
  const metrics = new Metrics(engine.pool, events, () => loaded);
  const secret = ensureAdminSecret(config.home);
  // Filled in once the port is known (port 0 picks a free one); no request is served before.
  const hosts = new Set<string>();
  const app = buildApp({
    pool: engine.pool,
    engine: async () => engine,
    dags: () => loaded,
    adminSecret: secret.secret,
    allowedHosts: hosts,
    events,
    metrics,
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new InputError('port_in_use', `port ${port} on ${host} is in use (choose another with --port or WEIR_SERVER_PORT)`) : err));
  });
  const statusSocket = attachStatusSocket(server as Server, { pool: engine.pool, hub: events, allowedHosts: hosts });
  const actualPort = (server.address() as AddressInfo).port;
  for (const h of allowedHosts(host, actualPort, config.serverAllowedHosts)) hosts.add(h);
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${actualPort}/`,
    firstSecret: secret.created ? secret.secret : undefined,
    secretFile: secret.file,
    async close() {
      statusSocket.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      metrics.close();
      await events.close();
      await watcher.stop();
    },
  };
}
