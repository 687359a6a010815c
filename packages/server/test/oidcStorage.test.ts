import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import {
  type CookieJar,
  follow,
  postSignIn,
  signInOverHttp,
} from '../../../test/support/oidcFlow.js';
import type { SqlUserStore } from '../src/directory/index.js';
import { storedId } from '../src/identity/SqlOidcAdapter.js';
import { sqlite } from '../src/storage/dialect.js';
import { migrations } from '../src/storage/migrations.js';
import { startTestServer, type TestServer } from './helpers.js';

// The public web client: no secret, so a refresh token alone is enough to use it.
const web = (server: TestServer) => ({
  clientId: `kpop-${server.url}/meet/`,
  redirectUri: `${server.url}/meet/oidc-callback`,
});

async function startWithAlice(opts: { dir?: string; listen?: string } = {}) {
  const server = await startTestServer(opts);
  if (!opts.dir)
    await (server.store as SqlUserStore).add({
      username: 'alice',
      displayName: 'Alice Liddell',
      password: 'wonderland',
    });
  return server;
}

async function token(server: TestServer, params: Record<string, string>) {
  const res = await fetch(new URL('/konnect/v1/token', server.localUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: web(server).clientId, ...params }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** Alice signs in to the web app, staying signed in: the code and the tokens it gave. */
async function signIn(server: TestServer) {
  const { clientId, redirectUri } = web(server);
  const flow = await signInOverHttp({
    base: server.localUrl,
    clientId,
    redirectUri,
    scope: 'openid profile offline_access kopano/kwm',
    username: 'alice',
    password: 'wonderland',
  });
  const { status, body } = await token(server, {
    grant_type: 'authorization_code',
    code: flow.code,
    code_verifier: flow.pkce.verifier,
    redirect_uri: redirectUri,
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.ok(body.refresh_token, 'a refresh token');
  return { jar: flow.jar, code: flow.code, refreshToken: body.refresh_token as string };
}

/**
 * Leaves a sign-in page open (prompt=login, in a signed-in browser): its interaction names the
 * session. Returns the form to post later.
 */
async function openSignInPage(server: TestServer, jar: CookieJar) {
  const { clientId, redirectUri } = web(server);
  const u = new URL('/signin/v1/identifier/_/authorize', server.localUrl);
  u.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid',
    prompt: 'login',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'open-page',
  }).toString();
  const page = await follow(jar, server.localUrl, await jar.fetch(u));
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !csrf) throw new Error(`no sign-in form (${page.status}): ${html.slice(0, 200)}`);
  return { action: new URL(action.replaceAll('&#38;', '&'), server.localUrl).href, csrf };
}

/** Values a browser holds that oidc-provider would accept: the session and interaction ids. */
function cookieValues(jar: CookieJar): string[] {
  const values = ['_session', '_interaction'].map((name) => jar.cookies.get(name));
  assert.ok(
    values.every((v) => v && v.length >= 20),
    `session and interaction cookies: ${[...jar.cookies.keys()]}`,
  );
  return values as string[];
}

const dbFile = (server: TestServer) => path.join(server.dataDir, 'confab.sqlite');

/** Every row of oidc_payloads as text, and the database's files as bytes. */
function stored(file: string): { rows: string; bytes: string } {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const rows = JSON.stringify(db.prepare('SELECT * FROM oidc_payloads').all());
    const bytes = [file, `${file}-wal`]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('');
    return { rows, bytes };
  } finally {
    db.close();
  }
}

function assertNotStored(file: string, values: Record<string, string>): void {
  const { rows, bytes } = stored(file);
  for (const [name, value] of Object.entries(values)) {
    assert.ok(!rows.includes(value), `${name} is in oidc_payloads`);
    assert.ok(!bytes.includes(value), `${name} is in the database's files`);
  }
}

