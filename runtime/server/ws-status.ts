/**
 * `/ws/status`: the live event stream (./events.ts, the same events as the SSE stream at
 * /api/weir/v1/events) as a WebSocket, for consumers that want one — each event one JSON
 * text message `{ type, id, dag_id, run_id, ...data }`, filtered by `?dag_id=` and
 * `?run_id=`. Authenticated like the API (a bearer token, or the UI's session cookie from
 * this server's own origin), on the same host allowlist. Read-only: messages sent to it
 * are ignored. A thin bridge: the hub does the work, this only forwards.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventHub, WeirEvent } from './events.ts';
import { SESSION_COOKIE } from './security.ts';
import { verifyToken } from './tokens.ts';

export const STATUS_SOCKET_PATH = '/ws/status';

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** Serve /ws/status on `server`; returns a close that ends every socket. */
export function attachStatusSocket(server: Server, deps: { pool: pg.Pool; hub: EventHub; allowedHosts: Set<string> }): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== STATUS_SOCKET_PATH) return refuse(socket, 404, 'Not Found');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!deps.allowedHosts.has(host)) return refuse(socket, 421, 'Misdirected Request');
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const session = bearer ? undefined : cookie(req, SESSION_COOKIE);
    // A page on another site may open a socket with the user's cookie: only this server's own pages may.
    if (session && req.headers.origin && new URL(req.headers.origin).host.toLowerCase() !== host) return refuse(socket, 403, 'Forbidden');
    let principal;
    try {
      principal = await verifyToken(deps.pool, bearer ?? session);
    } catch {
      return refuse(socket, 503, 'Service Unavailable');
    }
    if (!principal) return refuse(socket, 401, 'Unauthorized');
    const dagId = url.searchParams.get('dag_id');
    const runId = url.searchParams.get('run_id');
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const wanted = (e: WeirEvent) => e.dag_id === '*' || ((!dagId || e.dag_id === dagId) && (!runId || e.run_id === runId));
      const unsubscribe = deps.hub.subscribe((e) => {
        if (wanted(e) && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: e.type, id: e.id, dag_id: e.dag_id, run_id: e.run_id ?? null, ...e.data }));
      });
      const ping = setInterval(() => ws.ping(), 30_000);
      ws.on('close', () => {
        clearInterval(ping);
        unsubscribe();
      });
      ws.on('error', () => ws.terminate());
      ws.send(JSON.stringify({ type: 'ready', id: deps.hub.lastId() }));
    });
  };
  server.on('upgrade', (req, socket, head) => void onUpgrade(req, socket, head));
  return {
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
