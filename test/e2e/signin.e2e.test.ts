import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  launchBrowser,
  openUser,
  startConfab,
} from './helpers/index.js';

/** A relying party's redirect endpoint on loopback: it only has to answer. */
async function startRelyingParty(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url?.startsWith('/bye') ? 'signed out' : 'signed in');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('sign-in through /signin/ in Chromium, with openid-client as the relying party', () => {
  let rp: { server: Server; origin: string };
  let confab: ConfabProcess;
  let browser: Browser;
  let config: oidc.Configuration;

  before(async () => {
    rp = await startRelyingParty();
    confab = await startConfab({
      files: {
        'registry.yaml': `clients:
  - id: test-rp
    name: Test RP
    secret: s3cret-for-tests
    trusted: true
    redirect_uris: [${rp.origin}/callback]
    post_logout_redirect_uris: [${rp.origin}/bye]
`,
      },
      config: 'identifier_registration_conf: registry.yaml\n',
    });
    browser = await launchBrowser();
    config = await oidc.discovery(
      new URL(confab.localUrl),
      'test-rp',
      undefined,
      oidc.ClientSecretBasic('s3cret-for-tests'),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(async () => {
    await browser?.close();
    await confab?.stop();
    rp?.server.close();
  });

  test('confab user add alice, then sign in (a wrong password first), token, JWKS and address book', async () => {
    // Added while the server runs, on its data dir: she can sign in at once.
    await addUser(confab, 'alice', 'Alice Liddell', 'wonderland');

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.origin}/callback`,
      scope: 'openid profile email kopano/kwm kopano/gc',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });

    const user = await openUser(browser, confab.localUrl);
    try {
      const { page } = user;
      await page.goto(authUrl.href);
      const username = page.getByRole('textbox', { name: 'Username' });
      const password = page.getByLabel('Password');
      await username.fill('alice');
      await password.fill('not-her-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
      assert.equal(await username.inputValue(), 'alice', 'the username is kept');
      assert.equal(
        await password.evaluate((el) => el === document.activeElement),
        true,
        'the password field has focus',
      );
      await password.fill('wonderland');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${rp.origin}/callback?**`);
      const callback = new URL(page.url());
      assert.deepEqual(user.errors, [], 'no console errors (CSP) on the sign-in pages');

      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
      const { payload } = await jwtVerify(tokens.access_token, jwks, {
        issuer: confab.url,
        audience: `${confab.url}/api`,
      });
      assert.equal(payload.sub, tokens.claims()?.sub);
      assert.equal(tokens.claims()?.name, 'Alice Liddell');

      const search = (token?: string) =>
        fetch(
          new URL('/api/gc/v1/users?$search=ali', confab.localUrl),
          token ? { headers: { authorization: `Bearer ${token}` } } : {},
        );
      const found = await search(tokens.access_token);
      assert.equal(found.status, 200);
      const { value } = (await found.json()) as { value: { id: string; displayName: string }[] };
      assert.deepEqual(
        value.map((u) => [u.id, u.displayName]),
        [[payload.sub, 'Alice Liddell']],
      );

      const [h, p, s] = tokens.access_token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'kopano/gc admin' })).toString('base64url')}.${s}`;
      const algNone = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${p}.`;
      for (const bad of [undefined, tampered, algNone])
        assert.equal((await search(bad)).status, 401, String(bad).slice(0, 20));

      // End-session through the browser: the sign-out page, then back to the relying party.
      const end = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: `${rp.origin}/bye`,
      });
      await page.goto(end.href);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${rp.origin}/bye**`);
      await page.goto(authUrl.href);
      await page.getByRole('textbox', { name: 'Username' }).waitFor();
    } finally {
      await user.close();
    }
  });

  test('the sign-in page works without the web app, on a phone-sized screen, by keyboard', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 640 } });
    try {
      const page = await context.newPage();
      const authUrl = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${rp.origin}/callback`,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: 'k',
      });
      await page.goto(authUrl.href);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(
        await page.evaluate(() => document.activeElement?.id),
        'username',
        'the username field has focus',
      );
      await page.keyboard.type('alice');
      await page.keyboard.press('Tab');
      await page.keyboard.type('wonderland');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${rp.origin}/callback?**`);
      const scroll = await page.evaluate(
        () => document.documentElement.scrollWidth <= window.innerWidth,
      );
      assert.ok(scroll);
    } finally {
      await context.close();
    }
  });
});