describe('OIDC artifacts are stored hashed', () => {
  test('no row holds a refresh token, code, session or interaction id; refreshing works and rotates', async () => {
    const server = await startWithAlice();
    try {
      const { jar, code, refreshToken } = await signIn(server);
      await openSignInPage(server, jar);
      const [sessionId, interactionId] = cookieValues(jar) as [string, string];
      const refreshed = await token(server, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const next = refreshed.body.refresh_token as string;
      assert.ok(next && next !== refreshToken, 'a new refresh token');
      const raw = {
        code,
        'the refresh token': refreshToken,
        'the rotated refresh token': next,
        'the session id': sessionId,
        'the interaction id': interactionId,
      };
      assertNotStored(dbFile(server), raw);
      // What is stored instead (before a reuse below revokes the grant, and its rows with it).
      const db = new BetterSqlite3(dbFile(server), { readonly: true });
      try {
        const ids = new Set(
          (db.prepare('SELECT id FROM oidc_payloads').all() as { id: string }[]).map((r) => r.id),
        );
        for (const [name, value] of Object.entries(raw))
          assert.ok(ids.has(storedId(value)), `${name} is stored hashed`);
      } finally {
        db.close();
      }

      const again = await token(server, { grant_type: 'refresh_token', refresh_token: next });
      assert.equal(again.status, 200, 'the new one works');
      const reused = await token(server, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      assert.equal(reused.body.error, 'invalid_grant', 'the used one is refused');
    } finally {
      await server.close();
    }
  });

  test('an upgrade hashes the rows in place: the old refresh token, session and open sign-in page still work', async () => {
    const first = await startWithAlice();
    const { jar, code, refreshToken } = await signIn(first);
    const form = await openSignInPage(first, jar);
    const [sessionId, interactionId] = cookieValues(jar) as [string, string];
    const { dir, localUrl } = first;
    const file = dbFile(first);
    await first.close();

    // The database as the Confab before this migration left it: a new file with the migrations
    // before it only (a later one would run again), alice, and the OIDC rows in the old format:
    // values as ids, as uid and as jti.
    const hashed = migrations.findIndex((m) => m.name === 'oidc payloads hashed');
    assert.ok(hashed > 0, 'the migration is there');
    type Row = {
      model: string;
      id: string;
      payload: string;
      grant_id: string | null;
      expires_at: number | null;
      consumed: number;
    };
    const current = new BetterSqlite3(file, { readonly: true });
    const users = current
      .prepare(
        'SELECT id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at FROM users',
      )
      .all() as Record<string, unknown>[];
    const rows = current
      .prepare('SELECT model, id, payload, grant_id, expires_at, consumed FROM oidc_payloads')
      .all() as Row[];
    current.close();
    assert.deepEqual([...new Set(rows.map((r) => r.model))].sort(), [
      'AuthorizationCode',
      'Grant',
      'Interaction',
      'RefreshToken',
      'Session',
    ]);
    const known = [code, refreshToken, sessionId, interactionId];
    for (const r of rows) if (r.grant_id) known.push(r.grant_id);
    const knownById = new Map(known.map((v) => [storedId(v), v]));
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    const old = new BetterSqlite3(file);
    try {
      old.pragma('journal_mode = WAL');
      for (const m of migrations.slice(0, hashed)) old.exec(m.sql(sqlite));
      old.pragma(`user_version = ${hashed}`);
      const addUser = old.prepare(
        `INSERT INTO users (id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at)
         VALUES (@id, @username, @display_name, @mail, @job_title, @password_hash, @search_text, @created_at, @updated_at)`,
      );
      for (const u of users) addUser.run(u);
      const addRow = old.prepare(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, expires_at, consumed)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const r of rows) {
        const value = knownById.get(r.id);
        assert.ok(value, `a ${r.model} row of a value this test knows`);
        const p = JSON.parse(r.payload) as Record<string, unknown> & {
          uid?: string;
          returnTo?: string;
          session?: Record<string, unknown>;
        };
        if (r.model === 'Interaction') {
          p.returnTo = p.returnTo?.replace(/:uid$/, value);
          if (p.session) p.session.cookie = sessionId;
        }
        const payload = JSON.stringify({ ...p, jti: value });
        addRow.run(r.model, value, payload, r.grant_id, p.uid ?? null, r.expires_at, r.consumed);
      }
    } finally {
      old.close();
    }
    assert.ok(stored(file).bytes.includes(refreshToken), 'the old format holds the values');

    // The same origin (same port): the web client's id is made from it.
    const second = await startWithAlice({ dir, listen: new URL(localUrl).host });
    try {
      assertNotStored(file, {
        code,
        'the refresh token': refreshToken,
        'the session id': sessionId,
        'the interaction id': interactionId,
      });
      const refreshed = await token(second, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      // The sign-in page left open completes (its interaction and session were found).
      const done = await follow(
        jar,
        second.localUrl,
        await postSignIn(jar, form.action, form.csrf, 'alice', 'wonderland'),
      );
      const back = new URL(done.finalUrl || 'about:blank');
      assert.equal(back.searchParams.get('state'), 'open-page', `${done.status} ${done.finalUrl}`);
      assert.ok(back.searchParams.get('code'), 'with a code');
    } finally {
      await second.close();
    }
  });
});
