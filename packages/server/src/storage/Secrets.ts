import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dialectOf } from './dialect.js';
import type { Sql } from './Sql.js';

/**
 * Where the secrets Confab generates for itself live (the cookie key, the pair-hash key, the
 * signing keys, the guest request key, the bridge secret): files in the data dir with SQLite,
 * the `secrets` table with PostgreSQL, so that every node on one database signs and checks with
 * the same ones. Names are the data dir's file names (`identity/cookie.key`).
 */
export interface SecretStore {
  /** For messages: the data dir, or the database. */
  readonly where: string;
  get(name: string): Promise<string | undefined>;
  /** The secret, made by `make` and kept when there is none yet: whoever comes second gets the first one's. */
  getOrCreate(name: string, make: () => string | Promise<string>): Promise<string>;
  /**
   * Replaces the secret by what `change` makes of it (undefined: none yet), with nobody else
   * changing it meanwhile; `change` returning undefined leaves it as it is.
   */
  update(
    name: string,
    change: (current: string | undefined) => Promise<string | undefined>,
  ): Promise<string | undefined>;
  /** Every secret there is, by name (for `confab db copy`). */
  list(): Promise<Map<string, string>>;
}

/** The changes under way of each secret file, by path. */
const fileChanges = new Map<string, Promise<unknown>>();

/** The data dir's files, mode 0600 in folders of mode 0700. */
export class FileSecrets implements SecretStore {
  constructor(readonly where: string) {}

  /** The known names, so `list` does not read every file of the data dir. */
  static readonly names = [
    'identity/cookie.key',
    'identity/signing-keys.json',
    'signaling/pair-hash.key',
    'bridge-secret.key',
    'guest-request-key.pem',
  ];

  file(name: string): string {
    return path.join(this.where, name);
  }

  async get(name: string): Promise<string | undefined> {
    try {
      return readFileSync(this.file(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async getOrCreate(name: string, make: () => string | Promise<string>): Promise<string> {
    const found = await this.get(name);
    if (found !== undefined) return found;
    const value = await make();
    const file = this.file(name);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, value, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process made it first: theirs stands.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
      throw err;
    }
    chmodSync(file, 0o600);
    return value;
  }

  async update(
    name: string,
    change: (current: string | undefined) => Promise<string | undefined>,
  ): Promise<string | undefined> {
    // One change at a time per file in this process (the data dir is one server's).
    const file = this.file(name);
    const before = fileChanges.get(file) ?? Promise.resolve();
    const done = before.then(() => this.#update(name, change));
    const settled = done.catch(() => {});
    fileChanges.set(file, settled);
    void settled.then(() => {
      if (fileChanges.get(file) === settled) fileChanges.delete(file);
    });
    return done;
  }

  async #update(
    name: string,
    change: (current: string | undefined) => Promise<string | undefined>,
  ): Promise<string | undefined> {
    const current = await this.get(name);
    const next = await change(current);
    if (next === undefined) return current;
    const file = this.file(name);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Its own temporary file: another process writing the same secret cannot clobber it.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, next, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    return next;
  }

  async list(): Promise<Map<string, string>> {
    const all = new Map<string, string>();
    for (const name of FileSecrets.names) {
      const value = await this.get(name);
      if (value !== undefined) all.set(name, value);
    }
    return all;
  }
}

/** The database's `secrets` table. */
export class SqlSecrets implements SecretStore {
  readonly where = 'the database';

  constructor(private readonly db: Sql) {}

  async get(name: string): Promise<string | undefined> {
    return (
      await this.db.get<{ value: string }>('SELECT value FROM secrets WHERE name = ?', [name])
    )?.value;
  }

  async getOrCreate(name: string, make: () => string | Promise<string>): Promise<string> {
    const found = await this.get(name);
    if (found !== undefined) return found;
    const value = await make();
    await this.db.run(
      'INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
      [name, value, Date.now()],
    );
    return (await this.get(name)) as string;
  }

  async update(
    name: string,
    change: (current: string | undefined) => Promise<string | undefined>,
  ): Promise<string | undefined> {
    const d = dialectOf(this.db.dialect);
    return this.db.transaction(async (tx) => {
      if (d.lock) await tx.get(d.lock, [`confab.secret.${name}`]);
      const current = (
        await tx.get<{ value: string }>('SELECT value FROM secrets WHERE name = ?', [name])
      )?.value;
      const next = await change(current);
      if (next === undefined) return current;
      await tx.run(
        `INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [name, next, Date.now()],
      );
      return next;
    });
  }

  async list(): Promise<Map<string, string>> {
    const rows = await this.db.all<{ name: string; value: string }>(
      'SELECT name, value FROM secrets ORDER BY name',
    );
    return new Map(rows.map((r) => [r.name, r.value]));
  }
}
