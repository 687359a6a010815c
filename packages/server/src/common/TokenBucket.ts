/**
 * A token bucket: `capacity` actions at once, refilled at `perSecond`. For limits on things a
 * client may do now and then but not in a loop (screen-share changes, renegotiations).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = capacity;
    this.#at = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const now = this.now();
    this.#tokens = Math.min(
      this.capacity,
      this.#tokens + ((now - this.#at) / 1000) * this.perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Token buckets by key (a user in a room, say), each as `TokenBucket`. An entry idle long
 * enough to be full again is dropped, so that the map holds only those who acted lately.
 */
export class TokenBuckets {
  readonly #entries = new Map<string, { bucket: TokenBucket; usedAt: number }>();
  #prunedAt = 0;
  readonly #idleMs: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#idleMs = (capacity / perSecond) * 1000;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Takes a token of `key`'s bucket if there is one. */
  take(key: string): boolean {
    const now = this.now();
    if (now - this.#prunedAt > this.#idleMs) {
      this.#prunedAt = now;
      for (const [k, e] of this.#entries)
        if (now - e.usedAt > this.#idleMs) this.#entries.delete(k);
    }
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.capacity, this.perSecond, this.now), usedAt: now };
      this.#entries.set(key, entry);
    }
    entry.usedAt = now;
    return entry.bucket.take();
  }

  clear(): void {
    this.#entries.clear();
  }
}
