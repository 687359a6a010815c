import { randomUUID } from 'node:crypto';
import { type Dialect, dialectOf, type Sql, SqliteSql } from '../storage/index.js';
import { DirectoryError } from './DirectoryError.js';
import { burnPasswordCheck, hashPassword, verifyPassword } from './password.js';
import type { User, UserQuery, UserStore } from './User.js';

export interface NewUser {
  username: string;
  displayName: string;
  mail?: string;
  jobTitle?: string;
  password: string;
}

interface Row {
  id: string;
  username: string;
  display_name: string;
  mail: string;
  job_title: string;
  password_hash: string;
}

/** Lower-case letters, digits and . _ - @, starting with a letter or digit, at most 64. */
const usernamePattern = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const mailPattern = /^[^\s@]+@[^\s@]+$/;

function toUser(row: Row): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    mail: row.mail,
    jobTitle: row.job_title,
  };
}

function searchText(u: { username: string; displayName: string; mail: string }): string {
  return `${u.username}\n${u.displayName}\n${u.mail}`.toLowerCase();
}

/**
 * The built-in directory: users in Confab's database (SQLite or PostgreSQL). Every call asks the
 * database, so users that `confab user` adds while the server runs can sign in at once.
 */
export class SqlUserStore implements UserStore {
  readonly kind = 'builtin';
  readonly #d: Dialect;

  constructor(private readonly db: Sql) {
    this.#d = dialectOf(db.dialect);
  }

  async authenticate(username: string, password: string): Promise<User | undefined> {
    const row = await this.#byUsername(username.trim().toLowerCase());
    if (!row) {
      await burnPasswordCheck(password);
      return undefined;
    }
    return (await verifyPassword(password, row.password_hash)) ? toUser(row) : undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM users WHERE id = ?', [id]);
    return row ? toUser(row) : undefined;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    const rows = await this.db.all<{ id: string }>(
      `SELECT id FROM users WHERE ${this.#d.inList('id')}`,
      [this.#d.list(ids)],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Polls, once a second, a figure that another process's change moves: SQLite's
   * `data_version` (any commit of another connection, the `confab user` command's among them:
   * it also catches a grant deleted by hand), or on PostgreSQL how many users there are and
   * their latest change (another node, or `confab user`, removed or changed one). A database
   * that does not answer is asked again at the next tick.
   */
  watch(onChange: () => void): () => void {
    const db = this.db;
    const version =
      db instanceof SqliteSql
        ? async () => String(db.db.pragma('data_version', { simple: true }))
        : async () =>
            JSON.stringify(await db.get('SELECT count(*) AS n, max(updated_at) AS at FROM users'));
    let seen: string | undefined;
    let asking = false;
    const tick = async () => {
      if (asking) return;
      asking = true;
      try {
        const now = await version();
        if (seen !== undefined && now !== seen) onChange();
        seen = now;
      } catch {
        // The next tick asks again.
      } finally {
        asking = false;
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.#byUsername(username.toLowerCase());
    return row ? toUser(row) : undefined;
  }

  #byUsername(username: string): Promise<Row | undefined> {
    return this.db.get<Row>('SELECT * FROM users WHERE username = ?', [username]);
  }

  async search(query: UserQuery): Promise<User[]> {
    const rows = await this.db.all<Row>(
      `SELECT * FROM users WHERE ${this.#d.contains('search_text')} ORDER BY ${this.#d.orderNoCase('display_name')}, id LIMIT ? OFFSET ?`,
      [this.#d.containsParam((query.search ?? '').toLowerCase()), query.top, query.skip],
      // A rare term is best found through the trigram index, a common one along the names.
      { planEachTime: true },
    );
    return rows.map(toUser);
  }

  async count(): Promise<number> {
    return Number((await this.db.get<{ n: number }>('SELECT count(*) AS n FROM users'))?.n ?? 0);
  }

  async add(input: NewUser): Promise<User> {
    const username = input.username.trim().toLowerCase();
    if (!usernamePattern.test(username)) {
      throw new DirectoryError(
        'invalid_user',
        `invalid username "${input.username}": use up to 64 lower-case letters, digits and . _ - @`,
      );
    }
    const displayName = input.displayName.trim();
    if (!displayName || displayName.length > 128)
      throw new DirectoryError('invalid_user', 'the display name must have 1 to 128 characters');
    const mail = (input.mail ?? '').trim();
    if (mail && (!mailPattern.test(mail) || mail.length > 254))
      throw new DirectoryError('invalid_user', `invalid mail address "${mail.slice(0, 300)}"`);
    if (!input.password) throw new DirectoryError('invalid_user', 'the password must not be empty');
    if (await this.findByUsername(username))
      throw new DirectoryError('user_exists', `user "${username}" already exists`);
    const user: User = {
      id: randomUUID(),
      username,
      displayName,
      mail,
      jobTitle: (input.jobTitle ?? '').trim(),
    };
    const passwordHash = await hashPassword(input.password);
    const now = Date.now();
    const inserted = await this.db.run(
      `INSERT INTO users (id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING`,
      [
        user.id,
        username,
        displayName,
        mail,
        user.jobTitle,
        passwordHash,
        searchText(user),
        now,
        now,
      ],
    );
    if (inserted.changes === 0)
      throw new DirectoryError('user_exists', `user "${username}" already exists`);
    return user;
  }

  async remove(username: string): Promise<void> {
    const { changes } = await this.db.run('DELETE FROM users WHERE username = ?', [
      username.toLowerCase(),
    ]);
    if (changes === 0) throw new DirectoryError('user_not_found', `no user "${username}"`);
  }

  async setPassword(username: string, password: string): Promise<void> {
    if (!password) throw new DirectoryError('invalid_user', 'the password must not be empty');
    const hash = await hashPassword(password);
    const { changes } = await this.db.run(
      'UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?',
      [hash, Date.now(), username.toLowerCase()],
    );
    if (changes === 0) throw new DirectoryError('user_not_found', `no user "${username}"`);
  }

  /** Everyone, by username (the CLI's `user list`). */
  async list(): Promise<User[]> {
    return (await this.db.all<Row>('SELECT * FROM users ORDER BY username')).map(toUser);
  }

  async close(): Promise<void> {
    // The database belongs to the caller that opened it.
  }
}
