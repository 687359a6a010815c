import type { ServerMessage } from '@confab/protocol';
import type { Logger } from '../logging/index.js';
import {
  type CallChannel,
  type ConnectionRef,
  type LocalConnection,
  MemorySignalingState,
  type SessionInfo,
  type SignalingState,
} from '../signaling/index.js';
import type { RedisLink } from './redis.js';

/** A connection on another node, as this node knows it. */
export interface RemoteRef extends ConnectionRef {
  readonly node: string;
  readonly session: SessionInfo;
}

/** What the state sends other nodes (through the cluster's bus). */
export type PresenceMessage =
  | { t: 'c+'; c: string; s: SessionInfo }
  | { t: 'c-'; c: string }
  | { t: 'snap'; conns: [string, SessionInfo][] }
  | { t: 'd'; c: string; m: ServerMessage };

export interface ClusterStateOptions {
  nodeId: string;
  link: RedisLink;
  logger: Logger;
  /** Sends a message to another node (the bus). */
  send(node: string, message: PresenceMessage): void;
  /** The other live nodes now. */
  others(): string[];
}

/**
 * SignalingState for several nodes. Connections of this node are kept as one node keeps them;
 * every node also keeps a copy of who is connected on the others, so that `connectionsOf` (a
 * call ringing every device of its callee) stays a lookup: each node tells the others of every
 * connection that opens or closes, and sends a node that joins all of its own. The truth is in
 * Redis too (`presence:<node>`, a hash of connection id to session), read again when messages
 * from a node were lost. One-time connect keys are in Redis, taken with GETDEL, so that
 * rtm/connect and the WebSocket may reach different nodes.
 *
 * Call channels stay with the node that made them: their ids carry its routing tag, and the
 * other nodes relay their members' messages to it (Signaling's router).
 */
export class ClusterSignalingState implements SignalingState {
  readonly #local: MemorySignalingState;
  readonly #remote = new Map<string, RemoteRef>();
  readonly #remoteByUser = new Map<string, Set<string>>();
  readonly #byNode = new Map<string, Set<string>>();
  readonly #closedListeners: ((ref: RemoteRef) => void)[] = [];
  readonly #log: Logger;
  readonly #presenceKey: string;

  constructor(private readonly opts: ClusterStateOptions) {
    this.#local = new MemorySignalingState();
    this.#log = opts.logger.child({ module: 'presence' });
    this.#presenceKey = this.#presenceOf(opts.nodeId);
  }

