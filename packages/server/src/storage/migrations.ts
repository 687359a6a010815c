import { createHash } from 'node:crypto';
import type { Dialect } from './dialect.js';

export interface Migration {
  name: string;
  /** Its statements in the dialect's spelling (`dialect.ts`); empty where it has nothing to do. */
  sql: (d: Dialect) => string;
  /** SQL functions `sql` calls, in JavaScript, registered on the connection before it runs. */
  functions?: Record<string, (...args: never[]) => unknown>;
  /** It rewrites values that must not survive in the file's free space: VACUUM afterwards. */
  vacuum?: boolean;
}

/**
 * Schema migrations of Confab's database, SQLite or PostgreSQL, applied in order at open
 * (`Database.ts`): number N is `migrations[N - 1]`. Each runs once, in a transaction, and the
 * database records its number (SQLite's `PRAGMA user_version`, PostgreSQL's `confab_schema`
 * table). Never edit one that has shipped: add another. The SQLite text of those that shipped
 * before PostgreSQL came is what they always were.
 */
export const migrations: readonly Migration[] = [
  {
    name: 'users',
    sql: (d) => `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE${d.nocase},
        display_name  TEXT NOT NULL,
        mail          TEXT NOT NULL DEFAULT '',
        job_title     TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL,
        search_text   TEXT NOT NULL,
        created_at    ${d.integer} NOT NULL,
        updated_at    ${d.integer} NOT NULL
      )${d.strict};
    `,
  },
  {
    name: 'oidc payloads',
    sql: (d) => `
      CREATE TABLE oidc_payloads (
        model      TEXT NOT NULL,
        id         TEXT NOT NULL,
        payload    TEXT NOT NULL,
        grant_id   TEXT,
        user_code  TEXT,
        uid        TEXT,
        expires_at ${d.integer},
        consumed   ${d.integer} NOT NULL DEFAULT 0,
        PRIMARY KEY (model, id)
      )${d.strict};
      CREATE INDEX oidc_payloads_grant ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oidc_payloads_uid ON oidc_payloads (model, uid) WHERE uid IS NOT NULL;
      CREATE INDEX oidc_payloads_expiry ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    // The address book lists matches by name: walking this index in order stops at $top
    // instead of sorting every match (a common term can match the whole directory), and
    // holding search_text spares a table lookup per row when a rare term scans it all.
    name: 'users by name',
    sql: (d) =>
      `CREATE INDEX users_by_name ON users (${d.orderNoCase('display_name')}, id, search_text);`,
  },
  {
    // Guests the identity provider let in from a signed request object: the subject of their
    // tokens, kept while their refresh tokens may still be used.
    name: 'guests',
    sql: (d) => `
      CREATE TABLE guests (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        path       TEXT NOT NULL,
        created_at ${d.integer} NOT NULL,
        expires_at ${d.integer} NOT NULL
      )${d.strict};
      CREATE INDEX guests_expiry ON guests (expires_at);
    `,
  },
  {
    // oidc-provider's artifacts were stored under their own values (refresh tokens, codes,
    // session ids...), so a copy of the database could redeem them. Rows are now keyed by the
    // SHA-256 of the value and their payloads no longer hold it (SqlOidcAdapter); hashing the
    // rows in place keeps everyone signed in across the upgrade. The format is spelled out here,
    // not imported, so that this migration keeps meaning what it did when it shipped.
    name: 'oidc payloads hashed',
    functions: {
      oidc_hash: (value: string | null) =>
        value === null ? null : createHash('sha256').update(value).digest('base64url'),
      oidc_unlink: (model: string, id: string, payload: string) => {
        const p = JSON.parse(payload) as {
          jti?: unknown;
          returnTo?: unknown;
          session?: { cookie?: unknown };
        };
        delete p.jti;
        if (model === 'Interaction') {
          if (typeof p.returnTo === 'string' && p.returnTo.endsWith(`/${id}`))
            p.returnTo = `${p.returnTo.slice(0, -id.length)}:uid`;
          if (p.session) delete p.session.cookie;
        }
        return JSON.stringify(p);
      },
    },
    // SET expressions all read the row as it was: oidc_unlink sees the raw id. A PostgreSQL
    // database is younger than this: it never held a value unhashed.
    sql: (d) =>
      d.name === 'sqlite'
        ? `
      UPDATE oidc_payloads SET
        id = oidc_hash(id),
        uid = oidc_hash(uid),
        user_code = oidc_hash(user_code),
        payload = oidc_unlink(model, id, payload);
    `
        : '',
    vacuum: true,
  },
  {
    // One-to-one calls that were answered: only those may be taken up again after a restart
    // (signaling/AnsweredCalls.ts).
    name: 'answered calls',
    sql: (d) => `
      CREATE TABLE answered_calls (
        channel     TEXT PRIMARY KEY,
        caller      TEXT NOT NULL,
        callee      TEXT NOT NULL,
        answered_at ${d.integer} NOT NULL
      )${d.strict};
      CREATE INDEX answered_calls_age ON answered_calls (answered_at);
    `,
  },
  {
    // Rooms' chat kept past their meetings (`chat_retention`; chat/ChatArchive.ts).
    name: 'chat messages',
    sql: (d) => `
      CREATE TABLE chat_messages (
        ${d.insertionColumn}
        room   TEXT NOT NULL,
        id     TEXT NOT NULL,
        at     ${d.integer} NOT NULL,
        sender TEXT NOT NULL,
        name   TEXT NOT NULL,
        guest  ${d.integer} NOT NULL,
        text   TEXT NOT NULL,
        PRIMARY KEY (room, id)
      )${d.strict};
      CREATE INDEX chat_messages_by_room ON chat_messages (room, at);
      CREATE INDEX chat_messages_age ON chat_messages (at);
    `,
  },
  {
    // Generated secrets every node on one database must share (`SecretStore`; with SQLite they
    // stay files in the data dir and this table is empty).
    name: 'secrets',
    sql: (d) => `
      CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at ${d.integer} NOT NULL
      )${d.strict};
    `,
  },
  {
    // PostgreSQL walks users_by_name with a lookup of every row for a term few names hold
    // (8 ms over 10,000 users); a trigram index finds them at once. pg_trgm is PostgreSQL's
    // own contrib module, trusted, so the database's owner may create it. SQLite's covering
    // index already scans fast.
    name: 'users by search text',
    sql: (d) =>
      d.name === 'postgres'
        ? `
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE INDEX users_search ON users USING gin (search_text gin_trgm_ops) WITH (fastupdate = off);
    `
        : '',
  },
];
