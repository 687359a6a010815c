import type { Sql } from '../storage/index.js';

/** A guest: a subject of its own, the name it chose, and the one room path it may join. */
export interface Guest {
  id: string;
  name: string;
  path: string;
}

/** Guest identities in Confab's database, kept `ttlSeconds` after they last signed in (then purged). */
export class GuestStore {
  constructor(
    private readonly db: Sql,
    private readonly ttlSeconds: number,
  ) {}

  /** Records a guest, or extends it; a known id keeps its first name and path. */
  async put(guest: Guest): Promise<Guest> {
    const now = Math.floor(Date.now() / 1000);
    await this.db.run(
      `INSERT INTO guests (id, name, path, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
      [guest.id, guest.name, guest.path, now, now + this.ttlSeconds],
    );
    return (await this.find(guest.id)) ?? guest;
  }

  async find(id: string): Promise<Guest | undefined> {
    return this.db.get<Guest>('SELECT id, name, path FROM guests WHERE id = ? AND expires_at > ?', [
      id,
      Math.floor(Date.now() / 1000),
    ]);
  }

  async purgeExpired(): Promise<void> {
    await this.db.run('DELETE FROM guests WHERE expires_at <= ?', [Math.floor(Date.now() / 1000)]);
  }
}
