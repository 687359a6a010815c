import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ConfigError, type Settings } from '../config/index.js';
import { describeErrno } from '../dataDir.js';
import { FatalError } from '../FatalError.js';
import type { Logger } from '../logging/index.js';
import { postgres, sqlite } from './dialect.js';
import { type Migration, migrations } from './migrations.js';
import { isConnectionError, PostgresSql, reasonOf } from './PostgresSql.js';
import { FileSecrets, type SecretStore, SqlSecrets } from './Secrets.js';
import type { Sql } from './Sql.js';
import { SqliteSql } from './SqliteSql.js';

export const databaseFileName = 'confab.sqlite';

/** How long a migration statement (the lock's wait among them) may take. */
const migrationTimeoutMs = 10 * 60_000;

/** How long a start waits for a PostgreSQL server that does not answer. */
export const databaseStartWaitMs = 30_000;

/** The database the settings name: PostgreSQL at `database_url`, else the data dir's SQLite. */
export async function openDatabase(settings: Settings, log: Logger): Promise<Sql> {
  if (!settings.database_url) return openSqlite(settings.data_dir);
  return openPostgres(settings, log);
}

/** Query parameters of a PostgreSQL URL that carry a secret (node-postgres takes them all). */
export const secretParams = ['password', 'sslpassword'];

/** `database_url` without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    for (const p of secretParams) u.searchParams.delete(p);
    return u.toString();
  } catch {
    return '(unreadable URL)';
  }
}

/**
 * Opens (creating if needed) the SQLite database in the data dir: WAL so the CLI and a running
 * server share it safely, a busy timeout for their overlapping writes, and every pending
 * migration.
 */
export function openSqlite(dataDir: string): SqliteSql {
  const file = path.join(dataDir, databaseFileName);
  let db: BetterSqlite3.Database;
  try {
    // SQLite would create the file 0644 (and its -wal and -shm with the same mode): an empty
    // file made here first is a new database to it, private from the start.
    closeSync(openSync(file, 'a', 0o600));
    db = new BetterSqlite3(file);
  } catch (err) {
    throw new FatalError(`confab: cannot open database ${file}: ${(err as Error).message}`);
  }
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  migrateSqlite(db, file);
  return new SqliteSql(db);
}

function newerThanCode(where: string, version: number): FatalError {
  return new FatalError(
    `confab: database ${where} has schema version ${version}, newer than this Confab knows (${migrations.length}); upgrade Confab`,
  );
}

function migrateSqlite(db: BetterSqlite3.Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) throw newerThanCode(file, current);
  let vacuum = false;
  for (let v = current; v < migrations.length; v++) {
    const m = migrations[v] as Migration;
    // Registered on the connection, outside the transaction (registration is not transactional).
    for (const [name, fn] of Object.entries(m.functions ?? {}))
      db.function(name, { deterministic: true }, fn);
    db.transaction(() => {
      db.exec(m.sql(sqlite));
      db.pragma(`user_version = ${v + 1}`);
    })();
    vacuum ||= m.vacuum === true;
  }
  if (vacuum) {
    // The old values linger in the file's free space and in the WAL's older frames: rebuild the
    // file, then copy the WAL into it and empty it. (Busy only if another process reads now;
    // then the WAL is emptied at a later checkpoint.)
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  }
}

/** The password from `database_password_file`, if set. */
function passwordOf(settings: Pick<Settings, 'database_password_file'>): string | undefined {
  const file = settings.database_password_file;
  if (!file) return undefined;
  let password: string;
  try {
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(
      `confab: database_password_file: cannot read ${file}: ${describeErrno(err as NodeJS.ErrnoException)}`,
    );
  }
  if (!password) throw new ConfigError(`confab: database_password_file: ${file} is empty`);
  return password;
}

