/** Whether one more attempt is allowed now, and if not, when the next one will be. */
export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until an attempt is allowed again (0 when allowed). */
  retryAfter: number;
}

/** Counts attempts per key in fixed windows. A port: the in-memory one now, Redis when nodes share state. */
export interface RateLimiter {
  hit(key: string): RateDecision;
}

/**
 * Fixed-window counters in this process. Windows are short (a minute), so a burst at a window
 * edge can reach twice the limit: acceptable for slowing password guessing, cheap, and bounded
 * in memory by pruning expired keys as it goes.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();
  #lastPrune = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  hit(key: string): RateDecision {
    const now = this.now();
    this.#prune(now);
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + this.windowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    if (w.count <= this.limit) return { allowed: true, retryAfter: 0 };
    return { allowed: false, retryAfter: Math.max(1, Math.ceil((w.resetAt - now) / 1000)) };
  }

  #prune(now: number): void {
    if (now - this.#lastPrune < this.windowMs) return;
    this.#lastPrune = now;
    for (const [key, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(key);
  }
}
