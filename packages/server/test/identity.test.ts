import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import * as oidc from 'openid-client';
import {
  authorizeUrl,
  CookieJar,
  follow,
  guestSignInOverHttp,
  openSignIn,
  pkce,
  postSignIn,
  signInOverHttp,
  startSignIn,
} from '../../../test/support/oidcFlow.js';
import type { SqlUserStore } from '../src/directory/index.js';
import { startTestServer, type TestServer } from './helpers.js';

const redirectUri = 'http://127.0.0.1:9/callback'; // never dialled: flows stop at the redirect
const registry = `clients:
  - id: test-rp
    name: Test Relying Party
    secret: s3cret-for-tests
    trusted: true
    redirect_uris: [${redirectUri}]
    post_logout_redirect_uris: [http://127.0.0.1:9/bye]
  - id: outside-app
    name: Outside App
    secret: other-secret
    redirect_uris: [${redirectUri}]
`;

async function startIdentity(extraYaml = ''): Promise<TestServer> {
  const server = await startTestServer({
    files: { 'registry.yaml': registry },
    yaml: `identifier_registration_conf: registry.yaml\n${extraYaml}`,
  });
  await (server.store as SqlUserStore).add({
    username: 'alice',
    displayName: 'Alice Liddell',
    mail: 'alice@example.com',
    password: 'wonderland',
  });
  await (server.store as SqlUserStore).add({
    username: 'bob',
    displayName: 'Bob Builder',
    mail: 'bob@example.com',
    password: 'can-we-fix-it',
  });
  return server;
}

function rp(server: TestServer, clientId = 'test-rp', secret = 's3cret-for-tests') {
  return oidc.discovery(
    new URL(server.localUrl),
    clientId,
    undefined,
    oidc.ClientSecretBasic(secret),
    { execute: [oidc.allowInsecureRequests] },
  );
}

async function signIn(server: TestServer, username = 'alice', password = 'wonderland') {
  const config = await rp(server);
  const flow = await signInOverHttp({
    base: server.localUrl,
    clientId: 'test-rp',
    redirectUri,
    username,
    password,
  });
  const tokens = await oidc.authorizationCodeGrant(config, flow.redirect, {
    pkceCodeVerifier: flow.pkce.verifier,
    expectedState: flow.redirect.searchParams.get('state') as string,
  });
  return { config, tokens, flow };
}

const gc = (server: TestServer, p: string, token?: string) =>
  fetch(
    new URL(p, server.localUrl),
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );

describe('identity provider', () => {
  let server: TestServer;
  before(async () => {
    server = await startIdentity();
  });
  after(() => server.close());

  test('discovery names our issuer, Konnect-style endpoints, PKCE S256 and the code flow only', async () => {
    const res = await fetch(new URL('/.well-known/openid-configuration', server.localUrl));
    assert.equal(res.status, 200);
    const d = (await res.json()) as Record<string, unknown>;
    assert.equal(d.issuer, server.url);
    assert.equal(d.authorization_endpoint, `${server.url}/signin/v1/identifier/_/authorize`);
    assert.equal(d.token_endpoint, `${server.url}/konnect/v1/token`);
    assert.equal(d.jwks_uri, `${server.url}/konnect/v1/jwks.json`);
    assert.equal(d.userinfo_endpoint, `${server.url}/konnect/v1/userinfo`);
    assert.equal(d.end_session_endpoint, `${server.url}/signin/v1/identifier/_/endsession`);
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(d.response_types_supported, ['code']);
  });

  test('discovery never reflects a Host header (or X-Forwarded-Host/-Proto) it was sent: its endpoints stay on the public origin, behind a trusted proxy too', async () => {
    const discover = (at: TestServer, headers: Record<string, string>) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: Number(new URL(at.localUrl).port),
            path: '/.well-known/openid-configuration',
            headers,
          },
          (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const proxied = await startIdentity('trusted_proxies: [127.0.0.1]\n');
    try {
      for (const at of [server, proxied]) {
        const port = new URL(at.localUrl).port;
        // X-Forwarded-For makes the proxied server take the request as relayed by its proxy.
        const via = { 'x-forwarded-for': '198.51.100.9' };
        const sent: Record<string, string>[] = [
          { host: 'evil.example' },
          { host: `evil.example:${port}`, 'x-forwarded-host': 'evil.example', ...via },
          {
            host: `127.0.0.1:${port}`,
            'x-forwarded-host': 'evil.example',
            'x-forwarded-proto': 'https',
            ...via,
          },
        ];
        for (const headers of sent) {
          const d = await discover(at, headers);
          for (const key of [
            'jwks_uri',
            'token_endpoint',
            'authorization_endpoint',
            'userinfo_endpoint',
          ])
            assert.ok(
              String(d[key]).startsWith(`${at.url}/`),
              `${key}: ${d[key]} for ${JSON.stringify(headers)}`,
            );
        }
      }
    } finally {
      await proxied.close();
    }
  });

  test('authorization requests are bounded in size and rate (authorize_rate_limit_per_ip), before anything is stored', async () => {
    const limited = await startIdentity('authorize_rate_limit_per_ip: 3\n');
    try {
      const authorize = (params: Record<string, string>) =>
        fetch(
          `${limited.localUrl}/signin/v1/identifier/_/authorize?${new URLSearchParams({
            client_id: 'test-rp',
            response_type: 'code',
            scope: 'openid',
            redirect_uri: redirectUri,
            code_challenge: 'x'.repeat(43),
            code_challenge_method: 'S256',
            ...params,
          })}`,
          { redirect: 'manual' },
        );
      const interactions = () => {
        const db = new Database(path.join(limited.dataDir, 'confab.sqlite'), { readonly: true });
        try {
          return (
            db
              .prepare("SELECT count(*) AS n FROM oidc_payloads WHERE model = 'Interaction'")
              .get() as { n: number }
          ).n;
        } finally {
          db.close();
        }
      };
      assert.equal((await authorize({ state: 'x'.repeat(5000) })).status, 400);
      const many: Record<string, string> = {};
      for (let i = 0; i < 50; i++) many[`p${i}`] = 'v';
      assert.equal((await authorize(many)).status, 400);
      assert.equal(interactions(), 0, 'refused requests stored nothing');
      const ok = await authorize({ state: 's' });
      assert.ok(ok.status >= 300 && ok.status < 400, `a normal request goes on (${ok.status})`);
      const over = await authorize({ state: 's' });
      assert.equal(over.status, 429);
      assert.match(over.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(interactions(), 1);
    } finally {
      await limited.close();
    }
  });

  test('the JWKS publishes an ES256 and an RS256 key, public parts only', async () => {
    const { keys } = (await (
      await fetch(new URL('/konnect/v1/jwks.json', server.localUrl))
    ).json()) as { keys: JWK[] };
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    for (const k of keys)
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        assert.equal(k[priv as keyof JWK], undefined);
  });

  test('code + PKCE with a confidential client: tokens whose signature verifies against the JWKS', async () => {
    const { config, tokens } = await signIn(server);
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.url,
      audience: `${server.url}/api`,
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(protectedHeader.alg, 'ES256');
    const user = await (server.store as SqlUserStore).findByUsername('alice');
    assert.equal(payload.sub, user?.id);
    assert.deepEqual(String(payload.scope).split(' ').sort(), ['kopano/gc', 'kopano/kwm']);
    assert.equal(payload.client_id, 'test-rp');
    // The ID token carries the profile (the web app reads it there).
    const id = tokens.claims();
    assert.equal(id?.sub, user?.id);
    assert.equal(id?.name, 'Alice Liddell');
    assert.equal(id?.email, 'alice@example.com');
    assert.equal(id?.preferred_username, 'alice');
    assert.ok(tokens.refresh_token, 'a refresh token');
    assert.ok((tokens.expires_in ?? 0) > 0 && (tokens.expires_in ?? 0) <= 600);
  });

  test('refresh tokens rotate: the new one works, the used one is refused', async () => {
    const { config, tokens } = await signIn(server);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    assert.ok(refreshed.access_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.equal((await gc(server, '/api/gc/v1/me', refreshed.access_token)).status, 200);
    await assert.rejects(
      oidc.refreshTokenGrant(config, tokens.refresh_token as string),
      (err: oidc.ResponseBodyError) => err.error === 'invalid_grant',
    );
  });

  test('the address book finds alice with her token: search, one user, me', async () => {
    const { tokens } = await signIn(server);
    const at = tokens.access_token;
    const alice = await (server.store as SqlUserStore).findByUsername('alice');
    const list = (await (await gc(server, '/api/gc/v1/users?$search=ali', at)).json()) as {
      value: { id: string }[];
    };
    assert.deepEqual(list.value, [
      {
        id: alice?.id,
        displayName: 'Alice Liddell',
        mail: 'alice@example.com',
        userPrincipalName: 'alice',
        jobTitle: '',
      },
    ]);
    const one = await gc(server, `/api/gc/v1/users/${alice?.id}`, at);
    assert.equal(((await one.json()) as { displayName: string }).displayName, 'Alice Liddell');
    const me = await gc(server, '/api/gc/v1/me', at);
    assert.equal(((await me.json()) as { id: string }).id, alice?.id);
  });

  test('the address book refuses missing, tampered and alg:none tokens with 401', async () => {
    const { tokens } = await signIn(server);
    const none = await gc(server, '/api/gc/v1/users?$search=ali');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="confab"');
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'unauthorized');

    const [h, p, s] = tokens.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`;
    const algNone = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    for (const bad of [tampered, algNone, 'garbage']) {
      const res = await gc(server, '/api/gc/v1/users?$search=ali', bad);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_token');
    }
  });

  test('a token correctly signed but expired, or without kopano/gc, is refused (401 / 403)', async () => {
    const stored = JSON.parse(
      readFileSync(path.join(server.dataDir, 'identity/signing-keys.json'), 'utf8'),
    ) as { keys: { kid: string; alg: string; jwk: JWK }[] };
    const es = stored.keys.find((k) => k.alg === 'ES256');
    assert.ok(es);
    const key = await importJWK(es.jwk, 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const [alice] = await server.store.search({ search: 'alice', top: 1, skip: 0 });
    const forge = (claims: Record<string, unknown>) =>
      new SignJWT({
        iss: server.url,
        aud: `${server.url}/api`,
        sub: alice?.id,
        scope: 'kopano/gc',
        iat: now,
        exp: now + 300,
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: es.kid })
        .sign(key);
    assert.equal(
      (await gc(server, '/api/gc/v1/users', await forge({}))).status,
      200,
      'the forge itself is right',
    );
    assert.equal(
      (await gc(server, '/api/gc/v1/users', await forge({ iat: now - 1000, exp: now - 100 })))
        .status,
      401,
    );
    // Well signed, but for a user the directory does not have (any more).
    const gone = await gc(server, '/api/gc/v1/users', await forge({ sub: 'no-such-user' }));
    assert.equal(gone.status, 401);
    assert.match(gone.headers.get('www-authenticate') ?? '', /the user no longer exists/);
    const noScope = await gc(server, '/api/gc/v1/users', await forge({ scope: 'kopano/kwm' }));
    assert.equal(noScope.status, 403);
    assert.match(
      noScope.headers.get('www-authenticate') ?? '',
      /error="insufficient_scope".*scope="kopano\/gc"/,
    );
    assert.equal(
      (await gc(server, '/api/gc/v1/users', await forge({ iss: 'http://evil.example' }))).status,
      401,
    );
    assert.equal(
      (await gc(server, '/api/gc/v1/users', await forge({ aud: 'http://evil.example/api' })))
        .status,
      401,
    );
  });

  test('a wrong password says so, keeps the username, and lets the right one in', async () => {
    const { jar, form } = await startSignIn({
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      state: 's1',
    });
    assert.match(form.html, /<label for="username">Username<\/label>/);
    assert.match(form.html, /<button type="submit">Sign in<\/button>/);
    const wrong = await postSignIn(jar, form.action, form.csrf, 'alice', 'nope');
    assert.equal(wrong.status, 200, 'the form again, with its error');
    // Browsers post forms with a real Origin (checked above) only under a referrer policy that allows it.
    assert.equal(wrong.headers.get('referrer-policy'), 'same-origin');
    assert.doesNotMatch(wrong.headers.get('content-security-policy') ?? '', /form-action/);
    const html = await wrong.text();
    assert.match(html, /role="alert"[^>]*>Wrong username or password\.</);
    assert.match(html, /to continue to Test Relying Party/, 'the page still names the client');
    assert.match(html, /id="username"[^>]*value="alice"/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] as string;
    const ok = await follow(
      jar,
      server.localUrl,
      await postSignIn(jar, form.action, csrf, 'alice', 'wonderland'),
    );
    assert.equal(new URL(ok.finalUrl).searchParams.get('state'), 's1');
    assert.ok(new URL(ok.finalUrl).searchParams.get('code'));
  });

  test('the sign-in form refuses posts without its CSRF token or from another origin', async () => {
    const { jar, form } = await startSignIn({
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      state: 's2',
    });
    assert.equal((await postSignIn(jar, form.action, 'forged', 'alice', 'wonderland')).status, 403);
    const cross = await jar.fetch(form.action, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
      },
      body: new URLSearchParams({
        csrf: form.csrf,
        username: 'alice',
        password: 'wonderland',
      }).toString(),
    });
    assert.equal(cross.status, 403);
  });

  test('an untrusted client asks for consent; Cancel returns access_denied, Allow a code', async () => {
    for (const decision of ['deny', 'allow']) {
      const { jar, form } = await startSignIn({
        base: server.localUrl,
        clientId: 'outside-app',
        redirectUri,
        state: decision,
      });
      const consent = await follow(
        jar,
        server.localUrl,
        await postSignIn(jar, form.action, form.csrf, 'bob', 'can-we-fix-it'),
      );
      const html = await consent.text();
      assert.match(html, /Outside App asks to use your Confab account/);
      assert.match(html, /Search the address book/);
      const action = new URL(
        /<form method="post" action="([^"]+)"/.exec(html)?.[1] as string,
        server.localUrl,
      );
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] as string;
      const done = await follow(
        jar,
        server.localUrl,
        await jar.fetch(action, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf, decision }).toString(),
        }),
      );
      const back = new URL(done.finalUrl);
      if (decision === 'deny') assert.equal(back.searchParams.get('error'), 'access_denied');
      else assert.ok(back.searchParams.get('code'));
    }
  });

  test('PKCE is required, even for a confidential client', async () => {
    const u = new URL('/signin/v1/identifier/_/authorize', server.localUrl);
    u.search = new URLSearchParams({
      client_id: 'test-rp',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'x',
    }).toString();
    const res = await fetch(u, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location') as string);
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.match(loc.searchParams.get('error_description') ?? '', /PKCE/);
  });

  test('end-session signs out: the next authorization asks for a password again', async () => {
    const { config, tokens, flow } = await signIn(server);
    const end = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: 'http://127.0.0.1:9/bye',
    });
    const page = await follow(
      flow.jar,
      server.localUrl,
      await flow.jar.fetch(end.href.replace(server.url, server.localUrl)),
    );
    const html = await page.text();
    assert.match(html, /<h1>Sign out<\/h1>/);
    const form = /<form[^>]*id="op.logoutForm"[^>]*>[\s\S]*?<\/form>/.exec(html)?.[0] as string;
    const action = /action="([^"]+)"/.exec(form)?.[1] as string;
    const fields = Object.fromEntries(
      [...form.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const out = await follow(
      flow.jar,
      server.localUrl,
      await flow.jar.fetch(new URL(action, server.localUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, logout: 'yes' }).toString(),
      }),
    );
    assert.equal(out.finalUrl, 'http://127.0.0.1:9/bye');
    const again = await openSignIn(flow.jar, {
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      pkce: pkce(),
      state: 's3',
    });
    assert.match(again.html, /<h1>Sign in<\/h1>/);
  });

  test('userinfo answers for Confab’s access tokens (openid-client), with the claims of the granted scopes', async () => {
    const { config, tokens, flow: first } = await signIn(server);
    const sub = tokens.claims()?.sub as string;
    // The token response names the OpenID scopes too (Kopano Meet checks for them).
    assert.deepEqual((tokens.scope ?? '').split(' ').sort(), [
      'email',
      'kopano/gc',
      'kopano/kwm',
      'openid',
      'profile',
    ]);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub);
    assert.deepEqual(info, {
      sub,
      name: 'Alice Liddell',
      preferred_username: 'alice',
      email: 'alice@example.com',
    });
    // Fewer scopes, fewer claims: in the same session (whose grant holds `email` from the first
    // sign-in), a request for `openid` alone reads no email.
    const p = pkce();
    const again = await follow(
      first.jar,
      server.localUrl,
      await first.jar.fetch(
        authorizeUrl({
          base: server.localUrl,
          clientId: 'test-rp',
          redirectUri,
          scope: 'openid kopano/kwm',
          pkce: p,
          state: 'narrow',
        }),
      ),
    );
    const redirect = new URL(again.finalUrl);
    const narrow = await oidc.authorizationCodeGrant(config, redirect, {
      pkceCodeVerifier: p.verifier,
      expectedState: 'narrow',
    });
    assert.equal(narrow.scope?.includes('email'), false);
    assert.deepEqual(await oidc.fetchUserInfo(config, narrow.access_token, sub), { sub });
    // Any origin may read it with a bearer token (no cookies), as the APIs.
    const cors = await fetch(new URL('/konnect/v1/userinfo', server.localUrl), {
      headers: { authorization: `Bearer ${tokens.access_token}`, origin: 'http://other.example' },
    });
    assert.equal(cors.headers.get('access-control-allow-origin'), '*');
  });

  test('userinfo for a guest tells its subject and its room, nothing more', async () => {
    const guest = await guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: 'group/public/demo',
      name: 'John Doe',
    });
    const res = await fetch(new URL('/konnect/v1/userinfo', server.localUrl), {
      headers: { authorization: `Bearer ${guest.accessToken}` },
    });
    assert.equal(res.status, 200);
    const info = (await res.json()) as Record<string, unknown>;
    assert.equal(info.sub, guest.id);
    assert.deepEqual(info.guest, { path: 'group/public/demo' });
    assert.equal(info.email, undefined);
    assert.equal(info.preferred_username, undefined);
  });

  test('userinfo refuses ID tokens, tampered and absent tokens, with OAuth errors', async () => {
    const { tokens } = await signIn(server);
    const call = (authorization?: string) =>
      fetch(new URL('/konnect/v1/userinfo', server.localUrl), {
        headers: authorization ? { authorization } : {},
      });
    const [h, p, sig] = tokens.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'x' })).toString('base64url')}.${sig}`;
    for (const bad of [tokens.id_token as string, tampered, 'garbage']) {
      const res = await call(`Bearer ${bad}`);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
    const none = await call();
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="confab"');
  });
});

describe('redirect URIs with a fragment, as Kopano Meet asks for them', () => {
  test('the built-in client signs in with `<origin>/meet/#oidc-callback`: the answer comes after the fragment (Konnect style), and the code redeems with the same URI', async () => {
    const server = await startIdentity();
    try {
      const clientId = `kpop-${server.url}/meet/`;
      const redirectUri = `${server.url}/meet/#oidc-callback`;
      const p = pkce();
      const state = 'st4te';
      const jar = new CookieJar();
      const authorize = new URL('/signin/v1/identifier/_/authorize', server.localUrl);
      authorize.search = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        response_mode: 'fragment',
        redirect_uri: redirectUri,
        scope: 'openid profile email kopano/kwm kopano/gc',
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
        state,
        claims: JSON.stringify({ id_token: { name: null } }),
      }).toString();
      const page = await follow(jar, server.localUrl, await jar.fetch(authorize));
      const html = await page.text();
      const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1] as string;
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] as string;
      let res = await postSignIn(
        jar,
        new URL(action.replaceAll('&#38;', '&'), server.localUrl).href,
        csrf,
        'alice',
        'wonderland',
      );
      let location = '';
      for (let hops = 0; hops < 10; hops++) {
        location = res.headers.get('location') ?? '';
        if (location.startsWith(`${server.url}/meet/`)) break;
        res = await jar.fetch(new URL(location, server.localUrl));
      }
      assert.match(location, new RegExp(`^${server.url}/meet/#oidc-callback&`));
      const params = new URLSearchParams(location.split('#oidc-callback&')[1]);
      assert.equal(params.get('state'), state);
      const token = await fetch(new URL('/konnect/v1/token', server.localUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: clientId,
          code: params.get('code') as string,
          code_verifier: p.verifier,
          redirect_uri: redirectUri,
        }),
      });
      assert.equal(token.status, 200, await token.clone().text());
      assert.ok(((await token.json()) as { access_token?: string }).access_token);
      // kpop's silent renew: prompt=none in the same session, answered after #oidc-silent-refresh.
      const silent = new URL(authorize);
      silent.searchParams.set('redirect_uri', `${server.url}/meet/#oidc-silent-refresh`);
      silent.searchParams.set('prompt', 'none');
      silent.searchParams.set('state', 'silent1');
      let hop = await jar.fetch(silent);
      for (let i = 0; i < 5 && !hop.headers.get('location')?.startsWith(`${server.url}/meet/`); i++)
        hop = await jar.fetch(new URL(hop.headers.get('location') as string, server.localUrl));
      assert.match(
        hop.headers.get('location') ?? '',
        new RegExp(`^${server.url}/meet/#oidc-silent-refresh&code=.+&state=silent1`),
      );
    } finally {
      await server.close();
    }
  });

  test('anything else with a fragment is refused: another word shape, another base, another client', async () => {
    const server = await startIdentity();
    try {
      const tryRedirect = (clientId: string, redirectUri: string) =>
        fetch(
          `${server.localUrl}/signin/v1/identifier/_/authorize?${new URLSearchParams({
            client_id: clientId,
            response_type: 'code',
            redirect_uri: redirectUri,
            scope: 'openid',
            code_challenge: 'x'.repeat(43),
            code_challenge_method: 'S256',
            state: 's',
          })}`,
          { redirect: 'manual' },
        );
      const web = `kpop-${server.url}/meet/`;
      for (const [clientId, uri] of [
        [web, `${server.url}/meet/#a/b`],
        [web, `${server.url}/meet/#oidc-callback#x`],
        [web, `${server.url}/elsewhere/#oidc-callback`],
        [web, `http://evil.example/meet/#oidc-callback`],
        ['test-rp', `${redirectUri}#oidc-callback`],
      ] as const) {
        const res = await tryRedirect(clientId, uri);
        assert.equal(res.status, 400, `${clientId} ${uri}`);
        assert.equal(res.headers.get('location'), null);
      }
    } finally {
      await server.close();
    }
  });
});

