import type { Logger } from '../logging/index.js';
import type { Database } from '../storage/index.js';

/**
 * One-to-one calls that were answered, kept where a restart does not lose them: a call the
 * server no longer holds in memory may be taken up again (its pair hash proving membership)
 * only if it is here, so that nobody "resumes" a call that only ever rang and pushes signals to
 * every device of the callee. Ended calls are forgotten; old ones expire.
 */
export interface AnsweredCalls {
  record(channel: string, caller: string, callee: string): void;
  /** Whether `channel` is an answered call between these two users (in either role). */
  has(channel: string, a: string, b: string): boolean;
  forget(channel: string): void;
}

/** How long an answered call may be taken up again after it was answered. */
export const answeredCallTtlMs = 7 * 24 * 3600_000;

/** For one process without a database (tests, or a server that restarts with nothing). */
export class MemoryAnsweredCalls implements AnsweredCalls {
  readonly #calls = new Map<string, { a: string; b: string; at: number }>();

  record(channel: string, caller: string, callee: string): void {
    this.#calls.set(channel, { a: caller, b: callee, at: Date.now() });
  }

  has(channel: string, a: string, b: string): boolean {
    const c = this.#calls.get(channel);
    if (!c || Date.now() - c.at > answeredCallTtlMs) return false;
    return (c.a === a && c.b === b) || (c.a === b && c.b === a);
  }

  forget(channel: string): void {
    this.#calls.delete(channel);
  }
}

/**
 * Answered calls in the SQLite database, so that they survive a restart. Its methods run in
 * timers and socket events: a database error is logged and taken as "not answered", never
 * thrown (it would stop the server).
 */
export class SqliteAnsweredCalls implements AnsweredCalls {
  readonly #put;
  readonly #get;
  readonly #forget;
  readonly #purge;
  #purgedAt = 0;

  constructor(
    db: Database,
    private readonly log: Logger,
  ) {
    this.#put = db.prepare<[string, string, string, number]>(
      'INSERT OR REPLACE INTO answered_calls (channel, caller, callee, answered_at) VALUES (?, ?, ?, ?)',
    );
    this.#get = db.prepare<[string, number], { caller: string; callee: string }>(
      'SELECT caller, callee FROM answered_calls WHERE channel = ? AND answered_at > ?',
    );
    this.#forget = db.prepare<[string]>('DELETE FROM answered_calls WHERE channel = ?');
    this.#purge = db.prepare<[number]>('DELETE FROM answered_calls WHERE answered_at <= ?');
  }

  record(channel: string, caller: string, callee: string): void {
    this.#safely('record', () => {
      const now = Date.now();
      // Expired rows go as new ones come, at most once an hour.
      if (now - this.#purgedAt > 3600_000) {
        this.#purgedAt = now;
        this.#purge.run(now - answeredCallTtlMs);
      }
      this.#put.run(channel, caller, callee, now);
    });
  }

  has(channel: string, a: string, b: string): boolean {
    return (
      this.#safely('has', () => {
        const row = this.#get.get(channel, Date.now() - answeredCallTtlMs);
        if (!row) return false;
        return (row.caller === a && row.callee === b) || (row.caller === b && row.callee === a);
      }) ?? false
    );
  }

  forget(channel: string): void {
    this.#safely('forget', () => this.#forget.run(channel));
  }

  #safely<T>(what: string, run: () => T): T | undefined {
    try {
      return run();
    } catch (err) {
      this.log.error({ err, what }, 'answered calls: database error');
      return undefined;
    }
  }
}
