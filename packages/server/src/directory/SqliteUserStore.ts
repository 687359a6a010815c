import { randomUUID } from 'node:crypto';
import type { Database } from '../storage/index.js';
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
 * The built-in directory: users in the data dir's SQLite database. Every call reads the file,
 * so users that `confab user` adds while the server runs can sign in at once.
 */
export class SqliteUserStore implements UserStore {
  readonly kind = 'builtin';
  readonly #stmts;

  constructor(private readonly db: Database) {
    this.#stmts = {
      byUsername: db.prepare<[string], Row>('SELECT * FROM users WHERE username = ?'),
      byId: db.prepare<[string], Row>('SELECT * FROM users WHERE id = ?'),
      existing: db.prepare<[string]>(
        'SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?))',
      ),
      search: db.prepare<[string, number, number], Row>(
        'SELECT * FROM users WHERE instr(search_text, ?) > 0 ORDER BY display_name COLLATE NOCASE, id LIMIT ? OFFSET ?',
      ),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users'),
      insert: db.prepare(
        'INSERT INTO users (id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at) VALUES (@id, @username, @displayName, @mail, @jobTitle, @passwordHash, @searchText, @now, @now)',
      ),
      remove: db.prepare<[string]>('DELETE FROM users WHERE username = ?'),
      setPassword: db.prepare<[string, number, string]>(
        'UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?',
      ),
    };
  }

  async authenticate(username: string, password: string): Promise<User | undefined> {
    const row = this.#stmts.byUsername.get(username.trim().toLowerCase());
    if (!row) {
      await burnPasswordCheck(password);
      return undefined;
    }
    return (await verifyPassword(password, row.password_hash)) ? toUser(row) : undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    const row = this.#stmts.byId.get(id);
    return row ? toUser(row) : undefined;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const id of this.#stmts.existing.pluck().iterate(JSON.stringify(ids)))
      found.add(id as string);
    return found;
  }

  /**
   * SQLite's `data_version` changes when another connection (the `confab user` command) commits:
   * polled once a second, which costs next to nothing.
   */
  watch(onChange: () => void): () => void {
    const version = () => this.db.pragma('data_version', { simple: true }) as number;
    let seen = version();
    const timer = setInterval(() => {
      const now = version();
      if (now === seen) return;
      seen = now;
      onChange();
    }, 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  findByUsername(username: string): User | undefined {
    const row = this.#stmts.byUsername.get(username.toLowerCase());
    return row ? toUser(row) : undefined;
  }

  async search(query: UserQuery): Promise<User[]> {
    return this.#stmts.search
      .all((query.search ?? '').toLowerCase(), query.top, query.skip)
      .map(toUser);
  }

  count(): number {
    return (this.#stmts.count.get() as { n: number }).n;
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
    if (mail && !mailPattern.test(mail))
      throw new DirectoryError('invalid_user', `invalid mail address "${mail}"`);
    if (!input.password) throw new DirectoryError('invalid_user', 'the password must not be empty');
    if (this.findByUsername(username))
      throw new DirectoryError('user_exists', `user "${username}" already exists`);
    const user: User = {
      id: randomUUID(),
      username,
      displayName,
      mail,
      jobTitle: (input.jobTitle ?? '').trim(),
    };
    const passwordHash = await hashPassword(input.password);
    try {
      this.#stmts.insert.run({
        ...user,
        passwordHash,
        searchText: searchText(user),
        now: Date.now(),
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new DirectoryError('user_exists', `user "${username}" already exists`);
      throw err;
    }
    return user;
  }

  remove(username: string): void {
    if (this.#stmts.remove.run(username.toLowerCase()).changes === 0) {
      throw new DirectoryError('user_not_found', `no user "${username}"`);
    }
  }

  async setPassword(username: string, password: string): Promise<void> {
    if (!password) throw new DirectoryError('invalid_user', 'the password must not be empty');
    const hash = await hashPassword(password);
    if (this.#stmts.setPassword.run(hash, Date.now(), username.toLowerCase()).changes === 0) {
      throw new DirectoryError('user_not_found', `no user "${username}"`);
    }
  }

  /** Everyone, by username (the CLI's `user list`). */
  list(): User[] {
    return this.db.prepare<[], Row>('SELECT * FROM users ORDER BY username').all().map(toUser);
  }

  async close(): Promise<void> {
    // The database belongs to the caller that opened it.
  }
}