describe('address book parameters', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startIdentity();
    const store = server.store as SqlUserStore;
    for (let i = 0; i < 12; i++)
      await store.add({
        username: `user${i}`,
        displayName: `Zed ${String(i).padStart(2, '0')}`,
        mail: `z${i}@Example.com`,
        jobTitle: 'Tester',
        password: 'x',
      });
    token = (await signIn(server)).tokens.access_token;
  });
  after(() => server.close());

  const list = async (q: string) => {
    const res = await gc(server, `/api/gc/v1/users${q}`, token);
    return {
      status: res.status,
      body: (await res.json()) as {
        value: Record<string, string>[];
        error?: { code: string; message: string };
      },
    };
  };

  test('search is a case-insensitive substring of name, mail or username', async () => {
    assert.equal((await list('?$search=ZED')).body.value.length, 12);
    assert.deepEqual((await list('?$search=EXAMPLE.COM&$top=1000')).body.value.length, 14);
    assert.deepEqual(
      (await list('?$search=user1')).body.value.map((u) => u.userPrincipalName).sort(),
      ['user1', 'user10', 'user11'],
    );
    assert.deepEqual((await list('?$search=nobody')).body.value, []);
  });

  test('$top and $skip page through results in a stable order', async () => {
    const page1 = (await list('?$search=zed&$top=5')).body.value.map((u) => u.displayName);
    const page2 = (await list('?$search=zed&$top=5&$skip=5')).body.value.map((u) => u.displayName);
    assert.deepEqual(page1, ['Zed 00', 'Zed 01', 'Zed 02', 'Zed 03', 'Zed 04']);
    assert.deepEqual(page2, ['Zed 05', 'Zed 06', 'Zed 07', 'Zed 08', 'Zed 09']);
    assert.equal((await list('')).body.value.length, 15, 'everyone, the first-run admin too');
  });

  test('$select limits the fields (the id always comes)', async () => {
    const { body } = await list('?$search=zed 03&$select=displayName,mail');
    assert.deepEqual(Object.keys(body.value[0] ?? {}).sort(), ['displayName', 'id', 'mail']);
  });

  test('bad parameters answer 400 with a stable code', async () => {
    for (const q of [
      '?$top=0',
      '?$top=1001',
      '?$top=abc',
      '?$skip=-1',
      '?$select=password',
      '?$select=',
      '?$filter=x',
      '?unknown=1',
    ]) {
      const { status, body } = await list(q);
      assert.equal(status, 400, q);
      assert.equal(body.error?.code, 'bad_request', q);
    }
  });

  test('an unknown user id is 404', async () => {
    const res = await gc(server, '/api/gc/v1/users/no-such-id', token);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
  });
});

