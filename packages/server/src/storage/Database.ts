import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { FatalError } from '../FatalError.js';
import { type Migration, migrations } from './migrations.js';

export type Database = BetterSqlite3.Database;

export const databaseFileName = 'confab.sqlite';

/**
 * Opens (creating if needed) the database in the data dir: WAL so the CLI and a running server
 * share it safely, a busy timeout for their overlapping writes, and every pending migration.
 */
export function openDatabase(dataDir: string): Database {
  const file = path.join(dataDir, databaseFileName);
  let db: Database;
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
  migrate(db, file);
  return db;
}

function migrate(db: Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new FatalError(
      `confab: database ${file} has schema version ${current}, newer than this Confab knows (${migrations.length}); upgrade Confab`,
    );
  }
  let vacuum = false;
  for (let v = current; v < migrations.length; v++) {
    const m = migrations[v] as Migration;
    // Registered on the connection, outside the transaction (registration is not transactional).
    for (const [name, fn] of Object.entries(m.functions ?? {}))
      db.function(name, { deterministic: true }, fn);
    db.transaction(() => {
      db.exec(m.sql);
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
