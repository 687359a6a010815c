import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  launchBrowser,
  openUser,
  signIn,
  startConfab,
  type User,
  waitForDecodingVideo,
} from './helpers/index.js';

describe('one-to-one calls between two signed-in users', () => {
  let server: ConfabProcess;
  let browser: Browser;
  let alice: User;
  let bob: User;

  before(async () => {
    server = await startConfab();
    await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
    await addUser(server, 'bob', 'Bob Builder', 'can-we-fix-it');
    browser = await launchBrowser();
    alice = await openUser(browser, server.localUrl);
    bob = await openUser(browser, server.localUrl);
    await signIn(alice.page, 'alice', 'wonderland', 'Alice Liddell');
    await signIn(bob.page, 'bob', 'can-we-fix-it', 'Bob Builder');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function ringBob() {
    const page = alice.page;
    await page.getByRole('button', { name: 'Contacts' }).click();
    await page.getByRole('searchbox', { name: 'Search contacts' }).fill('bob');
    const row = page.getByRole('listitem', { name: 'Bob Builder' });
    await row.getByRole('button', { name: 'Call', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Calling Bob Builder…' }).waitFor();
    const dialog = bob.page.getByRole('dialog', { name: 'Alice Liddell' });
    await dialog.waitFor();
    return dialog;
  }

  test("Alice finds Bob under Contacts and calls; Bob accepts; both decode each other's video; hang up ends it on both sides", async () => {
    const dialog = await ringBob();
    assert.equal(await dialog.getByRole('heading').innerText(), 'Alice Liddell is calling');
    await dialog.getByRole('button', { name: 'Accept' }).click();

    assert.ok(
      (await waitForDecodingVideo(alice.page, 1, 30_000)) >= 1,
      "Alice decodes Bob's video",
    );
    assert.ok((await waitForDecodingVideo(bob.page, 1, 30_000)) >= 1, "Bob decodes Alice's video");
    const audioIn = await alice.page.evaluate(async () => {
      const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
        .__confabPeerConnections;
      let packets = 0;
      for (const pc of pcs)
        (await pc.getStats()).forEach(
          (s: { type: string; kind?: string; packetsReceived?: number }) => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') packets += s.packetsReceived ?? 0;
          },
        );
      return packets;
    });
    assert.ok(audioIn > 0, 'audio packets arrive');

    // Controls: microphone and camera are on (pressed), then Hang up.
    const mic = alice.page.getByRole('button', { name: 'Microphone' });
    assert.equal(await mic.getAttribute('aria-pressed'), 'true');
    await alice.page.mouse.move(200, 200);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
    await bob.page.getByRole('status').filter({ hasText: 'Call ended' }).waitFor();
    await alice.page.getByRole('heading', { level: 1, name: 'Hello, Alice Liddell' }).waitFor();
    await bob.page.getByRole('heading', { level: 1, name: 'Hello, Bob Builder' }).waitFor();
    assert.deepEqual(
      alice.errors.filter((e) => /Content Security Policy/i.test(e)),
      [],
    );
  });

  test('when Bob declines, Alice sees "Call declined"', async () => {
    for (const u of [alice, bob]) {
      const close = u.page.getByRole('button', { name: 'Close', exact: true });
      if (await close.isVisible()) await close.click();
    }
    const dialog = await ringBob();
    await dialog.getByRole('button', { name: 'Decline' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Call declined' }).waitFor();
    await dialog.waitFor({ state: 'detached' });
  });
});