describe('sign-in rate limits', () => {
  for (const [limit, usernames] of [
    ['signin_rate_limit_per_user', ['alice', 'alice', 'alice', 'alice']],
    ['signin_rate_limit_per_ip', ['a1', 'a2', 'a3', 'a4']],
  ] as const) {
    test(`${limit}: past the limit, 429 with Retry-After, even for the right password`, async () => {
      const server = await startIdentity(`${limit}: 3\n`);
      try {
        const { jar, form } = await startSignIn({
          base: server.localUrl,
          clientId: 'test-rp',
          redirectUri,
          state: 'r',
        });
        const statuses: number[] = [];
        let last: Response | undefined;
        for (const [i, name] of usernames.entries()) {
          last = await postSignIn(jar, form.action, form.csrf, name, `wrong-${i}`);
          statuses.push(last.status);
        }
        assert.deepEqual(statuses, [200, 200, 200, 429]);
        assert.match(last?.headers.get('retry-after') ?? '', /^\d+$/);
        assert.match(
          await (last as Response).text(),
          /Too many sign-in attempts\. Try again in \d+ seconds\./,
        );
        assert.equal(
          (await postSignIn(jar, form.action, form.csrf, 'alice', 'wonderland')).status,
          429,
        );
      } finally {
        await server.close();
      }
    });
  }
});

