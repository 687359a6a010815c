// Confab on a real PostgreSQL (a throwaway cluster, test/postgres.ts), as an organisation runs it:
// `confab serve` and `confab user` with database_url, restarts, a database that goes away and
// comes back, `confab db copy` from SQLite, and two nodes starting on one empty database.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import pg from 'pg';
import { type ConfabProcess, runConfab, startConfab } from '../../../test/support/confabProcess.js';
import { signInOverHttp, testRp, tokensFor } from '../../../test/support/oidcFlow.js';
import { RtmClient } from '../../../test/support/rtmClient.js';
import { migrations } from '../src/storage/index.js';
import { postgresPassword, startPostgres, type TestPostgres } from './postgres.js';

const registry = `clients:\n  - id: ${testRp.id}\n    secret: ${testRp.secret}\n    trusted: true\n    redirect_uris: [${testRp.redirectUri}]\n`;

let cluster: TestPostgres;
let databases = 0;
before(async () => {
  cluster = await startPostgres();
});
after(() => cluster?.destroy());

/** A folder with confab.yaml naming a new database (the password in a file) and the registry. */
async function nodeDir(database?: string): Promise<{ dir: string; config: string; url: string }> {
  const name = database ?? `confab_${++databases}`;
  if (!database) await cluster.createDatabase(name);
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-pg-node-'));
  writeFileSync(path.join(dir, 'db-password'), `${postgresPassword}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'registry.yaml'), registry);
  const config = `database_url: ${cluster.url(name)}\ndatabase_password_file: db-password\nidentifier_registration_conf: registry.yaml\n`;
  writeFileSync(path.join(dir, 'confab.yaml'), config);
  return { dir, config, url: cluster.url(name) };
}

function serve(dir: string, config: string, listen?: string): Promise<ConfabProcess> {
  return startConfab({ dir, config, ...(listen ? { listen } : {}) });
}

async function addUser(dir: string, username: string, name: string, password: string) {
  const res = await runConfab(
    ['user', 'add', username, '--name', name, '--password-stdin', '--config', 'confab.yaml'],
    { cwd: dir, input: `${password}\n` },
  );
  assert.equal(res.code, 0, res.stderr);
}

/** The web app's sign-in (a public client, staying signed in): its browser session and tokens. */
async function webSignIn(server: ConfabProcess, username: string, password: string) {
  const clientId = `kpop-${server.url}/meet/`;
  const redirectUri = `${server.url}/meet/oidc-callback`;
  const flow = await signInOverHttp({
    base: server.localUrl,
    clientId,
    redirectUri,
    scope: 'openid profile offline_access kopano/kwm kopano/gc',
    username,
    password,
  });
  const config = await webClient(server);
  const tokens = await oidc.authorizationCodeGrant(config, flow.redirect, {
    pkceCodeVerifier: flow.pkce.verifier,
    expectedState: flow.redirect.searchParams.get('state') as string,
  });
  assert.ok(tokens.refresh_token, 'a refresh token');
  return { jar: flow.jar, refreshToken: tokens.refresh_token as string };
}

function webClient(server: ConfabProcess) {
  return oidc.discovery(
    new URL(server.localUrl),
    `kpop-${server.url}/meet/`,
    undefined,
    oidc.None(),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
}

/** The signed-in browser asks again without a password (prompt=none): a code means the session stands. */
function authorizeRequest(server: ConfabProcess, prompt: string): URL {
  const u = new URL('/signin/v1/identifier/_/authorize', server.localUrl);
  u.search = new URLSearchParams({
    client_id: `kpop-${server.url}/meet/`,
    response_type: 'code',
    redirect_uri: `${server.url}/meet/oidc-callback`,
    scope: 'openid',
    prompt,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'again',
  }).toString();
  return u;
}

/** The signed-in browser asks again without a password (prompt=none): a code means the session stands. */
async function sessionStands(
  server: ConfabProcess,
  jar: Awaited<ReturnType<typeof webSignIn>>['jar'],
) {
  const u = authorizeRequest(server, 'none');
  let res = await jar.fetch(u);
  for (let i = 0; i < 5 && res.status >= 300 && res.status < 400; i++) {
    const next = new URL(res.headers.get('location') as string, server.localUrl);
    if (next.pathname.endsWith('/oidc-callback')) return next.searchParams.get('code') !== null;
    res = await jar.fetch(next);
  }
  return false;
}

async function addressBook(server: ConfabProcess, accessToken: string) {
  const res = await fetch(new URL('/api/gc/v1/users?$search=ali', server.localUrl), {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

describe('Confab on PostgreSQL', () => {
  test('users added with confab user sign in; after a restart (even from another data dir) their sessions and refresh tokens still work', async () => {
    const { dir, config } = await nodeDir();
    await addUser(dir, 'alice', 'Alice Liddell', 'wonderland');
    const list = await runConfab(['user', 'list', '--config', 'confab.yaml'], { cwd: dir });
    assert.match(list.stdout, /alice\s+Alice Liddell/);
    const first = await serve(dir, config);
    const listen = new URL(first.localUrl).host;
    const { jar, refreshToken } = await webSignIn(first, 'alice', 'wonderland');
    await first.stop();
    // Nothing of it was in the data dir: a node with a new one serves the same sign-ins.
    const other = mkdtempSync(path.join(tmpdir(), 'confab-pg-node-'));
    for (const f of ['confab.yaml', 'db-password', 'registry.yaml'])
      writeFileSync(path.join(other, f), readFile(dir, f), { mode: 0o600 });
    const second = await serve(other, config, listen);
    try {
      assert.equal(await sessionStands(second, jar), true, 'the browser is still signed in');
      const refreshed = await oidc.refreshTokenGrant(await webClient(second), refreshToken);
      assert.ok(refreshed.access_token);
      const book = await addressBook(second, refreshed.access_token);
      assert.equal(book.status, 200, JSON.stringify(book.body));
      assert.ok(
        readdirSync(path.join(other, 'data')).every((f) => !f.endsWith('.sqlite')),
        'no SQLite file',
      );
    } finally {
      await second.stop();
    }
  });

  test('a wrong password or a malformed URL stops the start: exit 2, one line naming database_url, never the password', async () => {
    const { dir } = await nodeDir();
    writeFileSync(path.join(dir, 'db-password'), 'not-the-password\n');
    const wrong = await runConfab(['serve', '--listen', '127.0.0.1:0', '--config', 'confab.yaml'], {
      cwd: dir,
    });
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(
      wrong.stderr,
      /database_url: postgres:\/\/postgres@127\.0\.0\.1:\d+\/confab_\d+: password authentication failed/,
    );
    assert.ok(!`${wrong.stdout}${wrong.stderr}`.includes('not-the-password'));

    writeFileSync(
      path.join(dir, 'confab.yaml'),
      `database_url: postgres://postgres:${postgresPassword}@/nohost\n`,
    );
    const malformed = await runConfab(['serve', '--config', 'confab.yaml'], { cwd: dir });
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(
      malformed.stderr.trim(),
      /^confab: [^\n]*database_url: expected postgres:\/\/USER@HOST/,
    );
    assert.equal(malformed.stderr.trim().split('\n').length, 1, 'one line');
    assert.ok(!`${malformed.stdout}${malformed.stderr}`.includes(postgresPassword));

    // A password in the query string (node-postgres would take it) is refused too.
    writeFileSync(
      path.join(dir, 'confab.yaml'),
      `database_url: postgres://postgres@127.0.0.1:${cluster.port}/x?password=${postgresPassword}\n`,
    );
    const inQuery = await runConfab(['serve', '--config', 'confab.yaml'], { cwd: dir });
    assert.equal(inQuery.code, 2, inQuery.stderr);
    assert.match(inQuery.stderr, /database_url: a password in the query string/);
    assert.ok(!`${inQuery.stdout}${inQuery.stderr}`.includes(postgresPassword));
  });

  test('the database stopped mid-run: sign-in, tokens and the address book answer 503 with Retry-After, signaling carries on, and all is back without a restart', async () => {
    const { dir, config } = await nodeDir();
    await addUser(dir, 'alice', 'Alice Liddell', 'wonderland');
    const server = await serve(dir, config);
    try {
      const tokens = await tokensFor(server.localUrl, 'alice', 'wonderland');
      const { jar, refreshToken } = await webSignIn(server, 'alice', 'wonderland');
      const rtm = await RtmClient.open(server.localUrl, tokens.access_token);
      cluster.stop();
      try {
        const book = await addressBook(server, tokens.access_token);
        assert.equal(book.status, 503);
        assert.equal((book.body as { error: { code: string } }).error.code, 'database_unavailable');
        assert.ok(Number(book.retryAfter) >= 1, `Retry-After ${book.retryAfter}`);
        const refresh = await fetch(new URL('/konnect/v1/token', server.localUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: refreshToken,
            client_id: `kpop-${server.url}/meet/`,
          }),
        });
        assert.equal(refresh.status, 503);
        assert.ok(Number(refresh.headers.get('retry-after')) >= 1);
        assert.equal(
          ((await refresh.json()) as { error: string }).error,
          'temporarily_unavailable',
        );
        // A browser that opens the sign-in: its session is in the database.
        const signin = await jar.fetch(authorizeRequest(server, 'none'));
        assert.equal(signin.status, 503, 'the sign-in answers 503');
        assert.ok(Number(signin.headers.get('retry-after')) >= 1);
        const health = await fetch(new URL('/health-check', server.localUrl));
        assert.equal(health.status, 200, 'the server itself is well');
        // Signaling in progress goes on, and a client that lost its connection gets back in
        // (its sign-in was found standing before the database went).
        rtm.send({ type: 'ping', ts: 1 });
        assert.equal((await rtm.next((m) => m.type === 'pong')).type, 'pong');
        const back = await RtmClient.open(server.localUrl, tokens.access_token);
        back.ws.close();
        // A sign-in never seen before waits for the database.
        const other = await tokensFor(server.localUrl, 'alice', 'wonderland').catch(
          (err: Error) => err,
        );
        assert.ok(other instanceof Error, 'no new sign-in without the database');
      } finally {
        cluster.start();
      }
      const until = Date.now() + 20_000;
      let book = await addressBook(server, tokens.access_token).catch(() => undefined);
      while (book?.status !== 200 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        book = await addressBook(server, tokens.access_token).catch(() => undefined);
      }
      assert.equal(book?.status, 200, 'the address book is back');
      const refreshed = await oidc.refreshTokenGrant(await webClient(server), refreshToken);
      assert.ok(refreshed.access_token, 'tokens again');
      assert.equal(rtm.ws.readyState, rtm.ws.OPEN, 'the signaling session never closed');
      rtm.ws.close();
      assert.ok(
        server.logs.some((l) => l.msg === 'database: reachable again'),
        'the recovery is logged',
      );
    } finally {
      await server.stop();
    }
  });

  test('a database that does not answer yet is waited for, with the reason logged', async () => {
    const { dir, config } = await nodeDir();
    cluster.stop();
    const back = setTimeout(() => cluster.start(), 2500);
    try {
      const server = await serve(dir, config);
      assert.ok(server.logs.some((l) => l.msg === 'database: not answering yet; retrying'));
      await server.stop();
    } finally {
      clearTimeout(back);
    }
  });

  test('db copy moves a SQLite installation over with its users signed in; a second copy is refused', async () => {
    const sqliteDir = mkdtempSync(path.join(tmpdir(), 'confab-pg-from-'));
    writeFileSync(path.join(sqliteDir, 'registry.yaml'), registry);
    const sqliteConfig = 'identifier_registration_conf: registry.yaml\n';
    writeFileSync(path.join(sqliteDir, 'confab.yaml'), sqliteConfig);
    await addUser(sqliteDir, 'alice', 'Alice Liddell', 'wonderland');
    const old = await serve(sqliteDir, sqliteConfig);
    const listen = new URL(old.localUrl).host;
    const { jar, refreshToken } = await webSignIn(old, 'alice', 'wonderland');
    await old.stop();

    const name = `confab_${++databases}`;
    const url = await cluster.createDatabase(name);
    const copy = await runConfab(['db', 'copy', '--to', url, '--config', 'confab.yaml'], {
      cwd: sqliteDir,
    });
    assert.equal(copy.code, 0, copy.stderr);
    assert.match(copy.stdout, /copied 1 users, \d+ sign-in records, .* and 5 keys/);
    assert.ok(!copy.stdout.includes(postgresPassword), 'the password is not printed');
    const again = await runConfab(['db', 'copy', '--to', url, '--config', 'confab.yaml'], {
      cwd: sqliteDir,
    });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds users; copy into an empty database/);

    const { dir, config } = await nodeDir(name);
    const moved = await serve(dir, config, listen);
    try {
      assert.equal(await sessionStands(moved, jar), true, 'the browser is still signed in');
      const refreshed = await oidc.refreshTokenGrant(await webClient(moved), refreshToken);
      assert.ok(refreshed.access_token, 'the refresh token still works');
      const alice = await tokensFor(moved.localUrl, 'alice', 'wonderland');
      assert.equal((await addressBook(moved, alice.access_token)).status, 200);
    } finally {
      await moved.stop();
    }
  });

  test('two nodes started at once on one empty database migrate it once and share one set of keys', async () => {
    const name = `confab_${++databases}`;
    await cluster.createDatabase(name);
    const a = await nodeDir(name);
    const b = await nodeDir(name);
    const [one, two] = await Promise.all([serve(a.dir, a.config), serve(b.dir, b.config)]);
    try {
      const migrated = [one, two].filter((n) => n.logs.some((l) => l.msg === 'database: migrated'));
      assert.equal(migrated.length, 1, 'one node migrated');
      const client = new pg.Client({ connectionString: cluster.urlWithPassword(name) });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT version FROM confab_schema ORDER BY version');
        assert.deepEqual(
          rows.map((r) => r.version),
          migrations.map((_m, i) => i + 1),
        );
        const admins = await client.query(
          "SELECT count(*)::int AS n FROM users WHERE username = 'admin'",
        );
        assert.equal(admins.rows[0].n, 1, 'one first admin');
      } finally {
        await client.end();
      }
      const jwks = async (n: ConfabProcess) =>
        (await fetch(new URL('/konnect/v1/jwks.json', n.localUrl))).json();
      assert.deepEqual(await jwks(one), await jwks(two), 'both publish the same keys');
      // The first admin's password is where it was made: in one of the two data dirs.
      const passwordFiles = [a.dir, b.dir]
        .map((d) => path.join(d, 'data', 'initial-admin-password'))
        .filter((f) => existsSync(f));
      assert.equal(passwordFiles.length, 1);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });
});

function readFile(dir: string, name: string): string {
  return readFileSync(path.join(dir, name), 'utf8');
}
