/**
 * Schema migrations of Confab's SQLite database, applied in order at open. Each runs once, in a
 * transaction, and bumps `PRAGMA user_version`; never edit one that has shipped: add another.
 */
export const migrations: readonly { name: string; sql: string }[] = [
  {
    name: 'users',
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name  TEXT NOT NULL,
        mail          TEXT NOT NULL DEFAULT '',
        job_title     TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL,
        search_text   TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    name: 'oidc payloads',
    sql: `
      CREATE TABLE oidc_payloads (
        model      TEXT NOT NULL,
        id         TEXT NOT NULL,
        payload    TEXT NOT NULL,
        grant_id   TEXT,
        user_code  TEXT,
        uid        TEXT,
        expires_at INTEGER,
        consumed   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (model, id)
      ) STRICT;
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
    sql: 'CREATE INDEX users_by_name ON users (display_name COLLATE NOCASE, id, search_text);',
  },
  {
    // Guests the identity provider let in from a signed request object: the subject of their
    // tokens, kept while their refresh tokens may still be used.
    name: 'guests',
    sql: `
      CREATE TABLE guests (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        path       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX guests_expiry ON guests (expires_at);
    `,
  },
];