/**
 * Connects to `database_url` and migrates it. Wrong credentials, an unknown database or a
 * refused TLS setting stop the start (exit 2, the server's reason, never the password); a
 * server that does not answer is tried again for `databaseStartWaitMs`, then the start fails
 * (exit 1).
 */
export async function openPostgres(
  settings: Pick<Settings, 'database_url' | 'database_password_file'>,
  log: Logger,
  waitMs = databaseStartWaitMs,
): Promise<PostgresSql> {
  const url = settings.database_url as string;
  const options = {
    connectionString: url,
    password: passwordOf(settings),
    logger: log.child({ module: 'database' }),
  };
  const db = new PostgresSql(options);
  try {
    await waitForServer(db, url, log, waitMs);
    // On a connection of its own with a long statement timeout: waiting for another node's
    // migration (the lock) may take longer than a request may, but not forever.
    const migrating = new PostgresSql({ ...options, max: 1, queryTimeoutMs: migrationTimeoutMs });
    try {
      await migratePostgres(migrating, redactedUrl(url), log);
    } finally {
      await migrating.close();
    }
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return db;
}

async function waitForServer(
  db: PostgresSql,
  url: string,
  log: Logger,
  waitMs: number,
): Promise<void> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await db.pool.query('SELECT 1');
      return;
    } catch (err) {
      if (!isConnectionError(err) || isTlsRefusal(err))
        throw new ConfigError(`confab: database_url: ${redactedUrl(url)}: ${reasonOf(err)}`);
      if (Date.now() - started >= waitMs)
        throw new FatalError(
          `confab: database_url: ${redactedUrl(url)} did not answer within ${Math.round(waitMs / 1000)} s: ${reasonOf(err)}`,
        );
      log.warn(
        { database: redactedUrl(url), attempt, reason: reasonOf(err) },
        'database: not answering yet; retrying',
      );
      await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 5000)));
    }
  }
}

/** The server's refusal of the TLS the URL asks for: a setting to fix, not a wait. */
function isTlsRefusal(err: unknown): boolean {
  return /SSL|TLS|certificate/i.test(reasonOf(err));
}

/** An arbitrary constant: the advisory lock Confab's nodes migrate under. */
const migrationLock = 'confab.migrations';

/**
 * Pending migrations in one transaction (PostgreSQL's DDL is transactional), after taking an
 * advisory lock that lasts until it ends: a second node starting at the same time waits, then
 * finds nothing left to do.
 */
async function migratePostgres(db: PostgresSql, where: string, log: Logger): Promise<void> {
  const applied = await db.transaction(async (tx) => {
    await tx.get(postgres.lock as string, [migrationLock]);
    await tx.run(
      `CREATE TABLE IF NOT EXISTS confab_schema (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      )`,
    );
    const row = await tx.get<{ v: number | null }>('SELECT max(version) AS v FROM confab_schema');
    const current = row?.v ?? 0;
    if (current > migrations.length) throw newerThanCode(where, current);
    const names: string[] = [];
    for (let v = current; v < migrations.length; v++) {
      const m = migrations[v] as Migration;
      const text = m.sql(postgres).trim();
      if (text) await tx.run(text);
      await tx.run('INSERT INTO confab_schema (version, name, applied_at) VALUES (?, ?, ?)', [
        v + 1,
        m.name,
        Date.now(),
      ]);
      names.push(m.name);
    }
    return names;
  });
  if (applied.length) log.info({ database: where, migrations: applied }, 'database: migrated');
}

/** The database and the secret store that goes with it. */
export interface Storage {
  db: Sql;
  secrets: SecretStore;
}

/**
 * The settings' database, and where generated secrets live beside it: the data dir's files with
 * SQLite, the database with PostgreSQL (every node on it must sign and check with the same).
 */
export async function openStorage(settings: Settings, log: Logger): Promise<Storage> {
  const db = await openDatabase(settings, log);
  return {
    db,
    secrets: settings.database_url ? new SqlSecrets(db) : new FileSecrets(settings.data_dir),
  };
}
