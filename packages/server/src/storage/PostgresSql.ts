import pg from 'pg';
import type { Logger } from '../logging/index.js';
import { DatabaseUnavailable, type QueryOptions, type RunResult, type Sql } from './Sql.js';

/** `?` placeholders numbered as PostgreSQL wants them (`$1`, `$2`...). Confab's SQL has no `?` in literals. */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/**
 * Whether `err` says the server cannot be reached (or is going away) rather than that a
 * statement was wrong: no connection, a dropped one, a timeout, or the server's own classes
 * 08 (connection exception), 57P (shutting down, starting up) and 53300 (too many connections).
 */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown; message?: unknown };
  if (typeof e?.severity === 'string' && typeof e.code === 'string')
    return e.code.startsWith('08') || e.code.startsWith('57P') || e.code === '53300';
  // The network's errors: a refused or dropped connection, a name that does not resolve (a
  // database container restarting), a socket file gone (a local server stopped). Others (ENOENT
  // opening a missing sslrootcert, say) are settings to fix.
  if (typeof e?.code === 'string') {
    const syscall = (err as { syscall?: unknown }).syscall;
    return (
      networkErrors.has(e.code) ||
      syscall === 'getaddrinfo' ||
      (syscall === 'connect' && e.code === 'ENOENT')
    );
  }
  const message = typeof e?.message === 'string' ? e.message : '';
  return /connection|terminated|timeout|not queryable/i.test(message);
}

const networkErrors = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
]);

/** A prepared statement whose table another node changed: prepare it anew. */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; routine?: unknown };
  // By the server's routine, not its message (which follows lc_messages).
  return e?.code === '0A000' && e.routine === 'RevalidateCachedQuery';
}

/** The reason in one line, never a password (the server's messages hold none). */
export function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code)
    ? `${message} (${e.code})`
    : message;
}

/**
 * The URL the pool connects with, the password in it: node-postgres lets what it parses from a
 * URL override a separate one.
 */
export function connectionUrl(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
}

const int8 = 20;

/** The pool's type parsers: BIGINT columns (milliseconds) as numbers, not strings. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === int8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as never);
  },
};

export interface PostgresOptions {
  /** `database_url`, with the password put in from `database_password_file` if there is one. */
  connectionString: string;
  password?: string | undefined;
  logger: Logger;
  /** Pool size. */
  max?: number;
  /** How long a statement may take, in ms (default 15 s; 0: no limit, for migrations). */
  queryTimeoutMs?: number;
}

/**
 * `Sql` over a node-postgres pool. When the server cannot be reached, statements fail with
 * `DatabaseUnavailable`, and for a while (half a second, doubling up to 10 s while it lasts)
 * fail at once without trying, so that a database that is down is not hammered and requests
 * answer quickly; the first statement after that tries again, and one that works ends it.
 */
export class PostgresSql implements Sql {
  readonly dialect = 'postgres';
  readonly pool: pg.Pool;
  readonly #log: Logger;
  /** Prepared statements' names, by text. */
  readonly #names = new Map<string, string>();
  /** Bumped when prepared statements must be made anew (another node changed the schema). */
  #generation = 0;
  #downUntil = 0;
  #backoffMs = 0;
  #down = false;

  constructor(opts: PostgresOptions) {
    this.#log = opts.logger;
    this.pool = new pg.Pool({
      connectionString: connectionUrl(opts.connectionString, opts.password),
      max: opts.max ?? 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      // A server that stopped answering (paused, or its network gone) must not hold requests.
      ...(opts.queryTimeoutMs === 0 ? {} : { query_timeout: opts.queryTimeoutMs ?? 15_000 }),
      keepAlive: true,
      types,
      application_name: 'confab',
    });
    // An idle connection the server dropped (restarted, pg_terminate_backend, a proxy's idle
    // timeout): the pool forgets it and the next statement gets another. Only logged: the
    // server may well be there. Unhandled, it would stop the process.
    this.pool.on('error', (err) =>
      this.#log.info({ reason: reasonOf(err) }, 'database: an idle connection was dropped'),
    );
  }

  /** Whether the last statement found the server unreachable (for readiness). */
  get down(): boolean {
    return this.#down;
  }

