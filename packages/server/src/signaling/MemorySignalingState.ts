import type { ServerMessage } from '@confab/protocol';
import type { CallChannel, ConnectionRef, SessionInfo, SignalingState } from './SignalingState.js';

/** SignalingState for a single process. */
export class MemorySignalingState implements SignalingState {
  readonly #keys = new Map<string, { info: SessionInfo; expiresAt: number }>();
  readonly #connections = new Map<
    string,
    { ref: ConnectionRef; deliver: (m: ServerMessage) => void }
  >();
  readonly #byUser = new Map<string, Set<string>>();
  readonly #channels = new Map<string, CallChannel>();

  constructor(private readonly now: () => number = Date.now) {}

  putConnectKey(key: string, info: SessionInfo, ttlMs: number): void {
    const now = this.now();
    // Expired keys are dropped as new ones come, so unused keys cannot pile up.
    for (const [k, v] of this.#keys) if (v.expiresAt <= now) this.#keys.delete(k);
    this.#keys.set(key, { info, expiresAt: now + ttlMs });
  }

  takeConnectKey(key: string): SessionInfo | undefined {
    const entry = this.#keys.get(key);
    this.#keys.delete(key);
    return entry && entry.expiresAt > this.now() ? entry.info : undefined;
  }

  addConnection(ref: ConnectionRef, deliver: (message: ServerMessage) => void): void {
    this.#connections.set(ref.id, { ref, deliver });
    let set = this.#byUser.get(ref.userId);
    if (!set) this.#byUser.set(ref.userId, (set = new Set()));
    set.add(ref.id);
  }

  removeConnection(connId: string): void {
    const entry = this.#connections.get(connId);
    if (!entry) return;
    this.#connections.delete(connId);
    const set = this.#byUser.get(entry.ref.userId);
    set?.delete(connId);
    if (set?.size === 0) this.#byUser.delete(entry.ref.userId);
  }

  connectionsOf(userId: string): ConnectionRef[] {
    return [...(this.#byUser.get(userId) ?? [])]
      .map((id) => this.#connections.get(id)?.ref)
      .filter((r): r is ConnectionRef => r !== undefined);
  }

  deliver(connId: string, message: ServerMessage): boolean {
    const entry = this.#connections.get(connId);
    if (!entry) return false;
    entry.deliver(message);
    return true;
  }

  connectionCount(): number {
    return this.#connections.size;
  }

  putChannel(channel: CallChannel): void {
    this.#channels.set(channel.id, channel);
  }

  getChannel(id: string): CallChannel | undefined {
    return this.#channels.get(id);
  }

  deleteChannel(id: string): void {
    this.#channels.delete(id);
  }

  channelsOfConnection(connId: string): CallChannel[] {
    return [...this.#channels.values()].filter(
      (c) => c.callerConn === connId || c.calleeConn === connId,
    );
  }
}
