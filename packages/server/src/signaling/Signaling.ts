import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type ChatsClientMessage,
  type ClientMessage,
  helloMessage,
  pongMessage,
  type RtmConnectResponse,
  rtmCloseCodes,
  rtmConnectPath,
  rtmTurnPath,
  rtmWebsocketPath,
  type TurnCredentials,
  type WebrtcClientMessage,
} from '@confab/protocol';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WebSocketServer } from 'ws';
import { MemoryRateLimiter } from '../common/index.js';
import type { Settings } from '../config/index.js';
import type { UserStore } from '../directory/index.js';
import { refuseUpgrade, sendError } from '../gateway/index.js';
import { type GuestPolicy, type GuestStore, isGuestId } from '../guests/index.js';
import { type AccessToken, type TokenChecker, TokenError } from '../identity/index.js';
import type { Logger } from '../logging/index.js';
import { type AnsweredCalls, MemoryAnsweredCalls } from './AnsweredCalls.js';
import { Calls } from './Calls.js';
import { Connection, type ConnectionHandler } from './Connection.js';
import { PairHash } from './pairHash.js';
import { Refusal } from './Refusal.js';
import type { SignalingState } from './SignalingState.js';
import { turnCredentials } from './turn.js';

/** The scope an access token needs for signaling. */
export const signalingScope = 'kopano/kwm';
/** kwmserver's `connectExpiration`. */
export const connectKeyTtlMs = 30_000;

export interface SignalingOptions {
  settings: Settings;
  state: SignalingState;
  tokenChecker: () => TokenChecker;
  store: UserStore;
  /** Guests' names, for guests that connect without their ID token. */
  guests?: Pick<GuestStore, 'find'>;
  /** Which rooms guests may take part in. */
  guestPolicy: Pick<GuestPolicy, 'roomOpen'>;
  pairHashKey: Buffer;
  /** The TURN REST secret, read from `turn_server_shared_secret`. */
  turnSecret: string | undefined;
  /** Group messages go to the focus. */
  focus?: GroupHandler;
  /** Ends sessions whose user was removed or whose sign-in was revoked. */
  audit?: SessionAudit;
  /** Answered calls, remembered across restarts: only those may be taken up again. */
  answeredCalls?: AnsweredCalls;
  logger: Logger;
}

/**
 * What tells signaling that a session's user or sign-in is gone (identity): asked every
 * `auditIntervalMs`, at once when the directory says another process changed it, and told of
 * every grant revoked here.
 */
export interface SessionAudit {
  /** For each session, why it may no longer go on, or undefined. */
  sessionsEnded(
    sessions: readonly { sub: string; grantId?: string | undefined }[],
  ): Promise<(string | undefined)[]>;
  watch?(onChange: () => void): () => void;
  onGrantRevoked?(listener: (grantId: string) => void): () => void;
}

/** How often every open session's user and grant are checked (a revoked grant ends within it). */
export const auditIntervalMs = 30_000;

/** Who takes group messages (the focus). */
export interface GroupHandler {
  handle(conn: Connection, msg: WebrtcClientMessage): void;
  /** A chat message in a group channel (`@group/<name>`); throws a `Refusal` when refused. */
  chat(conn: Connection, msg: ChatsClientMessage): void;
  connectionClosed(conn: Connection): void;
}

/**
 * kwmserver's RTM signaling: rtm/connect hands out a one-time WebSocket URL (and TURN
 * credentials), the socket carries kwm v2 messages, and one-to-one calls run through `Calls`.
 */
export class Signaling implements ConnectionHandler {
  readonly #log: Logger;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  readonly #calls: Calls;
  readonly #perUser: MemoryRateLimiter;
  readonly #perIp: MemoryRateLimiter;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #limits;
  readonly #auditTimer: NodeJS.Timeout | undefined;
  readonly #unwatch: (() => unknown)[] = [];
  #auditing: Promise<void> | undefined;
  #auditAgain = false;

