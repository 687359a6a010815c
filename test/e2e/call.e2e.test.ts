import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  countDecodingVideoStreams,
  launchBrowser,
  openUser,
  pollUntil,
  rtpTotals,
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
    server = await startConfab({ config: 'call_timeout: 5\n' });
    await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
    await addUser(server, 'bob', 'Bob Builder', 'can-we-fix-it');
    await addUser(server, 'carol', 'Carol Danvers', 'higher-further');
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
    const audioIn = (await rtpTotals(alice.page)).audioPacketsIn;
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

  async function dismissNotices() {
    for (const u of [alice, bob]) {
      const close = u.page.getByRole('button', { name: 'Close', exact: true });
      if (await close.isVisible()) await close.click();
    }
  }

  test('Ignore sends nothing: the dialog closes, and Alice sees "No answer" after call_timeout', async () => {
    await dismissNotices();
    const dialog = await ringBob();
    await dialog.getByRole('button', { name: 'Ignore' }).click();
    await dialog.waitFor({ state: 'detached' });
    await alice.page.getByRole('status').filter({ hasText: 'Calling Bob Builder…' }).waitFor();
    await alice.page
      .getByRole('status')
      .filter({ hasText: 'No answer' })
      .waitFor({ timeout: 15_000 });
  });

  test('a user who is not signed in anywhere is "Not reachable"', async () => {
    await dismissNotices();
    await alice.page.getByRole('button', { name: 'Contacts' }).click();
    await alice.page.getByRole('searchbox', { name: 'Search contacts' }).fill('carol');
    await alice.page
      .getByRole('listitem', { name: 'Carol Danvers' })
      .getByRole('button', { name: 'Call', exact: true })
      .click();
    await alice.page.getByRole('status').filter({ hasText: 'Not reachable' }).waitFor();
  });

  test("Bob's second tab stops ringing when the first accepts; a third caller finds Bob busy", async () => {
    await dismissNotices();
    const bobTab2 = await bob.context.newPage();
    await bobTab2.goto('/meet/');
    await bobTab2.getByRole('heading', { level: 1, name: 'Hello, Bob Builder' }).waitFor();
    const carol = await openUser(browser, server.localUrl);
    try {
      const dialog = await ringBob();
      const dialog2 = bobTab2.getByRole('dialog', { name: 'Alice Liddell' });
      await dialog2.waitFor();
      await dialog.getByRole('button', { name: 'Accept' }).click();
      await dialog2.waitFor({ state: 'detached' });
      await waitForDecodingVideo(alice.page, 1, 30_000);

      // Bob's second tab is free, so a call rings there; closing it leaves Bob in a call only.
      await bobTab2.close();
      await signIn(carol.page, 'carol', 'higher-further', 'Carol Danvers');
      await carol.page.getByRole('button', { name: 'Contacts' }).click();
      await carol.page.getByRole('searchbox', { name: 'Search contacts' }).fill('bob');
      await carol.page
        .getByRole('listitem', { name: 'Bob Builder' })
        .getByRole('button', { name: 'Call', exact: true })
        .click();
      await carol.page.getByRole('status').filter({ hasText: 'Busy' }).waitFor();
      assert.equal(await bob.page.getByRole('dialog').count(), 0, 'Bob in a call sees no dialog');
      await alice.page.mouse.move(10, 10);
      await alice.page.getByRole('button', { name: 'Hang up' }).click();
    } finally {
      await carol.close();
    }
  });

  test('an audio call sends and receives no video; a video call caps the sent bitrate', async () => {
    await dismissNotices();
    await bob.page.getByRole('heading', { level: 1, name: 'Hello, Bob Builder' }).waitFor();
    await alice.page.getByRole('button', { name: 'Contacts' }).click();
    await alice.page.getByRole('searchbox', { name: 'Search contacts' }).fill('bob');
    await alice.page
      .getByRole('listitem', { name: 'Bob Builder' })
      .getByRole('button', { name: 'Audio call' })
      .click();
    await bob.page
      .getByRole('dialog', { name: 'Alice Liddell' })
      .getByRole('button', { name: 'Accept' })
      .click();
    const stats = await pollUntil(
      () => rtpTotals(alice.page),
      (t) => t.audioPacketsIn > 0,
      20_000,
      'audio at Alice',
    );
    assert.ok(stats.audioPacketsIn > 0, 'audio flows');
    assert.equal(stats.videoPacketsOut, 0, 'Alice sends no video');
    assert.equal(await countDecodingVideoStreams(alice.page, 1000), 0, 'and decodes none');
    await alice.page.mouse.move(10, 10);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();

    await dismissNotices();
    const dialog = await ringBob();
    await dialog.getByRole('button', { name: 'Accept' }).click();
    await waitForDecodingVideo(alice.page, 1, 30_000);
    const maxBitrate = await alice.page.evaluate(async () => {
      const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
        .__confabPeerConnections;
      const sender = (pcs.at(-1) as RTCPeerConnection)
        .getSenders()
        .find((s) => s.track?.kind === 'video');
      for (let i = 0; i < 50 && !sender?.getParameters().encodings?.[0]?.maxBitrate; i++)
        await new Promise((r) => setTimeout(r, 100));
      return sender?.getParameters().encodings?.[0]?.maxBitrate;
    });
    assert.equal(maxBitrate, 1_000_000, 'video_max_bitrate (1 Mbit/s) caps the sent video');
    await alice.page.mouse.move(10, 10);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
  });

  test('recent calls list the calls of this user in this browser, survive a reload, and call again in one click', async () => {
    await dismissNotices();
    await alice.page.reload();
    const recent = alice.page.getByRole('region', { name: 'Recent calls' });
    const bobRows = recent.getByRole('listitem', { name: 'Bob Builder' });
    await bobRows.first().waitFor();
    assert.ok((await bobRows.count()) >= 3, 'the earlier calls to Bob are listed');
    assert.match(await bobRows.first().innerText(), /Outgoing · talked · /);
    assert.match(
      await recent.getByRole('listitem', { name: 'Carol Danvers' }).first().innerText(),
      /not reachable/,
    );
    const bobsRecent = bob.page.getByRole('region', { name: 'Recent calls' });
    assert.match(
      await bobsRecent.getByRole('listitem', { name: 'Alice Liddell' }).first().innerText(),
      /Incoming/,
    );

    await bobRows.first().getByRole('button', { name: 'Call' }).click();
    const dialog = bob.page.getByRole('dialog', { name: 'Alice Liddell' });
    await dialog.getByRole('button', { name: 'Decline' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Call declined' }).waitFor();
    await dismissNotices();
    assert.match(await bobRows.first().innerText(), /Outgoing · declined · /);
  });
});
