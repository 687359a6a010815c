import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  joinGroupByLink,
  launchBrowser,
  openUser,
  participantNames,
  pollUntil,
  signIn,
  startConfab,
  type User,
  waitForDecodingVideo,
} from '../e2e/helpers/index.js';
import { type KpopUser, kwmDecodingVideo, signInAsKopanoMeet, startKwmStyle } from './kopano.js';

interface KwmState {
  errors: unknown[];
  log: string[];
  sent: { type: string; subtype?: string; target?: string }[];
  connects: number;
  negotiations: number;
  self: { id: string; name: string };
}
const kwmState = (page: Page) =>
  page.evaluate(() => {
    const kwm = (window as unknown as { kwm: KwmState }).kwm;
    return {
      errors: kwm.errors,
      log: kwm.log,
      sent: kwm.sent,
      connects: kwm.connects,
      negotiations: kwm.negotiations,
      self: kwm.self,
    } as KwmState;
  });
const kwm = (page: Page, method: string, ...args: unknown[]) =>
  page.evaluate(
    ([m, a]) =>
      (
        (window as unknown as { kwm: Record<string, (...x: unknown[]) => unknown> }).kwm[
          m as string
        ] as (...x: unknown[]) => Promise<unknown>
      ).apply((window as unknown as { kwm: unknown }).kwm, a as unknown[]),
    [method, args] as const,
  );

/**
 * Issue 20: Kopano's own client against Confab. A client that behaves as kwmjs 1.3.1 does
 * (test/support/browser/kwmStyleClient.ts), signed in as Kopano Meet signs in (oidc-client
 * 1.11.5 with kpop's settings), with real media in Chromium, beside Confab's own web app.
 */