  constructor(private readonly opts: SignalingOptions) {
    const s = opts.settings;
    this.#log = opts.logger.child({ module: 'signaling' });
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: s.rtm_max_message_size,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#calls = new Calls(
      opts.state,
      new PairHash(opts.pairHashKey),
      {
        callTimeoutMs: s.call_timeout * 1000,
        reconnectGraceMs: s.call_reconnect_grace * 1000,
        maxRingsPerTarget: s.max_rings_per_target,
      },
      opts.answeredCalls ?? new MemoryAnsweredCalls(),
      this.#log,
    );
    this.#perUser = new MemoryRateLimiter(s.rtm_connect_rate_limit_per_user, 60_000);
    this.#perIp = new MemoryRateLimiter(s.rtm_connect_rate_limit_per_ip, 60_000);
    this.#limits = { messageRate: s.rtm_message_rate, floodGraceSeconds: 5 };
    this.#heartbeat = setInterval(() => this.#reapSilent(), 1000);
    this.#heartbeat.unref();
    const audit = opts.audit;
    if (audit) {
      this.#auditTimer = setInterval(() => void this.audit(), auditIntervalMs);
      this.#auditTimer.unref();
      const unwatch = audit.watch?.(() => void this.audit());
      if (unwatch) this.#unwatch.push(unwatch);
      const unlisten = audit.onGrantRevoked?.((grantId) => this.#endGrant(grantId));
      if (unlisten) this.#unwatch.push(unlisten);
    }
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  register(app: FastifyInstance): void {
    app.register(async (scope) => {
      await scope.register(formbody, { bodyLimit: 16 * 1024 });
      scope.post(rtmConnectPath, (req, reply) => this.#connect(req, reply));
      scope.post(rtmTurnPath, (req, reply) => this.#turn(req, reply));
    });
  }

  /**
   * Stops calls' timers and says goodbye to every client, so that it may reconnect elsewhere:
   * the server's shutdown calls it before the HTTP server stops (main.ts `shutdownOrder`).
   */
  close(): void {
    clearInterval(this.#heartbeat);
    clearInterval(this.#auditTimer);
    for (const stop of this.#unwatch) stop();
    this.#calls.close();
    for (const c of this.#connections) c.goodbye(rtmCloseCodes.goingAway, 'server shutting down');
  }

  /** kwm answers 403 to any failed authentication at connect; kwmjs stops reconnecting on it. */
  async #authenticate(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<AccessToken | undefined> {
    try {
      return await this.opts
        .tokenChecker()
        .checkHeader(request.headers.authorization, signalingScope);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      await sendError(reply, err.code, err.message, 403);
      return undefined;
    }
  }

  #turnFor(userId: string): TurnCredentials | undefined {
    const { turn_uris: uris } = this.opts.settings;
    if (!this.opts.turnSecret || uris.length === 0) return undefined;
    return turnCredentials(this.opts.turnSecret, uris, userId, this.opts.settings.turn_ttl);
  }

  async #connect(request: FastifyRequest, reply: FastifyReply) {
    const token = await this.#authenticate(request, reply);
    if (!token) return reply;
    const limited = [
      this.#perUser.hit(`user:${token.sub}`),
      this.#perIp.hit(`ip:${request.ip}`),
    ].find((d) => !d.allowed);
    if (limited) {
      reply.header('retry-after', String(limited.retryAfter));
      return sendError(reply, 'rate_limited', 'too many rtm/connect requests');
    }
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body))
      return sendError(reply, 'bad_request', 'expected form fields');
    let name: string | undefined;
    if (body.id_token !== undefined) {
      if (typeof body.id_token !== 'string')
        return sendError(reply, 'bad_request', 'id_token must be a string');
      try {
        name = (
          await this.opts.tokenChecker().checkIdToken(body.id_token, token.sub, token.clientId)
        ).name;
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
        return sendError(reply, 'invalid_token', err.message, 403);
      }
    }
    if (body.user !== undefined && body.user !== token.sub)
      return sendError(reply, 'forbidden', 'user does not match the access token', 403);
    const tooMany = this.#tooManyConnections(token.sub);
    if (tooMany) {
      reply.header('retry-after', '5');
      return sendError(reply, 'too_many_connections', tooMany);
    }
    const guestPath = guestPathOf(token);
    name ??=
      guestPath !== undefined
        ? (await this.opts.guests?.find(token.sub).catch(() => undefined))?.name
        : (await this.opts.store.findById(token.sub).catch(() => undefined))?.displayName;
    name ??= token.sub;

    const self = { id: token.sub, name, auth: '' };
    const key = randomBytes(24).toString('base64url');
    this.opts.state.putConnectKey(
      key,
      {
        userId: self.id,
        name: self.name,
        auth: self.auth,
        ...(guestPath !== undefined ? { guest: { path: guestPath } } : {}),
        ...(typeof token.claims.grant_id === 'string' ? { grantId: token.claims.grant_id } : {}),
      },
      connectKeyTtlMs,
    );
    const turn = this.#turnFor(self.id);
    const answer: RtmConnectResponse = {
      ok: true,
      url: `${rtmWebsocketPath}/${key}`,
      self,
      ...(turn ? { turn } : {}),
    };
    return reply.header('cache-control', 'no-store').send(answer);
  }

  async #turn(request: FastifyRequest, reply: FastifyReply) {
    const token = await this.#authenticate(request, reply);
    if (!token) return reply;
    const turn = this.#turnFor(token.sub);
    if (!turn) return sendError(reply, 'not_found', 'TURN is not configured on this server');
    return reply.header('cache-control', 'no-store').send({ ok: true, turn });
  }

  /**
   * A WebSocket upgrade for the RTM path; false for any other path. The key is used as it
   * stands in the path: keys are base64url, so nothing needs decoding (and a malformed escape
   * simply matches no key).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(`${rtmWebsocketPath}/`)) return false;
    const session = this.opts.state.takeConnectKey(path.slice(rtmWebsocketPath.length + 1));
    if (!session) {
      refuseUpgrade(socket, '403 Forbidden');
      return true;
    }
    // Keys fetched in a burst could open more sockets than rtm/connect would have allowed.
    if (this.#tooManyConnections(session.userId)) {
      refuseUpgrade(socket, '429 Too Many Requests');
      return true;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new Connection(ws, session, this.#limits, this.#log, this);
      this.#connections.add(conn);
      this.opts.state.addConnection(conn);
      this.#log.debug({ conn: conn.id, user: session.userId }, 'signaling connected');
      conn.send(helloMessage({ id: session.userId, name: session.name, auth: session.auth }));
    });
    return true;
  }

  /** @internal A valid message from a connection (ConnectionHandler). */
  dispatch(conn: Connection, message: ClientMessage): void {
    if (message.type === 'ping') {
      conn.send(pongMessage(message));
      return;
    }
    if (message.type === 'chats') return this.#chat(conn, message);
    const refusal = this.#guestRefusal(conn, message);
    if (refusal) return conn.error('access_restricted', refusal, message.id);
    if (this.opts.focus && (message.subtype === 'webrtc_group' || message.group !== ''))
      this.opts.focus.handle(conn, message);
    else this.#calls.handle(conn, message);
  }

  /**
   * A chat message (docs/protocol.md "Chat"): to the focus for a group channel, to the calls
   * for a call's; a guest chats in the room of its link only (as it signals there only). A
   * refusal is answered with its code.
   */
  #chat(conn: Connection, message: ChatsClientMessage): void {
    try {
      const path = conn.guestPath;
      if (path !== undefined && message.channel !== `@${path}`)
        throw new Refusal(
          'access_restricted',
          'a guest may only take part in the room of its link',
        );
      if (path !== undefined && !this.opts.guestPolicy.roomOpen(path))
        throw new Refusal('access_restricted', 'this room is no longer open to guests');
      if (message.channel.startsWith('@') && this.opts.focus) this.opts.focus.chat(conn, message);
      else this.#calls.chat(conn, message);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      conn.error(err.code, err.message, message.id);
    }
  }