describe('sign-in lockouts hit only the address that guesses', () => {
  test('failed sign-ins lock that username at that address, with backoff; the right password from elsewhere still signs in', async () => {
    // Behind a trusted proxy the client address comes from X-Forwarded-For: two "addresses".
    const server = await startIdentity(
      'signin_rate_limit_per_user: 3\ntrusted_proxies: [127.0.0.1]\n',
    );
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const post = (
      jar: Awaited<ReturnType<typeof startSignIn>>['jar'],
      action: string,
      csrf: string,
      address: string,
      password: string,
    ) =>
      jar.fetch(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(address) },
        body: new URLSearchParams({ csrf, username: 'alice', password }).toString(),
      });
    try {
      const attacker = await startSignIn({
        base: server.localUrl,
        clientId: 'test-rp',
        redirectUri,
        state: 'a',
      });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push(
          (
            await post(
              attacker.jar,
              attacker.form.action,
              attacker.form.csrf,
              '198.51.100.7',
              `x${i}`,
            )
          ).status,
        );
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const locked = await post(
        attacker.jar,
        attacker.form.action,
        attacker.form.csrf,
        '198.51.100.7',
        'wonderland',
      );
      assert.equal(locked.status, 429, 'the guessing address waits, even with the right password');
      assert.ok(Number(locked.headers.get('retry-after')) > 30);

      const alice = await startSignIn({
        base: server.localUrl,
        clientId: 'test-rp',
        redirectUri,
        state: 'b',
      });
      const ok = await post(
        alice.jar,
        alice.form.action,
        alice.form.csrf,
        '198.51.100.8',
        'wonderland',
      );
      assert.ok(ok.status >= 300 && ok.status < 400, `alice elsewhere signs in (${ok.status})`);
    } finally {
      await server.close();
    }
  });
});

