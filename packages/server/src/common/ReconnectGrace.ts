/**
 * Confab's one rule for signaling that drops (`call_reconnect_grace`), in one-to-one calls and
 * group conferences alike: someone whose connection closed is away, and waited for this long
 * before what they were in goes on without them; back in time, they carry on. A session that
 * was ended (its user removed, its sign-in revoked) is not waited for, nor anyone with a grace
 * of 0.
 *
 * Keyed by what is away (a call's channel, a conference's participant); each key has at most
 * one wait, so starting it again restarts it.
 */
export class ReconnectGrace<K> {
  readonly #timers = new Map<K, NodeJS.Timeout>();

  constructor(readonly ms: number) {}

  /** Whether someone whose connection closed is waited for at all. */
  waitsFor(conn: { readonly revoked: boolean }): boolean {
    return this.ms > 0 && !conn.revoked;
  }

  /**
   * `key` is away: `expire` runs unless `cancel(key)` comes within the grace (at once, with a
   * grace of 0).
   */
  start(key: K, expire: () => void): void {
    this.cancel(key);
    if (this.ms <= 0) return expire();
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      expire();
    }, this.ms);
    // Only a wait: it keeps no process alive.
    timer.unref();
    this.#timers.set(key, timer);
  }

  /** `key` is back (or gone for good): its wait ends; false when it was not waited for. */
  cancel(key: K): boolean {
    const timer = this.#timers.get(key);
    if (!timer) return false;
    clearTimeout(timer);
    this.#timers.delete(key);
    return true;
  }

  isAway(key: K): boolean {
    return this.#timers.has(key);
  }

  /** Waits still running. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Ends every wait without running its `expire`. */
  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