  async all<T>(text: string, params: readonly unknown[] = [], opts?: QueryOptions): Promise<T[]> {
    return (await this.#query(this.pool, text, params, opts)).rows as T[];
  }

  async get<T>(text: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.#query(this.pool, text, params)).rows[0] as T | undefined;
  }

  async run(text: string, params: readonly unknown[] = []): Promise<RunResult> {
    return { changes: (await this.#query(this.pool, text, params)).rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    this.#check();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.#unavailable(err);
    }
    const tx = new PostgresTransaction(this, client);
    let broken: unknown;
    // Checked out, the client has no listener of the pool's: a connection lost now (emitted as
    // 'error') would stop the process. Its statement fails too, and it is not used again.
    const lost = (err: Error) => {
      broken = err;
    };
    client.on('error', lost);
    try {
      await this.#query(client, 'BEGIN', []);
      const result = await fn(tx);
      await this.#query(client, 'COMMIT', []);
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e;
      });
      throw err;
    } finally {
      tx.ended = true;
      client.off('error', lost);
      // A connection that was lost or failed its ROLLBACK is not given to anyone else.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** @internal For the transaction's statements. */
  async query(
    on: pg.Pool | pg.PoolClient,
    text: string,
    params: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<pg.QueryResult> {
    return this.#query(on, text, params, opts);
  }

  async #query(
    on: pg.Pool | pg.PoolClient,
    text: string,
    params: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<pg.QueryResult> {
    this.#check();
    // Statements with parameters are prepared once per connection (named), unless planned each
    // time; the rest (DDL, BEGIN, several statements at once) sent as they are.
    const send = () =>
      on.query(
        params.length === 0
          ? { text }
          : opts?.planEachTime
            ? { text: numbered(text), values: params as unknown[] }
            : { name: this.#nameOf(text), text: numbered(text), values: params as unknown[] },
      );
    try {
      let result: pg.QueryResult;
      try {
        result = await send();
      } catch (err) {
        if (!isStalePlan(err)) throw err;
        this.#generation++;
        this.#names.clear();
        // Within a transaction the error has ended it: its caller sees it (the next one gets
        // the statement prepared anew).
        if (on !== this.pool) throw err;
        result = await send();
      }
      this.#worked();
      return result;
    } catch (err) {
      throw this.#unavailable(err);
    }
  }

  #nameOf(text: string): string {
    let name = this.#names.get(text);
    if (!name) {
      name = `confab_${this.#generation}_${this.#names.size + 1}`;
      this.#names.set(text, name);
    }
    return name;
  }

  #check(): void {
    const wait = this.#downUntil - Date.now();
    if (wait > 0)
      throw new DatabaseUnavailable(
        'the database cannot be reached; try again shortly',
        Math.max(1, Math.ceil(wait / 1000)),
      );
  }

  #unavailable(err: unknown): unknown {
    if (!isConnectionError(err)) return err;
    this.#failed(err);
    return new DatabaseUnavailable(
      `the database cannot be reached: ${reasonOf(err)}`,
      Math.max(1, Math.ceil(this.#backoffMs / 1000)),
    );
  }

  #failed(err: unknown): void {
    this.#backoffMs = Math.min(10_000, this.#backoffMs ? this.#backoffMs * 2 : 500);
    this.#downUntil = Date.now() + this.#backoffMs;
    if (!this.#down) {
      this.#down = true;
      this.#log.warn({ reason: reasonOf(err) }, 'database: cannot be reached; retrying');
    }
  }

  #worked(): void {
    this.#backoffMs = 0;
    if (this.#down) {
      this.#down = false;
      this.#log.info('database: reachable again');
    }
  }
}

class PostgresTransaction implements Sql {
  readonly dialect = 'postgres';
  ended = false;

  constructor(
    private readonly owner: PostgresSql,
    private readonly client: pg.PoolClient,
  ) {}

  async #query(
    text: string,
    params: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<pg.QueryResult> {
    if (this.ended) throw new Error('the transaction has ended');
    return this.owner.query(this.client, text, params, opts);
  }

  async all<T>(text: string, params: readonly unknown[] = [], opts?: QueryOptions): Promise<T[]> {
    return (await this.#query(text, params, opts)).rows as T[];
  }

  async get<T>(text: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.#query(text, params)).rows[0] as T | undefined;
  }

  async run(text: string, params: readonly unknown[] = []): Promise<RunResult> {
    return { changes: (await this.#query(text, params)).rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {}
}
