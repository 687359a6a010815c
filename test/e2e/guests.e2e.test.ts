import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  addUser,
  audioFlow,
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
} from './helpers/index.js';

const bridgePort = 10430;

/** Whether the page's "Microphone" / "Camera" toggle is on (pressed = sending). */
const pressed = async (page: Page, name: 'Microphone' | 'Camera') =>
  (await page.getByRole('button', { name, exact: true }).first().getAttribute('aria-pressed')) ===
  'true';

describe('guests join public rooms by link, wait for the host, and are kept out of private rooms', () => {
  let server: ConfabProcess;
  let browser: Browser;
  let alice: User;
  const guests: User[] = [];
  /** A person with no account: a fresh browser context. */
  const newGuest = async () => {
    const g = await openUser(browser, server.localUrl, { smallVideo: true });
    guests.push(g);
    return g.page;
  };

  before(async () => {
    // Embedded defaults: guests work on first run (generated key and registry).
    server = await startConfab({
      config: `bridge:\n  port_range: ${bridgePort}-${bridgePort + 9}\n`,
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
    browser = await launchBrowser();
    await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
    alice = await openUser(browser, server.localUrl, { smallVideo: true });
    await signIn(alice.page, 'alice', 'wonderland', 'Alice Liddell');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a registered user starts group/public/demo; a guest link with name, auto=2 and mute=1 puts John Doe in the call, microphone off, decoding the host', async () => {
    await joinGroupByLink(alice.page, 'group/public/demo');
    const john = await newGuest();
    await john.goto('/meet/r/group/public/demo#guest=1&name=John%20Doe&auto=2&mute=1');
    await john.getByRole('region', { name: 'Group call public/demo' }).waitFor({ timeout: 30_000 });
    // No sign-in page, no "Join call": the link joined at once, and left the address bar.
    assert.equal(john.url(), `${server.localUrl}/meet/r/group/public/demo`);
    assert.equal(await pressed(john, 'Microphone'), false, 'mute=1: microphone off');
    assert.equal(await pressed(john, 'Camera'), true, 'camera on');
    assert.ok((await waitForDecodingVideo(john, 1, 60_000)) >= 1, 'John decodes Alice');
    assert.ok((await waitForDecodingVideo(alice.page, 1, 60_000)) >= 1, 'Alice decodes John');

    assert.deepEqual((await participantNames(john)).sort(), [
      'Alice Liddell owner',
      'John Doe (you) guest',
    ]);
    assert.deepEqual((await participantNames(alice.page)).sort(), [
      'Alice Liddell (you) owner',
      'John Doe guest',
    ]);
    await john.getByText('John Doe guest', { exact: true }).first().waitFor(); // the user bar
    // Alice hears nothing from John's muted microphone.
    await pollUntil(
      () => audioFlow(alice.page, 'John Doe', 1000),
      (f) => f.packets >= 0,
      10_000,
      "John's audio track at Alice's",
    );
    const heard = await audioFlow(alice.page, 'John Doe');
    assert.ok(heard.energy < 0.001, `no audio energy from John (${heard.energy})`);
    // The owner may mute or remove the guest; the guest has no such powers.
    await alice.page.getByRole('button', { name: 'Remove John Doe' }).waitFor();
    assert.equal(await john.getByRole('button', { name: /^(Mute|Remove) / }).count(), 0);
  });

  test("a guest's token reaches only its room: another room's link sends it back, the address book answers 403", async () => {
    const john = guests[0]?.page as Page;
    const token = await john.evaluate(() => {
      const key = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
      return (JSON.parse(sessionStorage.getItem(key ?? '') ?? '{}') as { access_token?: string })
        .access_token;
    });
    assert.ok(token, 'the guest has an access token');
    const gab = await john.evaluate(
      async (t) =>
        (await fetch('/api/gc/v1/users/me', { headers: { authorization: `Bearer ${t}` } })).status,
      token,
    );
    assert.equal(gab, 403);

    const other = await guests[0]?.context.newPage();
    assert.ok(other);
    await other.goto('/meet/r/group/public/other');
    // A new tab has no session of its own: it shows the sign-in page, not the other room.
    await other.getByRole('textbox', { name: 'Username' }).waitFor();
    await other.close();

    await john.getByRole('button', { name: 'Hang up' }).click();
    await john.evaluate(() => {
      window.history.pushState(null, '', '/meet/r/group/public/other');
      window.dispatchEvent(new PopStateEvent('popstate'));
    });
    await john
      .getByRole('heading', { name: 'As a guest you can only join the room of your link.' })
      .waitFor();
    await john.getByRole('link', { name: 'Back to public/demo' }).click();
    await john.getByRole('button', { name: 'Join call' }).waitFor();
  });

  test('a guest who comes first waits for the host, and is let in when the host joins, without reloading', async () => {
    const mary = await newGuest();
    await mary.goto('/meet/r/group/public/lobby#guest=1&name=Mary%20Major&auto=2');
    await mary.getByRole('heading', { name: 'Waiting for the host' }).waitFor({ timeout: 30_000 });
    await mary.evaluate(() => {
      (window as unknown as { __stayed: boolean }).__stayed = true;
    });
    await new Promise((r) => setTimeout(r, 1000));
    await mary.getByRole('heading', { name: 'Waiting for the host' }).waitFor();

    await joinGroupByLink(alice.page, 'group/public/lobby');
    await mary
      .getByRole('region', { name: 'Group call public/lobby' })
      .waitFor({ timeout: 20_000 });
    assert.equal(
      await mary.evaluate(() => (window as unknown as { __stayed?: boolean }).__stayed),
      true,
      'the same page, not a reload',
    );
    assert.ok((await waitForDecodingVideo(mary, 1, 60_000)) >= 1, 'Mary decodes Alice');
    assert.ok((await waitForDecodingVideo(alice.page, 1, 60_000)) >= 1, 'Alice decodes Mary');
    assert.deepEqual((await participantNames(alice.page)).sort(), [
      'Alice Liddell (you) owner',
      'Mary Major guest',
    ]);
    // Mary's link did not mute her: Alice hears her (the check above can tell silence apart).
    const heard = await pollUntil(
      () => audioFlow(alice.page, 'Mary Major', 1500),
      (f) => f.energy > 0.001,
      15_000,
      "Mary's voice at Alice's",
    );
    assert.ok(heard.packets > 0);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
  });

  test('a guest link to a private group is turned away with a message and an offer to sign in', async () => {
    const eve = await newGuest();
    await eve.goto('/meet/r/group/team#guest=1&name=Eve');
    await eve.getByText('This room is not open to guests.').waitFor({ timeout: 30_000 });
    await eve.getByRole('button', { name: 'Sign in' }).click();
    await eve.getByRole('textbox', { name: 'Username' }).waitFor();
  });

  test('a signed-in user opening a guest link joins as themselves', async () => {
    // A new tab: the identity provider knows Alice, so she is not made a guest.
    const tab = await alice.context.newPage();
    await tab.goto('/meet/r/group/public/own#guest=1&name=Impostor&auto=2&mute=3');
    await tab.getByRole('region', { name: 'Group call public/own' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await participantNames(tab), ['Alice Liddell (you) owner']);
    assert.equal(await pressed(tab, 'Microphone'), false, 'mute=3: microphone off');
    assert.equal(await pressed(tab, 'Camera'), false, 'mute=3: camera off');
    await tab.close();
  });
});
