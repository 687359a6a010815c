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
import { Connection, type ConnectionHandler, type SignalingSession } from './Connection.js';
import { PairHash } from './pairHash.js';
import { Refusal } from './Refusal.js';
import type { SessionInfo, SignalingState } from './SignalingState.js';
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
  /** Where calls and conferences run when several nodes share the work (cluster/). */
  router?: SignalingRouter;
  logger: Logger;
}

/** What a relayed message is for: a call, a conference, or a chat in either. */
export type RelayKind = 'calls' | 'focus' | 'chat';

/**
 * Several nodes: a call runs on the node that made it (its channel id carries that node's tag),
 * and the other nodes hand their members' messages to it; what it sends back reaches them
 * through the signaling state.
 */
export interface SignalingRouter {
  /** Channel ids of calls made here carry this after the `*`. */
  readonly channelTag: string;
  /** The node that runs the call of `channel`, when that is another live node. */
  callNode(channel: string): string | undefined;
  /** Hands a message of this node's connection to `node`, which runs what it is about. */
  relay(node: string, conn: SignalingSession, kind: RelayKind, message: ClientMessage): void;
  /**
   * Runs `local` if this node runs the conference of `group`, or relays the message to the node
   * that does; a connection's messages keep their order.
   */
  group(
    conn: SignalingSession,
    group: string,
    kind: RelayKind,
    message: ClientMessage,
    local: () => void,
  ): void;
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
  handle(conn: SignalingSession, msg: WebrtcClientMessage): void;
  /** A chat message in a group channel (`@group/<name>`); throws a `Refusal` when refused. */
  chat(conn: SignalingSession, msg: ChatsClientMessage): void;
  connectionClosed(conn: SignalingSession): void;
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
        channelTag: opts.router?.channelTag ?? '',
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
    try {
      await this.opts.state.putConnectKey(
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
    } catch (err) {
      // Several nodes: the key lives in Redis, which is away.
      this.#log.warn({ err: (err as Error).message }, 'rtm/connect: the key was not stored');
      reply.header('retry-after', '5');
      return sendError(
        reply,
        'unavailable',
        'signaling is not available just now; try again shortly',
      );
    }
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
    this.#upgrade(req, socket, head, path.slice(rtmWebsocketPath.length + 1)).catch(
      (err: unknown) => {
        // Out of the upgrade listener's reach once it waited: nothing may escape from here.
        this.#log.error({ err }, 'rtm: the upgrade failed');
        socket.destroy();
      },
    );
    return true;
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, key: string): Promise<void> {
    let session: SessionInfo | undefined;
    try {
      session = await this.opts.state.takeConnectKey(key);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'rtm: the key could not be read');
      refuseUpgrade(socket, '503 Service Unavailable');
      return;
    }
    if (socket.destroyed) return;
    if (!session) {
      refuseUpgrade(socket, '403 Forbidden');
      return;
    }
    // Keys fetched in a burst could open more sockets than rtm/connect would have allowed.
    if (this.#tooManyConnections(session.userId)) {
      refuseUpgrade(socket, '429 Too Many Requests');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new Connection(ws, session, this.#limits, this.#log, this);
      this.#connections.add(conn);
      this.opts.state.addConnection(conn);
      this.#log.debug({ conn: conn.id, user: session.userId }, 'signaling connected');
      conn.send(helloMessage({ id: session.userId, name: session.name, auth: session.auth }));
    });
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
    const focus = this.opts.focus;
    if (focus && (message.subtype === 'webrtc_group' || message.group !== '')) {
      const router = this.opts.router;
      if (router)
        router.group(conn, message.group || message.target, 'focus', message, () =>
          focus.handle(conn, message),
        );
      else focus.handle(conn, message);
    } else {
      const node = message.channel ? this.opts.router?.callNode(message.channel) : undefined;
      if (node) this.opts.router?.relay(node, conn, 'calls', message);
      else this.#calls.handle(conn, message);
    }
  }

  /**
   * A message of a connection on another node, relayed here because this node runs what it is
   * about; checked there as every message is (schema, rate, guest restrictions).
   */
  remoteDispatch(session: SignalingSession, kind: RelayKind, message: ClientMessage): void {
    try {
      if (kind === 'chat' && message.type === 'chats') {
        if (message.channel.startsWith('@') && this.opts.focus)
          this.opts.focus.chat(session, message);
        else this.#calls.chat(session, message);
      } else if (message.type === 'webrtc') {
        if (kind === 'focus') this.opts.focus?.handle(session, message);
        else this.#calls.handle(session, message);
      }
    } catch (err) {
      if (err instanceof Refusal) return session.error(err.code, err.message, message.id);
      this.#log.error({ err, conn: session.id }, 'relayed signaling message failed');
      session.error('server_error', 'the server could not handle this message', message.id);
    }
  }

  /** A connection on another node closed: its calls and conferences here let it go. */
  remoteClosed(session: SignalingSession): void {
    this.#calls.connectionClosed(session);
    this.opts.focus?.connectionClosed(session);
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
      const focus = this.opts.focus;
      const router = this.opts.router;
      if (message.channel.startsWith('@') && focus) {
        // A refusal there comes back as an error message, not as this throw.
        if (router)
          router.group(conn, message.channel.slice(1), 'chat', message, () =>
            this.remoteDispatch(conn, 'chat', message),
          );
        else focus.chat(conn, message);
      } else {
        const node = this.opts.router?.callNode(message.channel);
        if (node) this.opts.router?.relay(node, conn, 'chat', message);
        else this.#calls.chat(conn, message);
      }
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
