import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK, importJWK, type JWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { CookieJar, follow, pkce } from '../../../test/support/oidcFlow.js';
import { guestClaimsParameter } from '../src/guests/request.js';
import { startTestServer, type TestServer } from './helpers.js';

const redirectUri = 'http://127.0.0.1:9/callback'; // never dialled: flows stop at the redirect

async function keyPair(kid: string): Promise<JWK> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(await exportJWK(privateKey)), kid, use: 'sig' };
}

describe('guests: logon, request objects and guest tokens', () => {
  let server: TestServer;
  let key: JWK;
  let otherKey: JWK;
  before(async () => {
    key = await keyPair('guest-rp');
    otherKey = await keyPair('other-rp');
    const registry = {
      clients: [
        {
          id: 'guest-rp',
          secret: 'guest-secret',
          trusted: true,
          trusted_scopes: ['konnect/guestok', 'kopano/kwm'],
          redirect_uris: [redirectUri],
          jwks: { keys: [key] },
          request_object_signing_alg: 'ES256',
        },
        {
          id: 'other-rp',
          secret: 'other-secret',
          trusted: true,
          redirect_uris: [redirectUri],
          jwks: { keys: [otherKey] },
          request_object_signing_alg: 'ES256',
        },
      ],
    };
    server = await startTestServer({
      files: { 'registry.yaml': JSON.stringify(registry) },
      yaml: 'identifier_registration_conf: registry.yaml\n',
    });
  });
  after(() => server.close());

  const logon = (fields: Record<string, string>) =>
    fetch(new URL('/api/kwm/v2/guest/logon', server.localUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });

  /** Runs a guest sign-in as Confab's web app does: logon with the PKCE challenge, then authorize. */
  async function guestSignIn(path: string, name: string) {
    const p = pkce();
    const state = randomBytes(8).toString('base64url');
    const res = await logon({
      guest: '1',
      path,
      name,
      token: '',
      client_id: 'guest-rp',
      scope: 'openid profile kopano/kwm kopano/gc',
      response_type: 'code',
      redirect_uri: redirectUri,
      state,
      code_challenge: p.challenge,
      code_challenge_method: 'S256',
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      ok: boolean;
      eqp: { request: string };
      id: string;
      name: string;
    };
    const redirect = await authorize(body.eqp.request);
    return { body, redirect, p, state };
  }

  async function authorize(request: string, extra: Record<string, string> = {}) {
    const u = new URL('/signin/v1/identifier/_/authorize', server.localUrl);
    u.search = new URLSearchParams({
      client_id: 'guest-rp',
      response_type: 'code',
      scope: 'openid konnect/guestok',
      request,
      ...extra,
    }).toString();
    const jar = new CookieJar();
    const res = await follow(jar, server.localUrl, await jar.fetch(u));
    return { res, url: new URL(res.finalUrl || u.href) };
  }

  const rp = () =>
    oidc.discovery(
      new URL(server.localUrl),
      'guest-rp',
      undefined,
      oidc.ClientSecretBasic('guest-secret'),
      { execute: [oidc.allowInsecureRequests] },
    );

  test('a logon for a public room answers a signed request object; identity turns it into a guest bound to that room', async () => {
    const { body, redirect, p, state } = await guestSignIn(
      'group/public/demo',
      '  <b>John</b>   Doe  ',
    );
    assert.equal(body.ok, true);
    assert.equal(body.name, 'John Doe', 'markup stripped, spaces collapsed');
    assert.match(body.id, /^guest-/);
    const header = JSON.parse(
      Buffer.from(body.eqp.request.split('.')[0] as string, 'base64url').toString(),
    ) as Record<string, unknown>;
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, 'guest-rp');
    const claims = decodeJwt(body.eqp.request);
    assert.equal(claims.iss, 'guest-rp');
    assert.equal(claims.aud, server.url);
    assert.ok((claims.exp as number) - (claims.iat as number) <= 300, 'a short life');

    assert.equal(
      redirect.url.origin + redirect.url.pathname,
      redirectUri,
      `${redirect.res.status} ${(await redirect.res.text()).slice(0, 300)}`,
    );
    assert.equal(redirect.url.searchParams.get('error'), null);
    const tokens = await oidc.authorizationCodeGrant(await rp(), redirect.url, {
      pkceCodeVerifier: p.verifier,
      expectedState: state,
    });
    const access = decodeJwt(tokens.access_token);
    assert.equal(access.sub, body.id);
    assert.deepEqual(access.guest, { path: 'group/public/demo' });
    assert.equal(access.scope, 'kopano/kwm', 'signaling only: no address book');
    const id = decodeJwt(tokens.id_token as string);
    assert.equal(id.name, 'John Doe');
    assert.deepEqual(id.guest, { path: 'group/public/demo' });

    // The address book refuses it; rtm/connect takes it.
    const gab = await fetch(new URL('/api/gc/v1/users/me', server.localUrl), {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(gab.status, 403);
    const rtm = await fetch(new URL('/api/kwm/v2/rtm/connect', server.localUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(rtm.status, 200);
    assert.equal(((await rtm.json()) as { self: { id: string } }).self.id, body.id);

    // Long meetings: the refresh token works and the guest stays the same guest.
    const refreshed = await oidc.refreshTokenGrant(await rp(), tokens.refresh_token as string);
    assert.equal(decodeJwt(refreshed.access_token).sub, body.id);
  });

  test('a random "adjective noun" name when none is given; long names are cut at 64 characters', async () => {
    const none = (await (
      await logon({ guest: '1', path: 'group/public/x', client_id: 'guest-rp' })
    ).json()) as { name: string };
    assert.match(none.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
    const long = (await (
      await logon({
        guest: '1',
        path: 'group/public/x',
        client_id: 'guest-rp',
        name: 'x'.repeat(80),
      })
    ).json()) as { name: string };
    assert.equal(long.name, 'x'.repeat(64));
  });

  test('logon refusals: private rooms, wrong form, tokens, unknown clients, unknown fields', async () => {
    const cases: [Record<string, string>, number, string][] = [
      [{ guest: '1', path: 'group/team', client_id: 'guest-rp' }, 403, 'forbidden'],
      [{ guest: '0', path: 'group/public/a', client_id: 'guest-rp' }, 400, 'bad_request'],
      [{ guest: '1', path: '', client_id: 'guest-rp' }, 400, 'bad_request'],
      [
        { guest: '1', path: 'group/public/a', client_id: 'guest-rp', token: 't' },
        501,
        'not_implemented',
      ],
      [{ guest: '1', path: 'group/public/a', client_id: 'nobody' }, 400, 'bad_request'],
      [
        { guest: '1', path: 'group/public/a', client_id: 'guest-rp', iss: 'https://evil' },
        400,
        'bad_request',
      ],
      [
        { guest: '1', path: 'group/public/a', client_id: 'guest-rp', extra: '1' },
        400,
        'bad_request',
      ],
    ];
    for (const [fields, status, code] of cases) {
      const res = await logon(fields);
      assert.equal(res.status, status, JSON.stringify(fields));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, code);
    }
    const twice = await fetch(new URL('/api/kwm/v2/guest/logon', server.localUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'guest=1&guest=1&path=group/public/a&client_id=guest-rp',
    });
    assert.equal(twice.status, 400, 'a field given twice');
  });

  test('identity refuses forged request objects: other key, alg none, HS256, expired, no exp, too long, another client', async () => {
    const now = Math.floor(Date.now() / 1000);
    const params = {
      client_id: 'guest-rp',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid konnect/guestok',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      claims: guestClaimsParameter({
        id: `guest-${randomBytes(18).toString('base64url')}`,
        name: 'Mallory',
        path: 'group/team',
      }),
    };
    const sign = async (
      jwk: JWK,
      claims: Record<string, unknown>,
      alg = 'ES256',
    ): Promise<string> => {
      const jwt = new SignJWT({ ...params, ...claims }).setProtectedHeader({ alg, kid: jwk.kid });
      return jwt.sign(
        alg === 'HS256' ? new TextEncoder().encode('s'.repeat(32)) : await importJWK(jwk, alg),
      );
    };
    const good = { iss: 'guest-rp', aud: server.url, iat: now, exp: now + 60 };
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...params, ...good })).toString('base64url')}.`;
    const { exp: _exp, ...noExp } = good;
    const forged: [string, string][] = [
      ['signed with another key', await sign(otherKey, good)],
      ['alg none', unsigned],
      ['HS256', await sign(key, good, 'HS256')],
      ['expired', await sign(key, { ...good, iat: now - 600, exp: now - 300 })],
      ['no exp', await sign(key, noExp)],
      ['lives too long', await sign(key, { ...good, exp: now + 86_400 })],
      ['another client', await sign(otherKey, { ...good, iss: 'other-rp', client_id: 'other-rp' })],
    ];
    for (const [what, request] of forged) {
      const { res, url } = await authorize(request);
      const error = url.searchParams.get('error');
      assert.ok(
        error === 'invalid_request_object' || error === 'invalid_request' || res.status === 400,
        `${what}: refused (got ${res.status} ${url.href})`,
      );
      assert.equal(url.searchParams.get('code'), null, `${what}: no code`);
    }
    // A well signed object for a private room gets no guest either.
    const { res, url } = await authorize(await sign(key, good));
    assert.equal(url.searchParams.get('code'), null);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /not allowed/);
    // Nor do guest claims sent in the open, without a request object.
    const open = new URL('/signin/v1/identifier/_/authorize', server.localUrl);
    open.search = new URLSearchParams({
      ...params,
      claims: JSON.stringify(
        guestClaimsParameter({
          id: `guest-${randomBytes(18).toString('base64url')}`,
          name: 'Mallory',
          path: 'group/public/demo',
        }),
      ),
    }).toString();
    const jar = new CookieJar();
    const page = await follow(jar, server.localUrl, await jar.fetch(open));
    assert.equal(new URL(page.finalUrl || open.href).searchParams.get('code'), null);
    assert.equal(page.status, 403);
  });
});
