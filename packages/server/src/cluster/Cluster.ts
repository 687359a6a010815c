import { randomBytes, randomInt } from 'node:crypto';
import {
  type ClientMessage,
  errorMessage,
  isGroupId,
  type RtmErrorCode,
  type ServerMessage,
} from '@confab/protocol';
import type { Logger } from '../logging/index.js';
import type {
  RelayKind,
  SessionInfo,
  Signaling,
  SignalingRouter,
  SignalingSession,
} from '../signaling/index.js';
import { Bus } from './Bus.js';
import { ClusterSignalingState, type PresenceMessage } from './ClusterSignalingState.js';
import { ConferenceLeases } from './ConferenceLeases.js';
import { type NodeInfo, NodeRegistry } from './NodeRegistry.js';
import type { RedisLink } from './redis.js';

/** A message of a connection on one node, handed to the node that runs what it is about. */
interface Relay {
  t: 'r';
  c: string;
  s: SessionInfo;
  k: RelayKind;
  m: ClientMessage;
  /** How many nodes handed it on: a stale owner hands it to the real one, once or twice. */
  h: number;
  /** The node the connection is on (a stale owner that hands it on is not). */
  n: string;
}

type ClusterMessage = PresenceMessage | Relay;

/** The most times one message is handed on between nodes before it is refused. */
const maxHops = 3;
const tagAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Characters of a call channel's id that name the node running it. */
const tagLength = 4;

/**
 * A connection on another node as this node's calls and conferences see it: what they send it
 * goes to its node, which writes it to the socket.
 */
class RemoteSession implements SignalingSession {
  closed = false;
  readonly revoked = false;

  constructor(
    readonly id: string,
    readonly node: string,
    readonly session: SessionInfo,
    private readonly cluster: Cluster,
  ) {}

  get userId(): string {
    return this.session.userId;
  }

  get name(): string {
    return this.session.name;
  }

  get guestPath(): string | undefined {
    return this.session.guest?.path;
  }

  send(message: ServerMessage): void {
    if (!this.closed) this.cluster.sendTo(this.node, { t: 'd', c: this.id, m: message });
  }

  error(code: RtmErrorCode, msg: string, replyTo?: number): void {
    this.send(errorMessage(code, msg, replyTo));
  }
}

export interface ClusterOptions {
  link: RedisLink;
  /** `node_id`, or undefined for a generated one. */
  nodeId: string | undefined;
  logger: Logger;
}

/**
 * This node's part in a deployment of several (docs/deployment.md "Several nodes"): it
 * registers itself with a heartbeat, keeps the shared signaling state (presence, one-time keys),
 * talks to the other nodes over the bus, and routes: a call runs on the node that made it, a
 * conference on the node that holds its lease; the other nodes relay their members' messages to
 * it, and what it sends back goes to the members' nodes.
 */
export class Cluster implements SignalingRouter {
  readonly nodeId: string;
  readonly channelTag: string;
  readonly state: ClusterSignalingState;
  readonly registry: NodeRegistry;
  readonly bus: Bus;
  readonly leases: ConferenceLeases;
  readonly #log: Logger;
  readonly #remote = new Map<string, RemoteSession>();
  /** Messages of a connection held behind a question to Redis about where they go. */
  readonly #waiting = new Map<string, (() => void)[]>();
  #signaling: Signaling | undefined;
  #running: (group: string) => boolean = () => false;
  relayed = 0;
  readonly link: RedisLink;

  constructor(opts: ClusterOptions) {
    this.link = opts.link;
    this.nodeId = opts.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
    this.#log = opts.logger.child({ module: 'cluster', node: this.nodeId });
    let tag = '';
    for (let i = 0; i < tagLength; i++) tag += tagAlphabet[randomInt(tagAlphabet.length)];
    this.channelTag = tag;
    const self: NodeInfo = { id: this.nodeId, startedAt: Date.now(), tag };
    this.bus = new Bus({
      nodeId: this.nodeId,
      link: opts.link,
      logger: opts.logger,
      onMessage: (from, m) => this.#receive(from, m as ClusterMessage),
      onLost: (from) => {
        this.state
          .reload(from)
          .catch((err: Error) =>
            this.#log.warn({ from, err: err.message }, 'cluster: presence not read again'),
          );
      },
    });
    this.state = new ClusterSignalingState({
      nodeId: this.nodeId,
      link: opts.link,
      logger: opts.logger,
      send: (node, m) => this.bus.send(node, m),
      others: () => this.registry.others().map((n) => n.id),
    });
    this.registry = new NodeRegistry({
      self,
      link: opts.link,
      logger: opts.logger,
      onJoined: (node) => this.state.joined(node.id),
      onLeft: (node) => {
        this.state.left(node.id);
        this.bus.forget(node.id);
        for (const [id, rs] of this.#remote) {
          if (rs.node !== node.id) continue;
          rs.closed = true;
          this.#remote.delete(id);
          this.#signaling?.remoteClosed(rs);
        }
      },
    });
    this.leases = new ConferenceLeases({
      nodeId: this.nodeId,
      link: opts.link,
      logger: opts.logger,
      running: (group) => this.#running(group),
      live: (node) => node === this.nodeId || this.registry.get(node) !== undefined,
      // Taken over meanwhile (this node stalled, or Redis restarted empty): issue 28 makes the
      // conference step down; until then it goes on here and the log says so.
      onLost: (group) =>
        this.#log.error({ group }, 'cluster: the lease of a conference this node runs was lost'),
    });
    this.state.onRemoteClosed((ref) => {
      const rs = this.#remote.get(ref.id);
      if (!rs) return;
      rs.closed = true;
      this.#remote.delete(ref.id);
      this.#signaling?.remoteClosed(rs);
    });
  }

