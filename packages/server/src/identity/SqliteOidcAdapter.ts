import type { Database } from '../storage/index.js';

type Payload = Record<string, unknown> & {
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
};

interface Row {
  payload: string;
  expires_at: number | null;
  consumed: number;
}

/**
 * oidc-provider's storage in the SQLite database: sessions, interactions, grants, codes and
 * refresh tokens survive a restart, and several processes could share them. Expired rows are
 * ignored on read and purged by `purgeExpired`.
 */
export function sqliteOidcAdapter(db: Database) {
  const stmts = {
    upsert: db.prepare(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at) VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt)
       ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at, consumed = 0`,
    ),
    find: db.prepare<[string, string], Row>(
      'SELECT payload, expires_at, consumed FROM oidc_payloads WHERE model = ? AND id = ?',
    ),
    findByUid: db.prepare<[string, string], Row>(
      'SELECT payload, expires_at, consumed FROM oidc_payloads WHERE model = ? AND uid = ?',
    ),
    findByUserCode: db.prepare<[string, string], Row>(
      'SELECT payload, expires_at, consumed FROM oidc_payloads WHERE model = ? AND user_code = ?',
    ),
    consume: db.prepare<[number, string, string]>(
      'UPDATE oidc_payloads SET consumed = ? WHERE model = ? AND id = ?',
    ),
    destroy: db.prepare<[string, string]>('DELETE FROM oidc_payloads WHERE model = ? AND id = ?'),
    revokeByGrantId: db.prepare<[string]>('DELETE FROM oidc_payloads WHERE grant_id = ?'),
    purge: db.prepare<[number]>(
      'DELETE FROM oidc_payloads WHERE expires_at IS NOT NULL AND expires_at < ?',
    ),
  };

  const read = (row: Row | undefined): Payload | undefined => {
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as Payload;
    if (row.consumed) payload.consumed = row.consumed;
    return payload;
  };

  return class SqliteOidcAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      stmts.upsert.run({
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grantId: payload.grantId ?? null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null,
      });
    }

    async find(id: string): Promise<Payload | undefined> {
      return read(stmts.find.get(this.model, id));
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      return read(stmts.findByUid.get(this.model, uid));
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      return read(stmts.findByUserCode.get(this.model, userCode));
    }

    async consume(id: string): Promise<void> {
      stmts.consume.run(Math.floor(Date.now() / 1000), this.model, id);
    }

    async destroy(id: string): Promise<void> {
      stmts.destroy.run(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      stmts.revokeByGrantId.run(grantId);
    }

    static purgeExpired(): number {
      return stmts.purge.run(Date.now()).changes;
    }
  };
}
