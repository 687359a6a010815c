import type { DialectName } from './Sql.js';

/**
 * Everything Confab's SQL spells differently in SQLite and PostgreSQL, in one place: the stores
 * and migrations write the rest once, in the subset both understand (`INSERT ... ON CONFLICT
 * ... DO UPDATE SET x = excluded.x` among it).
 */
export interface Dialect {
  readonly name: DialectName;
  /** A whole number column wide enough for milliseconds since 1970. */
  readonly integer: string;
  /** Ends a CREATE TABLE: SQLite's type-checked tables. */
  readonly strict: string;
  /** After a text column whose values compare without case (usernames). */
  readonly nocase: string;
  /** An expression that orders `column` without regard to case (its index uses the same). */
  orderNoCase(column: string): string;
  /** `column` holds the text of the next parameter, passed as `containsParam(text)`. */
  contains(column: string): string;
  containsParam(text: string): string;
  /** `column` is one of the next parameter, passed as `list(values)`. */
  inList(column: string): string;
  list(values: readonly string[]): unknown;
  /** A column in the order rows were inserted, for ties (chat messages said in one ms). */
  readonly insertionOrder: string;
  /** The column definition `insertionOrder` needs, with its comma ('' where every row has it). */
  readonly insertionColumn: string;
  /** Within a transaction: waits until no other transaction holds the lock named by the parameter. */
  readonly lock: string | undefined;
}

export const sqlite: Dialect = {
  name: 'sqlite',
  integer: 'INTEGER',
  strict: ' STRICT',
  nocase: ' COLLATE NOCASE',
  orderNoCase: (column) => `${column} COLLATE NOCASE`,
  contains: (column) => `instr(${column}, ?) > 0`,
  containsParam: (text) => text,
  inList: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  list: (values) => JSON.stringify(values),
  insertionOrder: 'rowid',
  insertionColumn: '',
  // BEGIN IMMEDIATE (SqliteSql) already holds the only write lock there is.
  lock: undefined,
};

export const postgres: Dialect = {
  name: 'postgres',
  integer: 'BIGINT',
  strict: '',
  // Usernames are stored lower-cased: the unique index compares them as they are.
  nocase: '',
  orderNoCase: (column) => `lower(${column})`,
  // LIKE, which the trigram index (migration "users by search text") answers for rare terms
  // instead of a walk through every name; its wildcards in the text are escaped.
  contains: (column) => `${column} LIKE '%' || ? || '%'`,
  containsParam: (text) => text.replace(/[\\%_]/g, '\\$&'),
  inList: (column) => `${column} = ANY(?::text[])`,
  list: (values) => [...values],
  insertionOrder: 'seq',
  insertionColumn: 'seq BIGINT GENERATED ALWAYS AS IDENTITY,',
  lock: 'SELECT pg_advisory_xact_lock(hashtext(?))',
};

export function dialectOf(name: DialectName): Dialect {
  return name === 'postgres' ? postgres : sqlite;
}
