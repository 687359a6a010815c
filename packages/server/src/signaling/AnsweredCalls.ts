import type { Logger } from '../logging/index.js';
import type { Sql } from '../storage/index.js';

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

  record(channel: string, caller: string, callee: string, at = Date.now()): void {
    this.#calls.set(channel, { a: caller, b: callee, at });
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
 * Answered calls in Confab's database, so that they survive a restart: held in memory (the
 * checks run in the message path and must not wait), loaded at start, each change written
 * through. A write the database does not take is logged and the call stays known to this
 * process. (Several nodes share them through the several-nodes issue's state, not this.)
 */
export class SqlAnsweredCalls implements AnsweredCalls {
  readonly #memory = new MemoryAnsweredCalls();
  #purgedAt = 0;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Sql,
    private readonly log: Logger,
  ) {}

  static async load(db: Sql, log: Logger): Promise<SqlAnsweredCalls> {
    const calls = new SqlAnsweredCalls(db, log);
    const since = Date.now() - answeredCallTtlMs;
    const rows = await db.all<{
      channel: string;
      caller: string;
      callee: string;
      answered_at: number;
    }>('SELECT channel, caller, callee, answered_at FROM answered_calls WHERE answered_at > ?', [
      since,
    ]);
    for (const r of rows) calls.#memory.record(r.channel, r.caller, r.callee, r.answered_at);
    return calls;
  }

  record(channel: string, caller: string, callee: string): void {
    this.#memory.record(channel, caller, callee);
    const now = Date.now();
    // Expired rows go as new ones come, at most once an hour.
    if (now - this.#purgedAt > 3600_000) {
      this.#purgedAt = now;
      this.#write('purge', 'DELETE FROM answered_calls WHERE answered_at <= ?', [
        now - answeredCallTtlMs,
      ]);
    }
    this.#write(
      'record',
      `INSERT INTO answered_calls (channel, caller, callee, answered_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (channel) DO UPDATE SET caller = excluded.caller, callee = excluded.callee, answered_at = excluded.answered_at`,
      [channel, caller, callee, now],
    );
  }

  has(channel: string, a: string, b: string): boolean {
    return this.#memory.has(channel, a, b);
  }

  forget(channel: string): void {
    this.#memory.forget(channel);
    this.#write('forget', 'DELETE FROM answered_calls WHERE channel = ?', [channel]);
  }

  /** Settles once every write asked for so far is done (at shutdown, before the database closes). */
  async flush(): Promise<void> {
    // Writes queued while it waits are waited for too.
    let last: Promise<unknown>;
    do {
      last = this.#writes;
      await last;
    } while (last !== this.#writes);
  }

  /** In the order made: a call forgotten right after it was recorded stays forgotten. */
  #write(what: string, text: string, params: unknown[]): void {
    this.#writes = this.#writes.then(() =>
      this.db.run(text, params).catch((err: unknown) => {
        this.log.error({ err, what }, 'answered calls: database error');
      }),
    );
  }
}
