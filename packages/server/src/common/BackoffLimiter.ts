import type { RateDecision } from './RateLimiter.js';

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  /** Lockouts so far: each one lasts twice the one before. */
  lockouts: number;
  lastAt: number;
}

export interface BackoffOptions {
  /** Failures allowed within `windowMs` before the key is locked. */
  limit: number;
  windowMs: number;
  /** The first lockout; each further one doubles, up to `maxLockMs`. */
  baseLockMs: number;
  maxLockMs: number;
}

/**
 * Counts failures per key (a username from one address, for sign-ins): past `limit` within a
 * window the key is locked out, for longer each time; a success clears it. Only the key that
 * failed waits, so someone guessing a colleague's password elsewhere cannot lock them out.
 */
export class BackoffLimiter {
  readonly #entries = new Map<string, Entry>();
  #prunedAt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the key may try now. */
  check(key: string): RateDecision {
    const now = this.now();
    this.#prune(now);
    const e = this.#entries.get(key);
    if (!e || e.lockedUntil <= now) return { allowed: true, retryAfter: 0 };
    return { allowed: false, retryAfter: Math.max(1, Math.ceil((e.lockedUntil - now) / 1000)) };
  }

  fail(key: string): void {
    const now = this.now();
    let e = this.#entries.get(key);
    if (!e) {
      e = { failures: 0, windowStart: now, lockedUntil: 0, lockouts: 0, lastAt: now };
      this.#entries.set(key, e);
    }
    e.lastAt = now;
    if (now - e.windowStart >= this.opts.windowMs) {
      e.windowStart = now;
      e.failures = 0;
    }
    if (++e.failures < this.opts.limit) return;
    const lock = Math.min(this.opts.maxLockMs, this.opts.baseLockMs * 2 ** e.lockouts);
    e.lockouts++;
    e.lockedUntil = now + lock;
    e.failures = 0;
    e.windowStart = e.lockedUntil;
  }

  succeed(key: string): void {
    this.#entries.delete(key);
  }

  /** Keys quiet for as long as the longest lockout are forgotten (their backoff starts over). */
  #prune(now: number): void {
    if (now - this.#prunedAt < 60_000) return;
    this.#prunedAt = now;
    for (const [key, e] of this.#entries)
      if (e.lockedUntil <= now && now - e.lastAt > this.opts.maxLockMs) this.#entries.delete(key);
  }
}
