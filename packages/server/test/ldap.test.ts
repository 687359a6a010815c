import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import {
  postSignIn,
  signInOverHttp,
  startSignIn,
  tokensFor,
} from '../../../test/support/oidcFlow.js';
import { RtmClient } from '../../../test/support/rtmClient.js';
import { type Slapd, startSlapd } from '../../../test/support/slapd.js';
import { startTestServer, type TestServer } from './helpers.js';

const redirectUri = 'http://127.0.0.1:9/callback';
const registry = `clients:
  - id: test-rp
    secret: s3cret-for-tests
    trusted: true
    redirect_uris: [${redirectUri}]
`;

describe('LDAP directory (real slapd)', () => {
  let slapd: Slapd;
  let server: TestServer;
  let token: string;

  before(async () => {
    slapd = await startSlapd([
      {
        uid: 'alice',
        cn: 'Alice Liddell',
        mail: 'alice@example.com',
        title: 'Explorer',
        password: 'wonderland',
      },
      { uid: 'bob', cn: 'Bob Builder', mail: 'bob@example.com', password: 'can-we-fix-it' },
      { uid: 'star', cn: 'Star (*) Person', password: 'twinkle' },
    ]);
    server = await startTestServer({
      files: { 'registry.yaml': registry },
      yaml: [
        'identifier_registration_conf: registry.yaml',
        'directory: ldap',
        `ldap_uri: ${slapd.url}`,
        `ldap_bind_dn: ${slapd.adminDn}`,
        `ldap_bind_password: ${slapd.adminPassword}`,
        `ldap_base_dn: ${slapd.peopleDn}`,
      ].join('\n'),
    });
    const flow = await signInOverHttp({
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      username: 'alice',
      password: 'wonderland',
    });
    const config = await oidc.discovery(
      new URL(server.localUrl),
      'test-rp',
      undefined,
      oidc.ClientSecretBasic('s3cret-for-tests'),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.authorizationCodeGrant(config, flow.redirect, {
      pkceCodeVerifier: flow.pkce.verifier,
      expectedState: flow.redirect.searchParams.get('state') as string,
    });
    token = tokens.access_token;
    assert.equal(
      tokens.claims()?.sub,
      slapd.uuids.get('alice'),
      "the subject is the entry's entryUUID",
    );
    assert.equal(tokens.claims()?.name, 'Alice Liddell');
  });
  after(async () => {
    await server?.close();
    await slapd?.stop();
  });

  const gc = async (p: string) => {
    const res = await fetch(new URL(p, server.localUrl), {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: res.status,
      body: (await res.json()) as {
        value?: Record<string, string>[];
        id?: string;
        error?: { code: string };
      },
    };
  };

  test('no admin is created when users come from LDAP', async () => {
    assert.ok(!server.logs.some((l) => l.username === 'admin'));
  });

  test('signing in binds as the user: a wrong or empty password is refused', async () => {
    const { jar, form } = await startSignIn({
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      state: 'w',
    });
    for (const [name, pw] of [
      ['alice', 'wrong'],
      ['nobody', 'wonderland'],
    ] as const) {
      const res = await postSignIn(jar, form.action, form.csrf, name, pw);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Wrong username or password\./);
    }
    assert.equal(
      await server.store.authenticate('alice', ''),
      undefined,
      'an empty password is never an anonymous bind',
    );
    assert.equal(
      await server.store.authenticate('*', 'wonderland'),
      undefined,
      'a wildcard login matches nobody',
    );
  });

  test('the address book searches LDAP with entryUUID ids', async () => {
    const { body } = await gc('/api/gc/v1/users?$search=ALI');
    assert.deepEqual(body.value, [
      {
        id: slapd.uuids.get('alice'),
        displayName: 'Alice Liddell',
        mail: 'alice@example.com',
        userPrincipalName: 'alice',
        jobTitle: 'Explorer',
      },
    ]);
    const one = await gc(`/api/gc/v1/users/${slapd.uuids.get('bob')}`);
    assert.equal(one.status, 200);
    const me = await gc('/api/gc/v1/me');
    assert.equal(me.body.id, slapd.uuids.get('alice'));
    const all = await gc('/api/gc/v1/users?$top=2');
    assert.equal(all.body.value?.length, 2);
  });

  test('filter syntax in a search is matched literally, not injected', async () => {
    const star = await gc(`/api/gc/v1/users?$search=${encodeURIComponent('(*)')}`);
    assert.equal(star.status, 200);
    assert.deepEqual(
      star.body.value?.map((u) => u.userPrincipalName),
      ['star'],
    );
    const inj = await gc(`/api/gc/v1/users?$search=${encodeURIComponent('*)(uid=*')}`);
    assert.deepEqual(inj.body.value, []);
  });

  test('a user deleted from LDAP: their token is refused and their open signaling socket ends at the next check', async () => {
    const bobToken = (await tokensFor(server.localUrl, 'bob', 'can-we-fix-it')).access_token;
    const bob = await RtmClient.open(server.localUrl, bobToken);
    execFileSync('ldapdelete', [
      '-x',
      '-H',
      slapd.url,
      '-D',
      slapd.adminDn,
      '-w',
      slapd.adminPassword,
      `uid=bob,${slapd.peopleDn}`,
    ]);
    await server.signaling.audit();
    assert.equal((await bob.closed).code, 4001);
    // A user seen lately is taken as there for up to 30 s at API calls; the audit forgot Bob.
    const me = await fetch(new URL('/api/gc/v1/me', server.localUrl), {
      headers: { authorization: `Bearer ${bobToken}` },
    });
    assert.equal(me.status, 401);
    assert.match(me.headers.get('www-authenticate') ?? '', /no longer exists/);
  });

  test('when LDAP is down, sign-in says so (503) and the address book answers 503, without the directory’s address or credentials; nobody is signed off', async () => {
    const alice = await RtmClient.open(server.localUrl, token);
    await slapd.stop();
    const { jar, form } = await startSignIn({
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      state: 'd',
    });
    const res = await postSignIn(jar, form.action, form.csrf, 'alice', 'wonderland');
    assert.equal(res.status, 503);
    assert.match(await res.text(), /The user directory does not answer right now/);
    const list = await gc('/api/gc/v1/users?$search=a');
    assert.equal(list.status, 503);
    assert.equal(list.body.error?.code, 'unavailable');
    assert.doesNotMatch(JSON.stringify(list.body), /ldap:|127\.0\.0\.1/);
    const logged = JSON.stringify(server.logs);
    assert.ok(!logged.includes(slapd.adminPassword), 'the bind password is never logged');
    assert.ok(logged.includes('LDAP request failed'));
    // A directory that does not answer removes nobody.
    await server.signaling.audit();
    const id = alice.send({ type: 'ping' });
    await alice.next((m) => m.type === 'pong' && m.id === id);
    await alice.close();
  });
});