describe('Kopano clients: kwmjs-style signaling and Meet-style sign-in against Confab', () => {
  let server: ConfabProcess;
  let browser: Browser;
  const users: { page: Page; user: KpopUser; close(): Promise<void> }[] = [];
  let app: User;

  before(async () => {
    server = await startConfab({ env: { CONFAB_BRIDGE_WORKERS: '1' } });
    for (const [name, display] of [
      ['kim', 'Kim Kwm'],
      ['lou', 'Lou Kwm'],
      ['mia', 'Mia Webapp'],
    ])
      await addUser(server, name as string, display as string, `${name}-pw`);
    browser = await launchBrowser();
  });
  after(async () => {
    for (const u of users) await u.close();
    await app?.close();
    await browser?.close();
    await server?.stop();
  });

  test('sign-in as Kopano Meet: oidc-client 1.11.5 with kpop’s #oidc-callback redirect and loadUserInfo', async () => {
    for (const name of ['kim', 'lou']) {
      const u = await openUser(browser, server.localUrl, { bypassCSP: true });
      const userinfo: number[] = [];
      u.page.on('response', (r) => {
        if (new URL(r.url()).pathname === '/konnect/v1/userinfo') userinfo.push(r.status());
      });
      const user = await signInAsKopanoMeet(u.page, server.url, name, `${name}-pw`);
      // oidc-client loaded userinfo (loadUserInfo), and took it: its claims are in the profile.
      assert.deepEqual(userinfo, [200]);
      assert.equal(user.profile.email, `${name}@example.com`);
      assert.equal(user.profile.name, name === 'kim' ? 'Kim Kwm' : 'Lou Kwm');
      assert.equal(user.profile.preferred_username, name);
      for (const scope of ['openid', 'profile', 'email', 'kopano/kwm'])
        assert.ok(user.scope.split(' ').includes(scope), `${scope} in ${user.scope}`);
      assert.deepEqual(u.errors, []);
      await startKwmStyle(u.page, user);
      users.push({ page: u.page, user, close: u.close });
    }
  });

  test('one-to-one: ring, accept, video both ways; kwmjs’s reconnect with renegotiation keeps it; hangup', async () => {
    const [kim, lou] = users as [(typeof users)[0], (typeof users)[0]];
    const louId = (await kwmState(lou.page)).self.id;
    await kwm(kim.page, 'call', louId);
    for (const p of [kim.page, lou.page])
      await pollUntil(
        () => kwmDecodingVideo(p),
        (n) => n >= 1,
        20_000,
      );
    const negotiated = await Promise.all(
      [kim.page, lou.page].map(async (p) => (await kwmState(p)).negotiations),
    );
    await kwm(kim.page, 'dropSocket');
    await pollUntil(
      async () => (await kwmState(kim.page)).connects,
      (n) => n >= 2,
      15_000,
    );
    // Meet renegotiates every pc once connected again: a new offer and answer went through.
    for (const [i, p] of [kim.page, lou.page].entries())
      await pollUntil(
        async () => (await kwmState(p)).negotiations,
        (n) => n > (negotiated[i] ?? 0),
        10_000,
        'a renegotiation after the reconnect',
      );
    // Renegotiated over the new socket, and still decoding on both sides.
    for (const p of [kim.page, lou.page])
      await pollUntil(
        () => kwmDecodingVideo(p),
        (n) => n >= 1,
        15_000,
      );
    await kwm(kim.page, 'hangup');
    await pollUntil(
      () =>
        lou.page.evaluate(() => (window as unknown as { kwm: { channel: string } }).kwm.channel),
      (c) => c === '',
      10_000,
    );
    for (const p of [kim.page, lou.page]) assert.deepEqual((await kwmState(p)).errors, []);
  });

  test('a group room: two kwmjs-style clients and a Confab web app user all decode each other’s video; no frame drew an error; they leave', async () => {
    const [kim, lou] = users as [(typeof users)[0], (typeof users)[0]];
    app = await openUser(browser, server.localUrl, { smallVideo: true });
    await app.context.addInitScript(() => {
      const errors: unknown[] = [];
      (window as unknown as { __rtmErrors: unknown[] }).__rtmErrors = errors;
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          this.addEventListener('message', (e) => {
            try {
              const m = JSON.parse(String(e.data)) as { type?: string };
              if (m.type === 'error') errors.push(m);
            } catch {}
          });
        }
      };
    });
    await signIn(app.page, 'mia', 'mia-pw', 'Mia Webapp');
    await joinGroupByLink(app.page, 'group/interop');
    // Where each kwmjs-style client's frames for this room start.
    const from = await Promise.all(
      [kim.page, lou.page].map(async (p) => (await kwmState(p)).sent.length),
    );
    await kwm(kim.page, 'joinGroup', 'group/interop');
    await kwm(lou.page, 'joinGroup', 'group/interop');

    const allDecode = async () => {
      await waitForDecodingVideo(app.page, 2, 30_000);
      for (const p of [kim.page, lou.page])
        await pollUntil(
          () => kwmDecodingVideo(p),
          (n) => n >= 2,
          30_000,
          'two videos decoding at a kwmjs-style client',
        );
    };
    await allDecode();
    // kwmjs recovers a broken pipeline connection on its own (a new pc, a new pcid): a new
    // session follows, and the picture comes back.
    await kwm(kim.page, 'recover', '~confab-bridge');
    await allDecode();

    const logs = await Promise.all([kim.page, lou.page].map(async (p) => (await kwmState(p)).log));
    for (const p of [kim.page, lou.page]) await kwm(p, 'hangup');
    // Both left, for the web app too.
    await pollUntil(
      async () => (await participantNames(app.page)).length,
      (n) => n === 1,
      10_000,
      'the kwmjs-style clients gone from the participant list',
    );
    await app.page.getByRole('button', { name: 'Hang up' }).click();
    await new Promise((r) => setTimeout(r, 500));
    for (const [i, p] of [kim.page, lou.page].entries()) {
      const s = await kwmState(p);
      assert.deepEqual(s.errors, [], `errors at ${s.self.name}: ${JSON.stringify(s.errors)}`);
      // While in the room nothing it got was dropped as kwmjs would drop it (late frames after
      // leaving may be, as with kwmjs).
      assert.ok(
        !(logs[i] ?? []).some((l) =>
          /wrong state|unknown peer|wrong channel|unknown signal/.test(l),
        ),
        `${s.self.name}: ${(logs[i] ?? []).join('; ')}`,
      );
      // It did all it does in a group: joined, called the others (mesh), signalled, left.
      const subtypes = new Set(s.sent.slice(from[i]).map((f) => f.subtype));
      for (const st of ['webrtc_group', 'webrtc_call', 'webrtc_signal', 'webrtc_hangup'])
        assert.ok(subtypes.has(st), `${s.self.name} sent ${st}`);
    }
    assert.deepEqual(
      await app.page.evaluate(() => (window as unknown as { __rtmErrors: unknown[] }).__rtmErrors),
      [],
      'the web app drew no error either',
    );
  });
});
