import { randomBytes } from 'node:crypto';
import {
  type ClientMessage,
  clientMessageSchema,
  errorMessage,
  goodbyeMessage,
  type RtmErrorCode,
  rtmCloseCodes,
  type ServerMessage,
} from '@confab/protocol';
import type { WebSocket } from 'ws';
import type { Logger } from '../logging/index.js';
import type { SessionInfo } from './SignalingState.js';

/** What a connection reports to: the signaling service. One object, not closures per socket. */
export interface ConnectionHandler {
  dispatch(conn: Connection, message: ClientMessage): void;
  closed(conn: Connection): void;
}

const connectionOf = Symbol('confab.connection');
type TaggedSocket = WebSocket & { [connectionOf]?: Connection };

// Shared listeners: a socket finds its connection through a tag instead of a closure each.
function onSocketMessage(this: TaggedSocket, data: Buffer, isBinary: boolean): void {
  this[connectionOf]?.receive(data, isBinary);
}
function onSocketClose(this: TaggedSocket): void {
  this[connectionOf]?.socketClosed();
}
function onSocketError(this: TaggedSocket, err: Error): void {
  this[connectionOf]?.socketError(err);
}

/**
 * A signaling session as calls and conferences see it: a socket on this node (`Connection`), or
 * one on another node whose messages that node relays here (`RemoteSession`, cluster/).
 */
export interface SignalingSession {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly guestPath: string | undefined;
  readonly session: SessionInfo;
  readonly closed: boolean;
  readonly revoked: boolean;
  send(message: ServerMessage): void;
  error(code: RtmErrorCode, msg: string, replyTo?: number): void;
}

/** How long a client told goodbye has to close its side before its socket is cut. */
const closeGraceMs = 2000;

export interface ConnectionLimits {
  /** Messages per second before the connection is slowed. */
  messageRate: number;
  /** Seconds of continued flooding, after slowing, before the socket is closed. */
  floodGraceSeconds: number;
}

/**
 * One signaling WebSocket: parses and validates every frame against the protocol's schemas,
 * answers what is wrong with kwm's error codes, keeps time of the last message for heartbeats,
 * and slows a client that sends too fast by pausing its socket, closing it if it keeps on.
 */
export class Connection implements SignalingSession {
  readonly id = randomBytes(9).toString('base64url');
  lastSeen = Date.now();
  closed = false;
  /** Told goodbye: what it still sends is not read. */
  closing = false;
  /**
   * Its user was removed or its sign-in revoked: it leaves its calls and conferences at once
   * instead of being waited for (`call_reconnect_grace`).
   */
  revoked = false;
  #tokens: number;
  /** When it was last told `rate_limited`: once a second is enough. */
  #warnedAt = 0;
  #refilledAt = Date.now();
  #floodingSince: number | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly session: SessionInfo,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly handler: ConnectionHandler,
  ) {
    this.#tokens = limits.messageRate;
    (ws as TaggedSocket)[connectionOf] = this;
    ws.on('message', onSocketMessage);
    ws.on('close', onSocketClose);
    ws.on('error', onSocketError);
  }

  get userId(): string {
    return this.session.userId;
  }

  get name(): string {
    return this.session.name;
  }

  /** The room path a guest may join; undefined for registered users. */
  get guestPath(): string | undefined {
    return this.session.guest?.path;
  }

  send(message: ServerMessage): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(message));
  }

  error(code: RtmErrorCode, msg: string, replyTo?: number): void {
    this.send(errorMessage(code, msg, replyTo));
  }

  /**
   * Says goodbye, then closes (a server-initiated close). Nothing more is read from it; a client
   * that does not finish the closing handshake within `closeGraceMs` is cut off.
   */
  goodbye(code: number, reason: string): void {
    if (this.closed || this.closing) return;
    this.send(goodbyeMessage());
    this.closing = true;
    this.ws.close(code, reason);
    setTimeout(() => {
      if (!this.closed) this.ws.terminate();
    }, closeGraceMs).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** @internal A frame from the socket. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed || this.closing) return;
    this.lastSeen = Date.now();
    if (!this.#allow()) return;
    if (isBinary) return this.error('bad_message', 'frames must be JSON text');
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      return this.error('bad_message', 'the frame is not valid JSON');
    }
    const parsed = clientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const id =
        typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : undefined;
      const issue = parsed.error.issues[0];
      const where =
        issue?.code === 'unrecognized_keys'
          ? `unknown field ${issue.keys.join(', ')}`
          : `${issue?.path.join('.') || 'message'}: ${issue?.message}`;
      return this.error('bad_message', where, id);
    }
    try {
      this.handler.dispatch(this, parsed.data);
    } catch (err) {
      this.log.error({ err, conn: this.id }, 'signaling message failed');
      this.error('server_error', 'the server could not handle this message', parsed.data.id);
    }
  }

  /** A token bucket of `messageRate` a second: when empty, the socket is paused until it refills. */
  #allow(): boolean {
    const now = Date.now();
    const rate = this.limits.messageRate;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      if (this.#tokens >= rate / 2) this.#floodingSince = undefined;
      return true;
    }
    this.#floodingSince ??= now;
    if (now - this.#floodingSince > this.limits.floodGraceSeconds * 1000) {
      this.log.warn(
        { conn: this.id, user: this.userId },
        'signaling client kept flooding; closing',
      );
      this.goodbye(rtmCloseCodes.policyViolation, 'too many messages');
      return false;
    }
    this.ws.pause();
    setTimeout(
      () => {
        if (!this.closing) this.ws.resume();
      },
      Math.ceil(1000 / rate),
    ).unref();
    if (now - this.#warnedAt >= 1000) {
      this.#warnedAt = now;
      this.error('rate_limited', 'too many messages: slow down');
    }
    return false;
  }

  /** @internal The socket closed. */
  socketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.closed(this);
  }

  /** @internal The socket failed; its close follows. */
  socketError(err: Error): void {
    this.log.debug({ err, conn: this.id }, 'signaling socket error');
  }
}
