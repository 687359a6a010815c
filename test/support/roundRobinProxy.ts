import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RoundRobinProxy {
  /** `http://127.0.0.1:PORT`: every node's `hostname`. */
  url: string;
  port: number;
  /** The nodes' local URLs, given once they listen. */
  setTargets(targets: string[]): void;
  /** Which target (index) served each request and each WebSocket, in order. */
  readonly served: { path: string; target: number; upgrade: boolean }[];
  close(): Promise<void>;
}

/**
 * A load balancer for tests: each HTTP request goes to the next node in turn (so a browser's
 * keep-alive requests are spread too, unlike a TCP round-robin), and each WebSocket upgrade is
 * passed through to the next node in a turn of its own, as a byte stream. No stickiness, as docs/deployment.md
 * "Several nodes" says a load balancer needs none.
 */
export async function startRoundRobinProxy(): Promise<RoundRobinProxy> {
  let targets: URL[] = [];
  // Requests and upgrades take turns of their own: a page's many requests do not decide which
  // node its one WebSocket reaches.
  const next = { request: 0, upgrade: 0 };
  const served: RoundRobinProxy['served'] = [];
  const pick = (path: string, upgrade: boolean): URL => {
    if (targets.length === 0) throw new Error('no targets yet');
    const i = next[upgrade ? 'upgrade' : 'request']++ % targets.length;
    served.push({ path, target: i, upgrade });
    return targets[i] as URL;
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    let target: URL;
    try {
      target = pick(req.url ?? '/', false);
    } catch {
      res.writeHead(503).end();
      return;
    }
    const out = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      },
      (upstream: IncomingMessage) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    let target: URL;
    try {
      target = pick(req.url ?? '/', true);
    } catch {
      socket.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    served,
    setTargets(t) {
      targets = t.map((u) => new URL(u));
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