describe('persistence across restarts', () => {
  test('users, signing keys, tokens and refresh tokens survive a restart', async () => {
    const first = await startIdentity();
    const { config, tokens } = await signIn(first);
    const kid = decodeProtectedHeader(tokens.access_token).kid;
    const { dir, localUrl } = first;
    await first.close();
    // The same origin (same port): a real deployment keeps its address across restarts.
    const second = await startTestServer({
      dir,
      listen: new URL(localUrl).host,
      yaml: 'identifier_registration_conf: registry.yaml\n',
    });
    try {
      const { keys } = (await (
        await fetch(new URL('/konnect/v1/jwks.json', second.localUrl))
      ).json()) as { keys: JWK[] };
      assert.ok(
        keys.some((k) => k.kid === kid),
        'the same key is published',
      );
      assert.equal(
        (await gc(second, '/api/gc/v1/me', tokens.access_token)).status,
        200,
        'an access token from before still works',
      );
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
      assert.equal(decodeJwt(refreshed.access_token).sub, decodeJwt(tokens.access_token).sub);
      const again = await signInOverHttp({
        base: second.localUrl,
        clientId: 'test-rp',
        redirectUri,
        username: 'alice',
        password: 'wonderland',
      });
      assert.ok(again.code, 'alice still signs in');
    } finally {
      await second.close();
    }
  });
});

describe('first run', () => {
  test('an empty built-in directory gets admin, with its password in a 0600 file that the log names but never shows', async () => {
    const server = await startTestServer();
    try {
      const file = path.join(server.dataDir, 'initial-admin-password');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const password = readFileSync(file, 'utf8').trim();
      assert.ok(password.length >= 20);
      const line = server.logs.find((l) => l.passwordFile === file);
      assert.ok(line, 'the log names the file');
      assert.ok(
        !JSON.stringify(server.logs).includes(password),
        'the password never reaches the log',
      );
      assert.ok(await server.store.authenticate('admin', password));
    } finally {
      await server.close();
    }
  });
});