  /**
   * Signaling (for relayed messages) and whether this node runs a conference (a lease without
   * one is given up): given once both exist, before `start`.
   */
  attach(signaling: Signaling, running: (group: string) => boolean): void {
    this.#signaling = signaling;
    this.#running = running;
  }

  async start(): Promise<void> {
    await this.state.start();
    await this.bus.start();
    await this.registry.start();
    this.#log.info(
      { nodes: this.registry.others().length + 1 },
      'cluster: this node joined the deployment',
    );
  }

  async stop(): Promise<void> {
    this.leases.close();
    await this.leases.releaseAll();
    await this.registry.stop();
    this.bus.close();
  }

  /** @internal A message to a live node (one that left gets nothing: it is forgotten). */
  sendTo(node: string, message: ClusterMessage): void {
    if (this.registry.get(node)) this.bus.send(node, message);
  }

  callNode(channel: string): string | undefined {
    const node = this.registry.byTag(channel.slice(1, 1 + tagLength));
    return node && node.id !== this.nodeId ? node.id : undefined;
  }

  relay(node: string, conn: SignalingSession, kind: RelayKind, message: ClientMessage): void {
    this.#relay(node, conn, kind, message, 0);
  }

  #relay(
    node: string,
    conn: SignalingSession,
    kind: RelayKind,
    message: ClientMessage,
    hops: number,
  ): void {
    this.relayed++;
    const origin = conn instanceof RemoteSession ? conn.node : this.nodeId;
    this.sendTo(node, {
      t: 'r',
      c: conn.id,
      s: conn.session,
      k: kind,
      m: message,
      h: hops,
      n: origin,
    });
  }

  /**
   * Runs `local` if this node runs the conference of `group` (taking its lease if nobody
   * holds it), or relays the message to the node that does. A connection's messages keep their
   * order while the owner is asked for.
   */
  group(
    conn: SignalingSession,
    group: string,
    kind: RelayKind,
    message: ClientMessage,
    local: () => void,
    hops = 0,
  ): void {
    const waiting = this.#waiting.get(conn.id);
    if (waiting) {
      waiting.push(() => this.group(conn, group, kind, message, local, hops));
      return;
    }
    // A name the focus refuses anyway takes no lease.
    if (!isGroupId(group)) return local();
    const owner = this.leases.cached(group);
    if (owner) return this.#route(owner.node, conn, kind, message, local, hops);
    // Only a join may start a conference (and take its lease); anything else about a room
    // nobody runs is answered here, as one node would (not in the conference).
    const create = message.type === 'webrtc' && message.subtype === 'webrtc_group';
    const queue: (() => void)[] = [];
    this.#waiting.set(conn.id, queue);
    const safely = (run: () => void) => {
      // Closed meanwhile: what it sent is dropped (a join would seat a connection that is gone).
      if (conn.closed) return;
      try {
        run();
      } catch (err) {
        this.#log.error({ err, conn: conn.id }, 'cluster: a routed message failed');
        conn.error('server_error', 'the server could not handle this message', message.id);
      }
    };
    this.leases
      .ownerOf(group, create)
      .then(
        (o) => safely(() => this.#route(o?.node ?? this.nodeId, conn, kind, message, local, hops)),
        (err: Error) => {
          this.#log.warn({ group, err: err.message }, 'cluster: no owner found');
          safely(() =>
            conn.error('unavailable', 'the meeting cannot be reached just now', message.id),
          );
        },
      )
      .finally(() => {
        this.#waiting.delete(conn.id);
        for (const next of queue) safely(next);
      });
  }

  #route(
    node: string,
    conn: SignalingSession,
    kind: RelayKind,
    message: ClientMessage,
    local: () => void,
    hops: number,
  ): void {
    if (node === this.nodeId) return local();
    if (hops >= maxHops) {
      conn.error('unavailable', 'the meeting cannot be reached just now', message.id);
      return;
    }
    this.#relay(node, conn, kind, message, hops + 1);
  }

  #receive(from: string, msg: ClusterMessage): void {
    if (msg.t !== 'r') return this.state.receive(from, msg);
    const signaling = this.#signaling;
    if (!signaling) return;
    const origin = typeof msg.n === 'string' ? msg.n : from;
    // A connection this node's copy of presence does not have (its node joined a moment ago):
    // learnt from the relay, so that its close reaches the calls and conferences here too.
    if (!this.state.remote(msg.c)) this.state.learn(origin, msg.c, msg.s);
    let rs = this.#remote.get(msg.c);
    if (!rs) {
      rs = new RemoteSession(msg.c, origin, msg.s, this);
      this.#remote.set(msg.c, rs);
    }
    const session = rs;
    const run = () => signaling.remoteDispatch(session, msg.k, msg.m);
    const group =
      msg.m.type === 'chats'
        ? msg.m.channel.startsWith('@')
          ? msg.m.channel.slice(1)
          : undefined
        : msg.k === 'focus' && msg.m.type === 'webrtc'
          ? msg.m.group || msg.m.target
          : undefined;
    // Sent here as the owner: if this node no longer is, the message goes on to the one that is.
    if (group !== undefined && !this.leases.holds(group))
      this.group(session, group, msg.k, msg.m, run, msg.h);
    else run();
  }
}
