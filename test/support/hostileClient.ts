import net from 'node:net';
import tls from 'node:tls';

/**
 * A hostile client for raw-socket tests: it sends bytes exactly as given (a malformed request
 * line, duplicated headers, half a ClientHello), reads what comes back, and leaves the way a
 * broken or malicious peer does: a clean end, a TCP reset, or a stall. The server under test
 * must answer or drop the connection and go on serving.
 */

/**
 * How the client leaves once it has sent its bytes and waited: a FIN ('end'), a TCP reset
 * ('reset', `resetAndDestroy`), or silence for `stallMs` before the FIN ('stall').
 */
export type Ending = 'end' | 'reset' | 'stall';

/**
 * What the client waits for after sending: nothing (it leaves at once), the first bytes of an
 * answer, or the server closing the connection (then `closed` tells how).
 */
export type Wait = 'nothing' | 'reply' | 'close';

export interface HostileOptions {
  port: number;
  host?: string;
  /** Speak TLS first (any certificate is accepted); `reset` still resets the TCP connection. */
  tls?: boolean;
  /** The bytes to send, exactly as given; a list is written chunk by chunk. */
  send?: string | Buffer | (string | Buffer)[];
  /** Default 'reply'. */
  wait?: Wait;
  /** How the client leaves after `wait` (default 'end'); named so the options are no thenable. */
  leave?: Ending;
  /** How long `wait` may take (default 3000 ms) and a stall lasts (default 300 ms). */
  timeoutMs?: number;
  stallMs?: number;
}

export interface HostileResult {
  /** Everything the server sent before the client left. */
  received: Buffer;
  /** The status code of an HTTP answer in `received`, if there is one. */
  status: number | undefined;
  /**
   * How the server had closed the connection when the client left: 'full' (it sent FIN and
   * then refused more data with a reset, so its socket is gone), 'half' (FIN, yet it still
   * accepted data: its socket is left half-open), or 'no'. Only measured with `wait: 'close'`.
   */
  closed: 'full' | 'half' | 'no';
  /** A socket error the client saw (ECONNRESET when the server reset), if any. */
  error: string | undefined;
}

