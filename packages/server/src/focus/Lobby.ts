import { type Knock, lobbyRetryMs, type WebrtcClientMessage } from '@confab/protocol';
import { Refusal, type SignalingSession } from '../signaling/index.js';

/** Someone asking to join: its connection and its `webrtc_group`, answered when let in. */
export interface Knocking {
  conn: SignalingSession;
  msg: WebrtcClientMessage;
  user: string;
  name: string;
  guest: boolean;
}

/**
 * A conference's lobby (Jitsi's lobby; docs/protocol.md "Lobby"): while the owner has it on,
 * whoever joins but the owner asks first and waits, in the order they came, until the owner
 * lets them in or turns them away. One place per user (a second tab's ask replaces the first);
 * a user turned away may ask again after `lobbyRetryMs`. The conference decides who passes and
 * what happens on admission; this keeps the queue.
 */
export class Lobby {
  on = false;
  /** By user, in the order they asked. */
  readonly #queue = new Map<string, Knocking>();
  /** When each user was last turned away. */
  readonly #denied = new Map<string, number>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.#queue.size;
  }

  /**
   * `knock` waits; the one it replaces (the same user's other ask) is returned. Refused while
   * its user was turned away less than `lobbyRetryMs` ago, or when `max` wait already.
   */
  add(knock: Knocking, now = Date.now()): Knocking | undefined {
    const deniedAt = this.#denied.get(knock.user);
    if (deniedAt !== undefined && now - deniedAt < lobbyRetryMs)
      throw new Refusal(
        'rate_limited',
        `the host did not let you in: ask again in ${Math.ceil((lobbyRetryMs - (now - deniedAt)) / 1000)} s`,
      );
    this.#dropClosed();
    const earlier = this.#queue.get(knock.user);
    if (!earlier && this.#queue.size >= this.max)
      throw new Refusal('conference_full', 'as many are asking to join this room as may');
    this.#queue.delete(knock.user);
    this.#queue.set(knock.user, knock);
    return earlier?.conn.id === knock.conn.id ? undefined : earlier;
  }

  /** The ask of `user`, taken off the queue (to be let in or turned away). */
  take(user: string): Knocking | undefined {
    const k = this.#queue.get(user);
    if (k) this.#queue.delete(user);
    return k;
  }

  /** The registered user who asked first, taken off the queue. */
  takeFirstRegistered(): Knocking | undefined {
    for (const k of this.#queue.values()) if (!k.guest) return this.take(k.user);
    return undefined;
  }

  /** Everyone asking, in the order they came, taken off the queue. */
  takeAll(): Knocking[] {
    const all = [...this.#queue.values()];
    this.#queue.clear();
    return all;
  }

  /** `user` was turned away now: it may ask again after `lobbyRetryMs`. */
  denied(user: string, now = Date.now()): void {
    for (const [u, at] of this.#denied) if (now - at >= lobbyRetryMs) this.#denied.delete(u);
    this.#denied.set(user, now);
  }

  /** The ask on connection `connId` ends (it hung up or went away); false when it had none. */
  leave(connId: string): boolean {
    for (const [user, k] of this.#queue)
      if (k.conn.id === connId) {
        this.#queue.delete(user);
        return true;
      }
    return false;
  }

  /** Asks whose connection closed (a close the focus has not handled yet) are over. */
  #dropClosed(): void {
    for (const [user, k] of this.#queue) if (k.conn.closed) this.#queue.delete(user);
  }

  /** Who asks, as the owner is told (an ask whose connection closed is over). */
  list(): Knock[] {
    this.#dropClosed();
    return [...this.#queue.values()].map((k) => ({ id: k.user, name: k.name, guest: k.guest }));
  }
}
