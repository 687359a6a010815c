/**
 * Users for benchmarks, without the cost of signing each in: `seedUsers` writes them straight
 * into a data dir's database (`user-<i>`, display name `User <i>`), and `tokenMinter` signs
 * access tokens for them with the server's own key (the load generator's shortcut; the server
 * checks them in full).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { importJWK, type JWK, SignJWT } from 'jose';
import { openSqlite } from '../packages/server/src/storage/index.js';

export function seedUsers(dataDir: string, count: number): void {
  const db = openSqlite(dataDir).db;
  const insert = db.prepare(
    "INSERT INTO users (id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at) VALUES (?, ?, ?, '', '', 'x', ?, 0, 0)",
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`user-${i}`, `user${i}`, `User ${i}`, `user${i}`);
  })();
  db.close();
}

/** Access tokens for `user-<i>` of a running server (its data dir and public origin), valid 1 h. */
export async function tokenMinter(
  dataDir: string,
  origin: string,
): Promise<(i: number) => Promise<string>> {
  const stored = JSON.parse(
    readFileSync(path.join(dataDir, 'identity/signing-keys.json'), 'utf8'),
  ) as { keys: { kid: string; alg: string; jwk: JWK }[] };
  const es = stored.keys.find((k) => k.alg === 'ES256') as { kid: string; jwk: JWK };
  const key = await importJWK(es.jwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  return (i) =>
    new SignJWT({ scope: 'kopano/kwm kopano/gc', client_id: 'bench' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: es.kid })
      .setIssuer(origin)
      .setAudience(`${origin}/api`)
      .setSubject(`user-${i}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
}