/** Sends raw bytes to a server and leaves as told; never rejects (it reports what it saw). */
export async function hostile(opts: HostileOptions): Promise<HostileResult> {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 3000;
  // The client keeps its side open after the server's FIN, so that it can tell a server that
  // destroyed its socket (a reset answers the next write) from one that left it half-open.
  const raw = net.connect({ port: opts.port, host, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let error: string | undefined;
  let ended = false;
  let gone = false;
  raw.on('error', (err: NodeJS.ErrnoException) => {
    error ??= err.code ?? err.message;
  });
  raw.on('close', () => {
    gone = true;
  });
  let socket: net.Socket = raw;
  try {
    await once(raw, 'connect', timeoutMs);
    if (opts.tls) {
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
      secure.on('error', (err: NodeJS.ErrnoException) => {
        error ??= err.code ?? err.message;
      });
      secure.on('close', () => {
        gone = true;
      });
      await once(secure, 'secureConnect', timeoutMs);
      socket = secure;
    }
  } catch {
    raw.destroy();
    return { received: Buffer.alloc(0), status: undefined, closed: 'no', error };
  }
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('end', () => {
    ended = true;
  });
  const sendList =
    opts.send === undefined ? [] : Array.isArray(opts.send) ? opts.send : [opts.send];
  for (const chunk of sendList) socket.write(chunk);

  const wait = opts.wait ?? 'reply';
  let closed: HostileResult['closed'] = 'no';
  if (wait === 'reply') await until(() => chunks.length > 0 || ended || gone, timeoutMs);
  if (wait === 'close') {
    await until(() => ended || gone, timeoutMs);
    if (gone && !ended) closed = 'full';
    else if (ended) closed = (await probeGone(socket, raw, () => gone, probeMs)) ? 'full' : 'half';
  }

  const leave = opts.leave ?? 'end';
  if (leave === 'stall') await delay(opts.stallMs ?? 300);
  if (leave === 'reset') {
    if (!raw.destroyed) raw.resetAndDestroy();
  } else {
    // A clean end: FIN, then a moment for the server to close its side before letting go.
    socket.end();
    await until(() => gone, 200);
    socket.destroy();
  }
  const received = Buffer.concat(chunks);
  return { received, status: statusOf(received), closed, error };
}

/** `n` hostile clients at once. */
export function hostileMany(n: number, opts: HostileOptions): Promise<HostileResult[]> {
  return Promise.all(Array.from({ length: n }, () => hostile(opts)));
}

/** A request line and headers exactly as given, each line ended with CRLF, then a blank line. */
export function rawRequest(requestLine: string, headers: string[] = []): string {
  return `${[requestLine, ...headers].join('\r\n')}\r\n\r\n`;
}

/** The headers of a well-formed WebSocket upgrade (RFC 6455 section 4.1). */
export const upgradeHeaders = [
  'Host: localhost',
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];

/** A WebSocket upgrade for `path`, with extra header lines after the usual ones. */
export function upgradeRequest(path: string, extra: string[] = []): string {
  return rawRequest(`GET ${path} HTTP/1.1`, [...upgradeHeaders, ...extra]);
}

/** The first bytes of `request` only, then a reset: a client that dies mid-request. */
export function resetMidway(
  opts: Omit<HostileOptions, 'send' | 'wait' | 'leave'>,
  request: string | Buffer,
  fraction = 0.5,
): Promise<HostileResult> {
  const bytes = Buffer.from(request);
  const cut = Math.max(1, Math.floor(bytes.length * fraction));
  return hostile({ ...opts, send: bytes.subarray(0, cut), wait: 'nothing', leave: 'reset' });
}

let helloBytes: Promise<Buffer> | undefined;

/** A real TLS ClientHello record as Node sends it (captured once from a local listener). */
export function clientHello(): Promise<Buffer> {
  helloBytes ??= new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        server.close();
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      const client = tls.connect({ port, host: '127.0.0.1', servername: 'localhost' });
      client.on('error', () => {}); // the listener hangs up on it
    });
  });
  return helloBytes;
}

/**
 * A TLS client that breaks off its handshake: after half a ClientHello ('partial'), or after
 * the whole one once the server's answer arrived ('after-server-hello'); then a reset.
 */
export async function tlsHandshakeReset(
  port: number,
  at: 'partial' | 'after-server-hello',
  host = '127.0.0.1',
): Promise<HostileResult> {
  const hello = await clientHello();
  if (at === 'partial') return resetMidway({ port, host }, hello, 0.5);
  return hostile({ port, host, send: hello, wait: 'reply', leave: 'reset' });
}

function statusOf(received: Buffer): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(received.toString('latin1', 0, 16));
  return m ? Number(m[1]) : undefined;
}

/**
 * After the server's FIN: a server that destroyed its socket answers data with a reset, which
 * the next write reports (EPIPE or ECONNRESET); a half-open one takes the data silently.
 */
/**
 * How long a socket the server ended is probed for its reset: the server destroys it on its
 * event loop, which on a busy two-core machine can lag well past a second. A half-open socket
 * never resets, however long it is probed, so a longer probe only slows that (failing) case.
 */
const probeMs = 5000;

async function probeGone(
  socket: net.Socket,
  raw: net.Socket,
  gone: () => boolean,
  ms: number,
): Promise<boolean> {
  let failed = false;
  const onError = () => {
    failed = true;
  };
  raw.on('error', onError);
  socket.on('error', onError);
  const started = Date.now();
  while (!failed && !gone() && Date.now() - started < ms) {
    if (!socket.writable) break;
    socket.write('x');
    await delay(50);
  }
  return failed || gone();
}

function once(emitter: net.Socket, event: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
    emitter.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before ${event}`));
    });
  });
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const started = Date.now();
  while (!done() && Date.now() - started < ms) await delay(10);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