  #presenceOf(node: string): string {
    return `${this.opts.link.prefix}presence:${node}`;
  }

  #connectKey(key: string): string {
    return `${this.opts.link.prefix}connect:${key}`;
  }

  /** Clears what an earlier run of this node left in Redis. */
  async start(): Promise<void> {
    await this.opts.link.cmd.del(this.#presenceKey);
  }

  /** A connection on another node closed (or its node left): calls and conferences here let it go. */
  onRemoteClosed(listener: (ref: RemoteRef) => void): void {
    this.#closedListeners.push(listener);
  }

  async putConnectKey(key: string, info: SessionInfo, ttlMs: number): Promise<void> {
    await this.opts.link.cmd.set(this.#connectKey(key), JSON.stringify(info), { PX: ttlMs });
  }

  async takeConnectKey(key: string): Promise<SessionInfo | undefined> {
    const raw = await this.opts.link.cmd.getDel(this.#connectKey(key));
    return raw ? (JSON.parse(raw) as SessionInfo) : undefined;
  }

  addConnection(conn: LocalConnection): void {
    this.#local.addConnection(conn);
    const session = conn.session ?? { userId: conn.userId, name: conn.userId, auth: '' };
    this.opts.link.cmd
      .hSet(this.#presenceKey, conn.id, JSON.stringify(session))
      .catch((err: Error) => this.#log.warn({ err: err.message }, 'presence: not written'));
    for (const node of this.opts.others())
      this.opts.send(node, { t: 'c+', c: conn.id, s: session });
  }

  removeConnection(connId: string): void {
    if (!this.#local.has(connId)) return;
    this.#local.removeConnection(connId);
    this.opts.link.cmd
      .hDel(this.#presenceKey, connId)
      .catch((err: Error) => this.#log.warn({ err: err.message }, 'presence: not removed'));
    for (const node of this.opts.others()) this.opts.send(node, { t: 'c-', c: connId });
  }

  connectionsOf(userId: string): ConnectionRef[] {
    const local = this.#local.connectionsOf(userId);
    const remote = this.#remoteByUser.get(userId);
    if (!remote) return local;
    return [...local, ...[...remote].map((id) => this.#remote.get(id) as RemoteRef)];
  }

  /** The connection, if it is on another node. */
  remote(connId: string): RemoteRef | undefined {
    return this.#remote.get(connId);
  }

  deliver(connId: string, message: ServerMessage): boolean {
    if (this.#local.deliver(connId, message)) return true;
    const ref = this.#remote.get(connId);
    if (!ref) return false;
    this.opts.send(ref.node, { t: 'd', c: connId, m: message });
    return true;
  }

  connectionCount(): number {
    return this.#local.connectionCount();
  }

  putChannel(channel: CallChannel): void {
    this.#local.putChannel(channel);
  }

  getChannel(id: string): CallChannel | undefined {
    return this.#local.getChannel(id);
  }

  deleteChannel(id: string, endedTtlMs?: number): void {
    this.#local.deleteChannel(id, endedTtlMs);
  }

  channelEnded(id: string): boolean {
    return this.#local.channelEnded(id);
  }

  channelsOfConnection(connId: string): CallChannel[] {
    return this.#local.channelsOfConnection(connId);
  }

  ringingCallers(userId: string): string[] {
    return this.#local.ringingCallers(userId);
  }

  /** A message another node's state sent this one. */
  receive(from: string, msg: PresenceMessage): void {
    switch (msg.t) {
      case 'c+':
        return this.#add(from, msg.c, msg.s);
      case 'c-':
        return this.#remove(msg.c);
      case 'snap':
        return this.#replace(from, msg.conns);
      case 'd':
        this.#local.deliver(msg.c, msg.m);
        return;
    }
  }

  /** A node joined: it gets every connection of this one, in order before what follows. */
  joined(node: string): void {
    const conns = this.#local
      .all()
      .map((c): [string, SessionInfo] => [
        c.id,
        c.session ?? { userId: c.userId, name: c.userId, auth: '' },
      ]);
    this.opts.send(node, { t: 'snap', conns });
  }

  /** A node left: its connections are gone. */
  left(node: string): void {
    this.#replace(node, []);
  }

  /** Messages from `node` were lost: its connections are read again from Redis. */
  async reload(node: string): Promise<void> {
    const all = await this.opts.link.cmd.hGetAll(this.#presenceOf(node));
    this.#replace(
      node,
      Object.entries(all).map(([id, raw]) => [id, JSON.parse(raw) as SessionInfo]),
    );
  }

  /** A connection of `node` learnt another way than its node's word (a relayed message). */
  learn(node: string, connId: string, session: SessionInfo): void {
    this.#add(node, connId, session);
  }

  #add(node: string, connId: string, session: SessionInfo): void {
    if (this.#remote.has(connId)) return;
    const ref: RemoteRef = { id: connId, userId: session.userId, node, session };
    this.#remote.set(connId, ref);
    addTo(this.#remoteByUser, ref.userId, connId);
    addTo(this.#byNode, node, connId);
  }

  #remove(connId: string): void {
    const ref = this.#remote.get(connId);
    if (!ref) return;
    this.#remote.delete(connId);
    const byUser = this.#remoteByUser.get(ref.userId);
    byUser?.delete(connId);
    if (byUser?.size === 0) this.#remoteByUser.delete(ref.userId);
    const byNode = this.#byNode.get(ref.node);
    byNode?.delete(connId);
    if (byNode?.size === 0) this.#byNode.delete(ref.node);
    for (const l of this.#closedListeners) {
      try {
        l(ref);
      } catch (err) {
        this.#log.error({ err }, 'presence: a listener failed');
      }
    }
  }

  #replace(node: string, conns: [string, SessionInfo][]): void {
    const keep = new Set(conns.map(([id]) => id));
    for (const id of [...(this.#byNode.get(node) ?? [])]) if (!keep.has(id)) this.#remove(id);
    for (const [id, session] of conns) this.#add(node, id, session);
  }
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}
