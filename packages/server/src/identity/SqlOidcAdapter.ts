import { createHash } from 'node:crypto';
import { dialectOf, type Sql } from '../storage/index.js';

type Payload = Record<string, unknown> & {
  jti?: string;
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
  returnTo?: string;
  session?: Record<string, unknown> & { cookie?: string };
};

interface Row {
  payload: string;
  expires_at: number | null;
  consumed: number;
}

/**
 * How an artifact's value (a refresh token, a code, a session or interaction id, a grant id...)
 * is stored: the row id and the `uid` and `user_code` columns hold its SHA-256, so that a copy
 * of the database holds nothing oidc-provider would accept.
 */
export function storedId(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Stands for the interaction's own id at the end of its resume URL. */
const ownIdMarker = ':uid';

/**
 * The payload as stored: without the value itself. oidc-provider puts it in as `jti`, which
 * `find` puts back from the value it is asked for. An interaction also names it at the end of its
 * resume URL (`returnTo`), and its session's id as `session.cookie`, which the library writes
 * for the application but never reads (nor does Confab): dropped.
 *
 * Left as they are, none of which redeems anything: `grantId` (the library revokes by it), a
 * session's `uid` (tokens name their session by it; the library reads it from the payload), an
 * interaction's `parJti` (a pushed request's reference only starts a sign-in), and a device
 * code's `userCode` and an interaction's `deviceCode` (the device flow is off).
 */
function unlink(model: string, id: string, payload: Payload): Payload {
  const { jti: _, ...stored } = payload;
  if (model === 'Interaction') {
    if (typeof stored.returnTo === 'string' && stored.returnTo.endsWith(`/${id}`))
      stored.returnTo = `${stored.returnTo.slice(0, -id.length)}${ownIdMarker}`;
    if (stored.session) {
      const { cookie: __, ...session } = stored.session;
      stored.session = session;
    }
  }
  return stored;
}

function relink(model: string, id: string, stored: Payload): Payload {
  if (model === 'Interaction' && stored.returnTo?.endsWith(`/${ownIdMarker}`))
    stored.returnTo = `${stored.returnTo.slice(0, -ownIdMarker.length)}${id}`;
  return { ...stored, jti: id };
}

/**
 * oidc-provider's storage in Confab's database (SQLite or PostgreSQL): sessions, interactions,
 * grants, codes and refresh tokens survive a restart, and every node on one database shares
 * them. Values are stored hashed (`storedId`, `unlink`). Expired rows are ignored on read and
 * purged by `purgeExpired`. A database that cannot be reached throws `DatabaseUnavailable`,
 * which the identity provider answers with 503.
 */
export function sqlOidcAdapter(db: Sql) {
  const d = dialectOf(db.dialect);
  const select = 'SELECT payload, expires_at, consumed FROM oidc_payloads WHERE model = ? AND';

  const read = (row: Row | undefined): Payload | undefined => {
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as Payload;
    if (row.consumed) payload.consumed = row.consumed;
    return payload;
  };

  return class SqlOidcAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      await db.run(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at, consumed = 0`,
        [
          this.model,
          storedId(id),
          JSON.stringify(unlink(this.model, id, payload)),
          payload.grantId ?? null,
          payload.userCode ? storedId(payload.userCode) : null,
          payload.uid ? storedId(payload.uid) : null,
          expiresIn ? Date.now() + expiresIn * 1000 : null,
        ],
      );
    }

    async find(id: string): Promise<Payload | undefined> {
      const stored = read(await db.get<Row>(`${select} id = ?`, [this.model, storedId(id)]));
      return stored && relink(this.model, id, stored);
    }

    /**
     * A session by its uid, without its jti (the session id: only its hash is stored), so the
     * Session the library makes of it gets a random one. That is enough for the library's two
     * callers (oidc-provider 9): `checkSessionBinding` (models/token_helpers.js) reads its
     * `accountId` and `grantIdFor()`, `#getInteraction` (provider.js) its `accountId`, and
     * neither saves nor destroys it.
     */
    async findByUid(uid: string): Promise<Payload | undefined> {
      return read(await db.get<Row>(`${select} uid = ?`, [this.model, storedId(uid)]));
    }

    /**
     * A device code by its user code, without its jti: the device flow would need the code back
     * to save it, but Confab does not enable that flow.
     */
    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      return read(await db.get<Row>(`${select} user_code = ?`, [this.model, storedId(userCode)]));
    }

    async consume(id: string): Promise<void> {
      await db.run('UPDATE oidc_payloads SET consumed = ? WHERE model = ? AND id = ?', [
        Math.floor(Date.now() / 1000),
        this.model,
        storedId(id),
      ]);
    }

    async destroy(id: string): Promise<void> {
      await db.run('DELETE FROM oidc_payloads WHERE model = ? AND id = ?', [
        this.model,
        storedId(id),
      ]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.run('DELETE FROM oidc_payloads WHERE grant_id = ?', [grantId]);
    }

    static async purgeExpired(): Promise<number> {
      return (
        await db.run('DELETE FROM oidc_payloads WHERE expires_at IS NOT NULL AND expires_at < ?', [
          Date.now(),
        ])
      ).changes;
    }

    /**
     * Which of `ids` (values, as oidc-provider knows them) have a live row of `model`: there,
     * unexpired and not consumed. E.g. `liveIds('Grant', grantIds)`: the grants still standing.
     */
    static async liveIds(model: string, ids: string[]): Promise<Set<string>> {
      const byStoredId = new Map(ids.map((id) => [storedId(id), id]));
      const live = new Set<string>();
      if (byStoredId.size === 0) return live;
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM oidc_payloads WHERE model = ? AND ${d.inList('id')}
         AND consumed = 0 AND (expires_at IS NULL OR expires_at > ?)`,
        [model, d.list([...byStoredId.keys()]), Date.now()],
      );
      for (const row of rows) live.add(byStoredId.get(row.id) as string);
      return live;
    }
  };
}
