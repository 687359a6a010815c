import type { ServerMessage } from '@confab/protocol';
import type {
  CallChannel,
  ConnectionRef,
  LocalConnection,
  SessionInfo,
  SignalingState,
} from './SignalingState.js';

/** SignalingState for a single process. */
export class MemorySignalingState implements SignalingState {
  readonly #keys = new Map<string, { info: SessionInfo; expiresAt: number }>();
  readonly #connections = new Map<string, LocalConnection>();
  readonly #byUser = new Map<string, Set<string>>();
  readonly #channels = new Map<string, CallChannel>();
  /** Channel ids by the connections in them, so a disconnect does not scan every call. */
  readonly #channelsByConn = new Map<string, Set<string>>();
  /** Ringing channel ids by callee. */
  readonly #ringing = new Map<string, Set<string>>();
  #prunedAt = 0;
  /** Recently ended channels, until when they are remembered. */
  readonly #ended = new Map<string, number>();
  #endedPrunedAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  putConnectKey(key: string, info: SessionInfo, ttlMs: number): void {
    const now = this.now();
    // Expired keys are dropped as new ones come (at most once a second), so unused keys
    // cannot pile up.
    if (now - this.#prunedAt >= 1000) {
      this.#prunedAt = now;
      for (const [k, v] of this.#keys) if (v.expiresAt <= now) this.#keys.delete(k);
    }
    this.#keys.set(key, { info, expiresAt: now + ttlMs });
  }

  takeConnectKey(key: string): SessionInfo | undefined {
    const entry = this.#keys.get(key);
    this.#keys.delete(key);
    return entry && entry.expiresAt > this.now() ? entry.info : undefined;
  }

  addConnection(conn: LocalConnection): void {
    this.#connections.set(conn.id, conn);
    let set = this.#byUser.get(conn.userId);
    if (!set) {
      set = new Set();
      this.#byUser.set(conn.userId, set);
    }
    set.add(conn.id);
  }

  removeConnection(connId: string): void {
    const conn = this.#connections.get(connId);
    if (!conn) return;
    this.#connections.delete(connId);
    const set = this.#byUser.get(conn.userId);
    set?.delete(connId);
    if (set?.size === 0) this.#byUser.delete(conn.userId);
  }

  connectionsOf(userId: string): ConnectionRef[] {
    return [...(this.#byUser.get(userId) ?? [])]
      .map((id) => this.#connections.get(id))
      .filter((c): c is LocalConnection => c !== undefined);
  }

  deliver(connId: string, message: ServerMessage): boolean {
    const conn = this.#connections.get(connId);
    if (!conn) return false;
    conn.send(message);
    return true;
  }

  /** Whether the connection is one of this process's. */
  has(connId: string): boolean {
    return this.#connections.has(connId);
  }

  /** Every connection of this process. */
  all(): LocalConnection[] {
    return [...this.#connections.values()];
  }

  connectionCount(): number {
    return this.#connections.size;
  }

  putChannel(channel: CallChannel): void {
    const old = this.#channels.get(channel.id);
    if (old) this.#unindex(old);
    this.#channels.set(channel.id, channel);
    if (channel.status === 'ringing') {
      let set = this.#ringing.get(channel.callee);
      if (!set) {
        set = new Set();
        this.#ringing.set(channel.callee, set);
      }
      set.add(channel.id);
    }
    for (const conn of [channel.callerConn, channel.calleeConn]) {
      if (!conn) continue;
      let set = this.#channelsByConn.get(conn);
      if (!set) {
        set = new Set();
        this.#channelsByConn.set(conn, set);
      }
      set.add(channel.id);
    }
  }

  getChannel(id: string): CallChannel | undefined {
    return this.#channels.get(id);
  }

  deleteChannel(id: string, endedTtlMs = 0): void {
    const channel = this.#channels.get(id);
    if (channel) {
      this.#unindex(channel);
      this.#channels.delete(id);
    }
    if (endedTtlMs <= 0) return;
    const now = this.now();
    if (now - this.#endedPrunedAt >= 1000) {
      this.#endedPrunedAt = now;
      for (const [k, until] of this.#ended) if (until <= now) this.#ended.delete(k);
    }
    this.#ended.set(id, now + endedTtlMs);
  }

  channelEnded(id: string): boolean {
    return (this.#ended.get(id) ?? 0) > this.now();
  }

  #unindex(channel: CallChannel): void {
    const ringing = this.#ringing.get(channel.callee);
    if (ringing?.delete(channel.id) && ringing.size === 0) this.#ringing.delete(channel.callee);
    for (const conn of [channel.callerConn, channel.calleeConn]) {
      const set = conn ? this.#channelsByConn.get(conn) : undefined;
      set?.delete(channel.id);
      if (conn && set?.size === 0) this.#channelsByConn.delete(conn);
    }
  }

  ringingCallers(userId: string): string[] {
    return [...(this.#ringing.get(userId) ?? [])].flatMap((id) => {
      const caller = this.#channels.get(id)?.caller;
      return caller ? [caller] : [];
    });
  }

  channelsOfConnection(connId: string): CallChannel[] {
    return [...(this.#channelsByConn.get(connId) ?? [])]
      .map((id) => this.#channels.get(id))
      .filter((c): c is CallChannel => c !== undefined);
  }
}
