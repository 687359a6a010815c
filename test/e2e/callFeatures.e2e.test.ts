import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../support/net.js';
import {
  addUser,
  type ConfabProcess,
  callFromContacts,
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

const people = {
  alice: ['Alice Liddell', 'wonderland'],
  bob: ['Bob Builder', 'can-we-fix-it'],
  carol: ['Carol Danvers', 'higher-further'],
} as const;
type Person = keyof typeof people;

/** The last peer connection of a page, for reading what the browser negotiated. */
const lastPc = 'window.__confabPeerConnections.at(-1)';

describe('call features: screen sharing, devices, audio only, lost connections', () => {
  let server: ConfabProcess;
  let browser: Browser;
  let listen: string;
  const config = 'call_timeout: 20\n';
  const open: User[] = [];

  before(async () => {
    listen = `127.0.0.1:${await freePort()}`;
    server = await startConfab({ config, listen });
    for (const [name, [display, password]] of Object.entries(people))
      await addUser(server, name, display, password);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function user(name: Person, opts: { init?: string } = {}): Promise<User> {
    const u = await openUser(browser, server.localUrl);
    if (opts.init) await u.context.addInitScript({ content: opts.init });
    open.push(u);
    const [display, password] = people[name];
    await signIn(u.page, name, password, display);
    return u;
  }

  async function closeAll() {
    for (const u of open.splice(0)) await u.close();
  }

  const call = (from: User, to: User, toName: string) =>
    callFromContacts(from.page, to.page, toName);

  /** Shows the fading call controls, then presses one. */
  async function press(page: Page, name: string) {
    await page.mouse.move(300, 200);
    await page.mouse.move(310, 210);
    await page.getByRole('button', { name, exact: true }).click();
  }

  test('"Share screen" sends the screen (as wide as the fake screen) shown large on the other side, capped at 2.5 Mbit/s; "Stop sharing" ends it', async () => {
    try {
      const alice = await user('alice');
      const bob = await user('bob');
      await call(alice, bob, 'Bob Builder');
      await waitForDecodingVideo(bob.page, 1, 30_000);

      await press(alice.page, 'Share screen');
      await alice.page.getByRole('button', { name: 'Stop sharing' }).waitFor();
      await alice.page
        .getByRole('status')
        .filter({ hasText: 'You are sharing your screen' })
        .waitFor();
      const screen = bob.page.getByLabel("Alice Liddell's screen");
      await screen.waitFor();
      // The fake screen is as wide as the headless browser's screen; the camera is 640 wide.
      const screenWidth = (await alice.page.evaluate(
        `${lastPc}.getSenders().find((s) => s.track && s.track.contentHint === 'detail').track.getSettings().width`,
      )) as number;
      assert.ok(screenWidth > 640, `a screen wider than the camera (${screenWidth})`);
      const widths = await pollUntil(
        async () => (await rtpTotals(bob.page)).videoWidths,
        (w) => w.includes(screenWidth),
        20_000,
        `a ${screenWidth}-wide stream at Bob's`,
      );
      assert.ok(widths.length >= 2, 'the camera still comes too (in the strip)');
      const caps = await alice.page.evaluate(`(() => {
        const pc = ${lastPc};
        return pc.getSenders().filter((s) => s.track && s.track.kind === 'video')
          .map((s) => ({ hint: s.track.contentHint, max: s.getParameters().encodings[0]?.maxBitrate }));
      })()`);
      assert.deepEqual(
        (caps as { hint: string; max: number }[]).sort((a, b) => a.max - b.max),
        [
          { hint: '', max: 1_000_000 },
          { hint: 'detail', max: 2_500_000 },
        ],
      );

      await press(alice.page, 'Stop sharing');
      await alice.page.getByRole('button', { name: 'Share screen' }).waitFor();
      await screen.waitFor({ state: 'detached' });
      await waitForDecodingVideo(bob.page, 1, 10_000);
      await press(alice.page, 'Hang up');
      await bob.page.getByRole('status').filter({ hasText: 'Call ended' }).waitFor();
    } finally {
      await closeAll();
    }
  });

  test('the browser\'s own "stop sharing" (the track ends) stops the share too', async () => {
    try {
      const alice = await user('alice');
      const bob = await user('bob');
      await call(alice, bob, 'Bob Builder');
      await waitForDecodingVideo(bob.page, 1, 30_000);
      await press(bob.page, 'Share screen');
      await alice.page.getByLabel("Bob Builder's screen").waitFor();
      await bob.page.evaluate(`(() => {
        const pc = ${lastPc};
        for (const s of pc.getSenders())
          if (s.track && s.track.contentHint === 'detail') {
            s.track.stop();
            s.track.dispatchEvent(new Event('ended'));
          }
      })()`);
      await bob.page.getByRole('button', { name: 'Share screen' }).waitFor();
      await alice.page.getByLabel("Bob Builder's screen").waitFor({ state: 'detached' });
    } finally {
      await closeAll();
    }
  });

  test('"Audio only" in Settings: no video is sent or received, and "Share screen" is disabled', async () => {
    try {
      const alice = await user('alice');
      const bob = await user('bob');
      await bob.page.getByRole('button', { name: 'Settings' }).click();
      const dialog = bob.page.getByRole('dialog', { name: 'Settings' });
      const audioOnly = dialog.getByRole('switch', { name: 'Audio only' });
      // The dialog takes the focus; Escape closes it, without applying a change.
      assert.equal(await audioOnly.evaluate((el) => el === document.activeElement), true);
      await bob.page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      await bob.page.getByRole('button', { name: 'Settings' }).click();
      await audioOnly.click();
      await bob.page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      await bob.page.getByRole('button', { name: 'Settings' }).click();
      assert.equal(await audioOnly.getAttribute('aria-checked'), 'false');
      await audioOnly.click();
      assert.equal(await audioOnly.getAttribute('aria-checked'), 'true');
      assert.ok(await dialog.getByRole('combobox', { name: 'Camera device' }).isDisabled());
      await dialog.getByRole('button', { name: 'Done' }).click();
      await dialog.waitFor({ state: 'detached' });

      // Alice makes a video call; Bob's setting refuses video both ways.
      await call(alice, bob, 'Bob Builder');
      const totals = await pollUntil(
        () => rtpTotals(bob.page),
        (t) => t.audioPacketsIn > 50 && t.audioPacketsOut > 50,
        20_000,
        'audio both ways',
      );
      assert.equal(totals.videoPacketsOut, 0, 'Bob sends no video');
      assert.equal(totals.videoPacketsIn, 0, 'Bob receives no video');
      assert.equal((await rtpTotals(alice.page)).videoPacketsOut, 0, 'Alice sends none either');
      assert.equal(await countDecodingVideoStreams(alice.page, 1000), 0);
      await bob.page.mouse.move(300, 200);
      assert.ok(await bob.page.getByRole('button', { name: 'Share screen' }).isDisabled());

      // Kept per browser: after a reload the switch is still on.
      await press(bob.page, 'Hang up');
      await bob.page.reload();
      await bob.page.getByRole('button', { name: 'Settings' }).click();
      assert.equal(
        await bob.page.getByRole('switch', { name: 'Audio only' }).getAttribute('aria-checked'),
        'true',
      );
    } finally {
      await closeAll();
    }
  });

  test('changing the "Microphone device" in a call switches the track without renegotiating, and audio keeps flowing; the "Speaker device" takes the other side\'s audio', async () => {
    try {
      const alice = await user('alice');
      const bob = await user('bob');
      await call(alice, bob, 'Bob Builder');
      await waitForDecodingVideo(bob.page, 1, 30_000);
      const sdpBefore = await alice.page.evaluate(`${lastPc}.localDescription.sdp`);
      const trackBefore = await alice.page.evaluate(
        `${lastPc}.getSenders().find((s) => s.track && s.track.kind === 'audio').track.label`,
      );

      await press(alice.page, 'Settings');
      const dialog = alice.page.getByRole('dialog', { name: 'Settings' });
      const mic = dialog.getByRole('combobox', { name: 'Microphone device' });
      // The list fills in once the browser has enumerated the devices.
      const options = (
        await pollUntil(
          () => mic.locator('option').allInnerTexts(),
          (all) => all.some((o) => o !== 'Default' && o !== trackBefore),
          5000,
          'the microphones listed',
        )
      ).filter((o) => o !== 'Default' && o !== trackBefore);
      assert.ok(options.length > 0, `another microphone to pick (have ${trackBefore})`);
      const picked = options.at(-1) as string;
      await mic.selectOption({ label: picked });
      await dialog.getByRole('button', { name: 'Done' }).click();
      await dialog.waitFor({ state: 'detached' });

      await pollUntil(
        () =>
          alice.page.evaluate(
            `${lastPc}.getSenders().find((s) => s.track && s.track.kind === 'audio').track.label`,
          ),
        (label) => label === picked,
        10_000,
        'the picked microphone in the call',
      );
      const before = (await rtpTotals(bob.page)).audioPacketsIn;
      await pollUntil(
        () => rtpTotals(bob.page),
        (t) => t.audioPacketsIn > before + 50,
        10_000,
        'audio still arriving',
      );
      assert.equal(
        await alice.page.evaluate(`${lastPc}.localDescription.sdp`),
        sdpBefore,
        'no new offer was made',
      );

      // "Speaker device": Bob's audio from Alice plays on the chosen output (setSinkId).
      await press(bob.page, 'Settings');
      const bobDialog = bob.page.getByRole('dialog', { name: 'Settings' });
      const speaker = bobDialog.getByRole('combobox', { name: 'Speaker device' });
      const outputs = await pollUntil(
        () =>
          speaker
            .locator('option')
            .evaluateAll((os) =>
              (os as HTMLOptionElement[]).map((o) => o.value).filter((v) => v !== ''),
            ),
        (all) => all.length > 0,
        5000,
        'the speakers listed',
      );
      const chosen = outputs.at(-1) as string;
      await speaker.selectOption(chosen);
      await bobDialog.getByRole('button', { name: 'Done' }).click();
      await pollUntil(
        () =>
          bob.page.evaluate(
            () =>
              (
                document.querySelector('video[aria-label="Alice Liddell"]') as HTMLVideoElement & {
                  sinkId: string;
                }
              ).sinkId,
          ),
        (sink) => sink === chosen,
        5000,
        "Alice's audio on the chosen speaker",
      );
    } finally {
      await closeAll();
    }
  });

  test('an ICE restart during a call keeps it going', async () => {
    try {
      const alice = await user('alice');
      const bob = await user('bob');
      await call(alice, bob, 'Bob Builder');
      await waitForDecodingVideo(alice.page, 1, 30_000);
      const ufrag = `/a=ice-ufrag:(\\S+)/.exec(${lastPc}.remoteDescription.sdp)[1]`;
      const old = await alice.page.evaluate(ufrag);
      // Bob (the polite side) restarts, as the app does when ICE fails.
      await bob.page.evaluate(`${lastPc}.restartIce()`);
      await pollUntil(
        () => alice.page.evaluate(ufrag),
        (u) => u !== old,
        10_000,
        "Bob's new ICE credentials at Alice's",
      );
      await waitForDecodingVideo(alice.page, 1, 15_000);
      await waitForDecodingVideo(bob.page, 1, 15_000);
    } finally {
      await closeAll();
    }
  });

  test('a camera that may not be used: the app says what to check, calls go audio only, and "Try again" brings the camera once allowed', async () => {
    try {
      // The page sees what a refused camera permission gives it: NotAllowedError for video.
      const carol = await user('carol', {
        init: `(() => {
          const md = navigator.mediaDevices;
          const real = md.getUserMedia.bind(md);
          md.getUserMedia = (c) => c && c.video && !window.__cameraAllowed
            ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
            : real(c);
        })();`,
      });
      const notice = carol.page.getByRole('alert').filter({ hasText: 'calls are audio only' });
      await notice.waitFor();
      assert.match(await notice.innerText(), /privacy settings/);

      const alice = await user('alice');
      await call(carol, alice, 'Alice Liddell');
      await pollUntil(
        () => rtpTotals(alice.page),
        (t) => t.audioPacketsIn > 50,
        20_000,
        "Carol's audio at Alice's",
      );
      assert.equal((await rtpTotals(carol.page)).videoPacketsOut, 0);
      await press(carol.page, 'Hang up');

      await carol.page.evaluate('window.__cameraAllowed = true');
      await notice.getByRole('button', { name: 'Try again' }).click();
      await notice.waitFor({ state: 'detached' });
      await carol.page.getByLabel('Your camera').waitFor();
    } finally {
      await closeAll();
    }
  });

  test('a server restart mid-call: media flows on, the banner shows and hides, and hanging up still reaches the other side', async () => {
    try {
      const alice = await user('alice');
      const bob = await user('bob');
      await call(alice, bob, 'Bob Builder');
      await waitForDecodingVideo(bob.page, 1, 30_000);
      await waitForDecodingVideo(alice.page, 1, 30_000);

      await server.stop();
      const banner = (p: Page) =>
        p.getByRole('alert').filter({
          hasText: 'Failed to connect to server - please check your internet connection',
        });
      await banner(alice.page).waitFor();
      await banner(bob.page).waitFor();
      assert.ok((await countDecodingVideoStreams(bob.page)) >= 1, 'video flows while it is down');
      assert.equal(await bob.page.getByRole('button', { name: 'Hang up' }).count(), 1);

      server = await startConfab({ config, listen, dir: server.dir });
      await banner(alice.page).waitFor({ state: 'detached', timeout: 20_000 });
      await banner(bob.page).waitFor({ state: 'detached', timeout: 20_000 });
      assert.ok((await countDecodingVideoStreams(alice.page)) >= 1, 'and after it is back');

      await press(alice.page, 'Hang up');
      await bob.page.getByRole('status').filter({ hasText: 'Call ended' }).waitFor();
    } finally {
      await closeAll();
    }
  });
});
