/** Which database a `Sql` speaks to: the embedded SQLite file or a PostgreSQL server. */
export type DialectName = 'sqlite' | 'postgres';

export interface RunResult {
  /** Rows the statement inserted, updated or deleted. */
  changes: number;
}

export interface QueryOptions {
  /**
   * Planned for its parameters each time (PostgreSQL), not once for all: a statement whose
   * best plan depends on them (the address book's search term). Others are prepared once per
   * connection.
   */
  planEachTime?: boolean;
}

/**
 * The one seam between Confab's stores and a database: statements with `?` placeholders (the
 * PostgreSQL implementation numbers them), rows as plain objects, and transactions. What the
 * two dialects spell differently is in `dialect.ts`, nowhere else.
 */
export interface Sql {
  readonly dialect: DialectName;
  all<T>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]>;
  get<T>(text: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(text: string, params?: readonly unknown[]): Promise<RunResult>;
  /**
   * Runs `fn` in one transaction: all of its writes or none. `fn` uses the `Sql` it is given;
   * other callers wait until the transaction has ended (SQLite) or use other connections.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The database cannot be reached now (stopped, restarting, network gone): requests that need it
 * answer 503 `database_unavailable` with `Retry-After`, and work without it carries on.
 */
export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
  readonly code = 'database_unavailable';
  constructor(
    message: string,
    /** When to try again, in whole seconds (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export function isDatabaseUnavailable(err: unknown): err is DatabaseUnavailable {
  return err instanceof DatabaseUnavailable;
}
