import {
  type ClientMessageDraft,
  heartbeatInterval,
  type RtmConnectResponse,
  type RtmSelf,
  type RtmTurnResponse,
  rtmCloseCodes,
  rtmConnectPath,
  rtmTurnPath,
  type ServerMessage,
  serverMessageSchema,
  type TurnCredentials,
} from '@confab/protocol';

export type RtmStatus = 'connecting' | 'connected' | 'disconnected';

export interface RtmClientOptions {
  /** A current access token (renewed by the caller) and, optionally, the ID token. */
  tokens: () => Promise<{ accessToken: string; idToken?: string }>;
  onMessage: (message: ServerMessage) => void;
  onStatus: (status: RtmStatus, self?: RtmSelf, turn?: TurnCredentials) => void;
  /** Fresh TURN credentials, fetched from rtm/turn before the last ones expire. */
  onTurn?: (turn: TurnCredentials) => void;
  /**
   * The server ended the session for good (close code 4001: the user was removed or the
   * sign-in revoked), or refuses the token (403, where kwmjs stops too): no more reconnecting.
   */
  onEnded?: () => void;
}

/** When to fetch new TURN credentials: after four fifths of their lifetime, at least 5 s on. */
export function turnRefreshDelay(ttlSeconds: number): number {
  return Math.max(5000, ttlSeconds * 800);
}

/** kwmjs's reconnect schedule: 1 s × 1.5 up to 30 s, ±0.5 s jitter. */
export function reconnectDelay(attempt: number, random = Math.random): number {
  const base = Math.min(30_000, 1000 * 1.5 ** attempt);
  return Math.max(0, base + (random() - 0.5) * 1000);
}

/**
 * The signaling connection of the web app: rtm/connect with a fresh token, the one-time
 * WebSocket, a ping every 5 s, and reconnection with backoff whenever the socket is lost.
 */
export class RtmClient {
  #ws: WebSocket | undefined;
  #nextId = 1;
  #attempt = 0;
  #stopped = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #turnTimer: ReturnType<typeof setTimeout> | undefined;
  #lastPong = 0;
  self: RtmSelf | undefined;

  constructor(private readonly opts: RtmClientOptions) {}

  start(): void {
    this.#stopped = false;
    void this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeat);
    clearTimeout(this.#turnTimer);
    this.#ws?.close(1000);
    this.#ws = undefined;
  }

  /** Sends a message with the next id; false when not connected. */
  send(message: ClientMessageDraft): number | undefined {
    if (this.#ws?.readyState !== WebSocket.OPEN) return undefined;
    const id = this.#nextId++;
    this.#ws.send(JSON.stringify({ ...message, id }));
    return id;
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    this.opts.onStatus('connecting');
    try {
      const { accessToken, idToken } = await this.opts.tokens();
      const res = await fetch(rtmConnectPath, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(idToken ? { id_token: idToken } : {}).toString(),
      });
      if (res.status === 403) return this.#ended();
      if (!res.ok) throw new Error(`rtm/connect: HTTP ${res.status}`);
      const connect = (await res.json()) as RtmConnectResponse;
      const url = new URL(connect.url, window.location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(url);
      this.#ws = ws;
      ws.onmessage = (e) => this.#receive(e.data);
      ws.onclose = (event) => {
        if (this.#ws !== ws) return;
        if (event.code === rtmCloseCodes.revoked) this.#ended();
        else this.#lost();
      };
      ws.onerror = () => ws.close();
      this.self = connect.self;
      this.#turn = connect.turn;
      if (connect.turn) this.#scheduleTurnRefresh(connect.turn.ttl);
    } catch {
      this.#lost();
    }
  }

  #turn: TurnCredentials | undefined;

  #scheduleTurnRefresh(ttlSeconds: number): void {
    clearTimeout(this.#turnTimer);
    this.#turnTimer = setTimeout(() => void this.#refreshTurn(), turnRefreshDelay(ttlSeconds));
  }

  /** rtm/turn with a current token; on failure tries again in a while (a reconnect also helps). */
  async #refreshTurn(): Promise<void> {
    if (this.#stopped) return;
    try {
      const { accessToken } = await this.opts.tokens();
      const res = await fetch(rtmTurnPath, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}` },
      });
      if (!res.ok) throw new Error(`rtm/turn: HTTP ${res.status}`);
      const { turn } = (await res.json()) as RtmTurnResponse;
      this.#turn = turn;
      this.#scheduleTurnRefresh(turn.ttl);
      this.opts.onTurn?.(turn);
    } catch {
      if (!this.#stopped) this.#turnTimer = setTimeout(() => void this.#refreshTurn(), 30_000);
    }
  }

  #receive(data: unknown): void {
    let raw: unknown;
    try {
      raw = JSON.parse(String(data));
    } catch {
      return;
    }
    // The protocol's schema, not a cast: what does not fit is dropped here, not misread later.
    const parsed = serverMessageSchema.safeParse(raw);
    if (!parsed.success) {
      // A frame this app cannot read (a newer server's, or a bug): said where a developer looks.
      console.warn('confab: ignored a signaling message that fits no known shape', raw);
      return;
    }
    const message = parsed.data;
    if (message.type === 'hello') {
      this.#attempt = 0;
      this.#lastPong = Date.now();
      this.self = message.self;
      clearInterval(this.#heartbeat);
      this.#heartbeat = setInterval(() => this.#ping(), heartbeatInterval);
      this.opts.onStatus('connected', message.self, this.#turn);
    }
    if (message.type === 'pong') this.#lastPong = Date.now();
    this.opts.onMessage(message);
  }

  #ping(): void {
    // Three missed pongs: the connection is dead even if the socket does not know it yet.
    if (Date.now() - this.#lastPong > heartbeatInterval * 3) {
      this.#ws?.close();
      this.#lost();
      return;
    }
    this.send({ type: 'ping', ts: Date.now() });
  }

  #ended(): void {
    this.stop();
    this.opts.onStatus('disconnected');
    this.opts.onEnded?.();
  }

  #lost(): void {
    clearInterval(this.#heartbeat);
    this.#ws = undefined;
    if (this.#stopped) return;
    this.opts.onStatus('disconnected');
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => void this.#connect(), reconnectDelay(this.#attempt++));
  }
}
