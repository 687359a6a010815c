import type { Database } from '../storage/index.js';

/** A guest: a subject of its own, the name it chose, and the one room path it may join. */
export interface Guest {
  id: string;
  name: string;
  path: string;
}

/** Guest identities in SQLite, kept `ttlSeconds` after they last signed in (then purged). */
export class GuestStore {
  readonly #put;
  readonly #find;
  readonly #purge;

  constructor(
    db: Database,
    private readonly ttlSeconds: number,
  ) {
    this.#put = db.prepare(
      `INSERT INTO guests (id, name, path, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
    );
    this.#find = db.prepare('SELECT id, name, path FROM guests WHERE id = ? AND expires_at > ?');
    this.#purge = db.prepare('DELETE FROM guests WHERE expires_at <= ?');
  }

  /** Records a guest, or extends it; a known id keeps its first name and path. */
  put(guest: Guest): Guest {
    const now = Math.floor(Date.now() / 1000);
    this.#put.run(guest.id, guest.name, guest.path, now, now + this.ttlSeconds);
    return this.find(guest.id) ?? guest;
  }

  find(id: string): Guest | undefined {
    return this.#find.get(id, Math.floor(Date.now() / 1000)) as Guest | undefined;
  }

  purgeExpired(): void {
    this.#purge.run(Math.floor(Date.now() / 1000));
  }
}
