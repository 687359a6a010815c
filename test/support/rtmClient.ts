import { type RtmConnectResponse, type ServerMessage, serverMessageSchema } from '@confab/protocol';
import WebSocket from 'ws';

/**
 * A frame from the server, checked against the protocol's schema, the one the web app parses
 * with: a frame outside it throws, so the test fails where the web app would silently drop it.
 * The frame itself is kept as it came (the schema strips fields it does not name).
 */
export function checkedFrame(data: unknown): ServerMessage {
  const raw: unknown = JSON.parse(String(data));
  const checked = serverMessageSchema.safeParse(raw);
  if (!checked.success)
    throw new Error(
      `the server sent a frame outside the protocol: ${String(data).slice(0, 500)}\n${checked.error.message}`,
    );
  return raw as ServerMessage;
}

/**
 * Any `webrtc` frame as a test reads it, every field optional: tests pick the fields they check.
 * The server itself sends only the protocol's typed `ServerMessage`s.
 */
export interface LooseWebrtcFrame {
  type: 'webrtc';
  subtype: string;
  reply_to?: number;
  source?: string;
  target?: string;
  profile?: { name: string };
  initiator?: boolean;
  state?: string;
  channel?: string;
  group?: string;
  hash?: string;
  v?: number;
  pcid?: string;
  transaction?: string;
  data?: unknown;
}

/** A signaling client for tests: rtm/connect, then the WebSocket, with a queue of what arrives. */
export class RtmClient {
  readonly received: ServerMessage[] = [];
  #waiters: { match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  #nextId = 1;
  readonly #listeners: ((m: ServerMessage) => void)[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    readonly connect: RtmConnectResponse,
  ) {
    ws.on('message', (data) => {
      const m = checkedFrame(data);
      for (const listen of this.#listeners) listen(m);
      const i = this.#waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0]?.resolve(m);
      else this.received.push(m);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
  }

  /** Hears every frame as it arrives (checked), besides the queue `next` takes from. */
  listen(listener: (m: ServerMessage) => void): void {
    this.#listeners.push(listener);
  }

  static async open(
    base: string,
    accessToken: string,
    form: Record<string, string> = {},
  ): Promise<RtmClient> {
    const connect = await rtmConnect(base, accessToken, form);
    if (connect.status !== 200)
      throw new Error(`rtm/connect answered ${connect.status}: ${JSON.stringify(connect.body)}`);
    const body = connect.body as RtmConnectResponse;
    const ws = new WebSocket(new URL(body.url, base.replace(/^http/, 'ws')));
    // Listen before the socket opens: the server says hello at once.
    const client = new RtmClient(ws, body);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`websocket refused: ${res.statusCode}`)),
      );
    });
    await client.next((m) => m.type === 'hello');
    return client;
  }

  get userId(): string {
    return this.connect.self.id;
  }

  /** Sends a message with the next id (unless it has one) and returns that id. */
  send(message: Record<string, unknown>): number {
    const id = typeof message.id === 'number' ? message.id : this.#nextId++;
    this.ws.send(JSON.stringify({ ...message, id }));
    return id;
  }

  raw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** The first message (already received or coming) that matches, or an error after `timeoutMs`. */
  next(
    match: (m: ServerMessage) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ServerMessage> {
    const i = this.received.findIndex(match);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0] as ServerMessage);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: ServerMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no matching message within ${timeoutMs} ms; received: ${JSON.stringify(this.received).slice(0, 500)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Resolves true if nothing matching arrives within `ms` (for "sends nothing" checks). */
  async nothing(match: (m: ServerMessage) => boolean, ms = 300): Promise<boolean> {
    try {
      await this.next(match, ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

export async function rtmConnect(
  base: string,
  accessToken: string | undefined,
  form: Record<string, string> = {},
) {
  const res = await fetch(new URL('/api/kwm/v2/rtm/connect', base), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
}
