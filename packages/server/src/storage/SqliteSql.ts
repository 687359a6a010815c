import type BetterSqlite3 from 'better-sqlite3';
import type { RunResult, Sql } from './Sql.js';

/**
 * `Sql` over better-sqlite3: statements run synchronously on the one connection, each prepared
 * once. A transaction holds the connection: other callers wait for it to end, so that nothing
 * of theirs is committed, or rolled back, with it.
 */
export class SqliteSql implements Sql {
  readonly dialect = 'sqlite';
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  /** Ends when the open transaction does. */
  #busy: Promise<void> | undefined;

  constructor(readonly db: BetterSqlite3.Database) {}

  prepare(text: string): BetterSqlite3.Statement {
    let stmt = this.#statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      this.#statements.set(text, stmt);
    }
    return stmt;
  }

  async all<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    while (this.#busy) await this.#busy;
    return this.prepare(text).all(...params) as T[];
  }

  async get<T>(text: string, params: readonly unknown[] = []): Promise<T | undefined> {
    while (this.#busy) await this.#busy;
    return this.prepare(text).get(...params) as T | undefined;
  }

  async run(text: string, params: readonly unknown[] = []): Promise<RunResult> {
    while (this.#busy) await this.#busy;
    return { changes: this.prepare(text).run(...params).changes };
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    while (this.#busy) await this.#busy;
    let end = () => {};
    this.#busy = new Promise((resolve) => {
      end = resolve;
    });
    const tx = new SqliteTransaction(this);
    try {
      // IMMEDIATE: the write lock now, not at the first write, so two processes (a server and
      // `confab user`) never deadlock upgrading their read locks.
      this.db.exec('BEGIN IMMEDIATE');
      const result = await fn(tx);
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      tx.ended = true;
      this.#busy = undefined;
      end();
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** The statements of one transaction: straight on the connection its transaction holds. */
class SqliteTransaction implements Sql {
  readonly dialect = 'sqlite';
  ended = false;

  constructor(private readonly owner: SqliteSql) {}

  #prepare(text: string): BetterSqlite3.Statement {
    if (this.ended) throw new Error('the transaction has ended');
    return this.owner.prepare(text);
  }

  async all<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.#prepare(text).all(...params) as T[];
  }

  async get<T>(text: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return this.#prepare(text).get(...params) as T | undefined;
  }

  async run(text: string, params: readonly unknown[] = []): Promise<RunResult> {
    return { changes: this.#prepare(text).run(...params).changes };
  }

  /** Already in one: `fn` is part of it. */
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {}
}
