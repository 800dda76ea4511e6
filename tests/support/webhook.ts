/** A local incoming webhook (Slack- or Teams-style) for tests: what was posted to it, as JSON. */
import http from 'node:http';

/** A local incoming webhook: refuses the first `refusals` posts with 500, then records each one. */
export async function startHookServer(refusals = 0) {
  const hook = { refusals, received: [] as { path: string; type: string | undefined; body: unknown }[], url: '', close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (hook.refusals > 0) {
        hook.refusals--;
        res.writeHead(500).end('try later');
        return;
      }
      hook.received.push({ path: req.url ?? '', type: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  hook.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  hook.close = () => new Promise<void>((r) => server.close(() => r()));
  return hook;
}