  /**
   * kwm's group restriction: a guest sends only messages about the room of its link, while that
   * room is still open to guests; nobody rings a guest.
   */
  #guestRefusal(conn: Connection, message: WebrtcClientMessage): string | undefined {
    const path = conn.guestPath;
    if (path !== undefined) {
      if (message.group !== path) return 'a guest may only take part in the room of its link';
      if (!this.opts.guestPolicy.roomOpen(path)) return 'this room is no longer open to guests';
    } else if (
      message.subtype === 'webrtc_call' &&
      message.group === '' &&
      isGuestId(message.target)
    )
      // One-to-one only: kwmjs's calls inside a group (its mesh habit) go to the focus.
      return 'guests take part in their room only: they cannot be called';
    return undefined;
  }

  /** @internal A connection closed (ConnectionHandler). */
  closed(conn: Connection): void {
    this.#connections.delete(conn);
    this.opts.state.removeConnection(conn.id);
    this.#calls.connectionClosed(conn);
    this.opts.focus?.connectionClosed(conn);
    this.#log.debug({ conn: conn.id, user: conn.userId }, 'signaling disconnected');
  }

  /** Why this user may not open one more connection (`rtm_max_connections_per_user`). */
  #tooManyConnections(userId: string): string | undefined {
    const max = this.opts.settings.rtm_max_connections_per_user;
    if (this.opts.state.connectionsOf(userId).length < max) return undefined;
    return `a user may hold at most ${max} signaling connections at once`;
  }

  /**
   * Checks every open session's user and grant, and ends those that no longer stand: `goodbye`
   * and close code 4001, leaving their calls and conferences at once. One check runs at a time;
   * one asked for meanwhile runs after it.
   */
  audit(): Promise<void> {
    const audit = this.opts.audit;
    if (!audit) return Promise.resolve();
    if (this.#auditing) {
      this.#auditAgain = true;
      return this.#auditing;
    }
    const run = async () => {
      do {
        this.#auditAgain = false;
        const bySession = new Map<string, Connection[]>();
        for (const c of this.#connections) {
          if (c.closing || c.closed) continue;
          const key = `${c.userId}\n${c.session.grantId ?? ''}`;
          bySession.get(key)?.push(c) ?? bySession.set(key, [c]);
        }
        const groups = [...bySession.values()] as [Connection, ...Connection[]][];
        const reasons = await audit.sessionsEnded(
          groups.map(([c]) => ({ sub: c.userId, grantId: c.session.grantId })),
        );
        groups.forEach((conns, i) => {
          const why = reasons[i];
          if (why) this.#end(conns, why);
        });
      } while (this.#auditAgain);
    };
    this.#auditing = run()
      .catch((err: unknown) => this.#log.error({ err }, 'checking open sessions failed'))
      .finally(() => {
        this.#auditing = undefined;
      });
    return this.#auditing;
  }

  /** A grant revoked here (sign-out, token revocation): its sessions end now. */
  #endGrant(grantId: string): void {
    const conns = [...this.#connections].filter((c) => c.session.grantId === grantId);
    if (conns.length) this.#end(conns, 'the sign-in was revoked');
  }

  #end(conns: Connection[], why: string): void {
    this.#log.info(
      { user: conns[0]?.userId, connections: conns.length, why },
      'ending signaling sessions',
    );
    for (const c of conns) {
      c.revoked = true;
      c.goodbye(rtmCloseCodes.revoked, why);
    }
  }

  /** Closes sockets that sent nothing (not even a ping) for `rtm_heartbeat_timeout`. */
  #reapSilent(): void {
    const deadline = Date.now() - this.opts.settings.rtm_heartbeat_timeout * 1000;
    for (const c of this.#connections) {
      if (c.lastSeen < deadline) c.goodbye(rtmCloseCodes.heartbeatTimeout, 'no heartbeat');
    }
  }
}

/** The room path of a guest's access token (its `guest` claim), or undefined for users. */
function guestPathOf(token: AccessToken): string | undefined {
  const guest = token.claims.guest as { path?: unknown } | undefined;
  return typeof guest?.path === 'string' ? guest.path : undefined;
}
