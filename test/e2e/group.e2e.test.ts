import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  countDecodingVideoStreams,
  joinGroupFromNewCall,
  launchBrowser,
  openUser,
  participantNames,
  pollUntil,
  selectedRemotePorts,
  signIn,
  startConfab,
  type User,
  waitForDecodingVideo,
} from './helpers/index.js';

const bridgePort = 10400;

describe('group calls through the focus and a bridge', () => {
  let server: ConfabProcess;
  let browser: Browser;
  const users: Record<string, User> = {};
  const people = [
    ['alice', 'Alice Liddell', 'wonderland'],
    ['bob', 'Bob Builder', 'can-we-fix-it'],
    ['carol', 'Carol Danvers', 'higher-further'],
    ['dave', 'Dave Bowman', 'open-the-pod-bay'],
  ] as const;

  before(async () => {
    server = await startConfab({
      config: `bridge:\n  port_range: ${bridgePort}-${bridgePort + 9}\nconference_empty_timeout: 5\n`,
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
    browser = await launchBrowser();
    for (const [username, name, password] of people) {
      await addUser(server, username, name, password);
      const u = await openUser(browser, server.localUrl, { smallVideo: true });
      await signIn(u.page, username, password, name);
      users[username] = u;
    }
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const page = (who: keyof typeof users) => (users[who] as User).page;

  /** Other participants' tiles whose video element shows a picture (what the user sees). */
  async function tilesShowing(who: keyof typeof users, count: number): Promise<number> {
    const read = () =>
      page(who)
        .getByRole('list', { name: 'Participants’ videos' })
        .evaluate(
          (list) =>
            [...list.querySelectorAll('li:not(.self) video')].filter(
              (v) => (v as HTMLVideoElement).videoWidth > 0 && !(v as HTMLVideoElement).paused,
            ).length,
        );
    return pollUntil(read, (n) => n >= count, 60_000, `${count} tiles showing video at ${who}'s`);
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${server.localUrl}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        sum += Number(line.split(' ').at(-1));
    return sum;
  }

  test('three users join through New call → Join or create group → Join → Join call and each decodes the two others through the bridge', async () => {
    for (const who of ['alice', 'bob', 'carol'] as const)
      await joinGroupFromNewCall(page(who), 'test');
    for (const who of ['alice', 'bob', 'carol'] as const) {
      assert.ok(
        (await waitForDecodingVideo(page(who), 2, 60_000)) >= 2,
        `${who} decodes two remote videos`,
      );
    }
    for (const who of ['alice', 'bob', 'carol'] as const) await tilesShowing(who, 2);
    for (const who of ['alice', 'bob', 'carol'] as const) {
      const ports = await selectedRemotePorts(page(who));
      assert.deepEqual(ports, [bridgePort], `${who}'s one connection goes to the bridge`);
    }
    // Tiles and the participant list carry names; the first to join owns the conference.
    const tiles = page('bob').getByRole('list', { name: 'Participants’ videos' });
    await tiles.getByRole('listitem').filter({ hasText: 'Alice Liddell · owner' }).waitFor();
    await tiles.getByRole('listitem').filter({ hasText: 'Carol Danvers' }).waitFor();
    assert.deepEqual((await participantNames(page('carol'))).sort(), [
      'Alice Liddell owner',
      'Bob Builder',
      'Carol Danvers (you)',
    ]);
    assert.equal(page('alice').url(), `${server.localUrl}/meet/r/group/test`);
    assert.ok(
      (await metric('confab_bridge_forwarded_packets_total')) > 0,
      'forwarded packets counted',
    );
    assert.equal(await metric('confab_conference_participants'), 3);
  });

  test('a fourth who opens the link is connected to the bridge on the landing page, unlisted, with no media either way; "Join call" gets a picture of everyone on that connection; one who leaves disappears for the others', async () => {
    // The prejoin: on the landing page Dave's bridge connection comes up ahead of the press.
    await page('dave').goto('/meet/r/group/test');
    await page('dave').getByRole('button', { name: 'Join call' }).waitFor();
    const rtp = () =>
      page('dave').evaluate(async () => {
        const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
          .__confabPeerConnections;
        let sent = 0;
        let received = 0;
        for (const pc of pcs)
          (await pc.getStats()).forEach(
            (r: { type: string; packetsSent?: number; packetsReceived?: number }) => {
              if (r.type === 'outbound-rtp') sent += r.packetsSent ?? 0;
              if (r.type === 'inbound-rtp') received += r.packetsReceived ?? 0;
            },
          );
        return { pcs: pcs.map((pc) => pc.connectionState), sent, received };
      });
    await pollUntil(rtp, (r) => r.pcs.includes('connected'), 30_000, "Dave's prejoin connected");
    await new Promise((r) => setTimeout(r, 1500));
    const landing = await rtp();
    assert.deepEqual(landing, { pcs: ['connected'], sent: 0, received: 0 }, 'no media either way');
    assert.equal((await participantNames(page('alice'))).length, 3, 'Dave is not listed');
    assert.equal(await metric('confab_conference_participants'), 3);

    await page('dave').getByRole('button', { name: 'Join call' }).click();
    await page('dave')
      .getByRole('region', { name: /^Group call / })
      .waitFor();
    assert.ok(
      (await waitForDecodingVideo(page('dave'), 3, 90_000)) >= 3,
      'Dave decodes three videos',
    );
    assert.ok(
      (await waitForDecodingVideo(page('alice'), 3, 60_000)) >= 3,
      'Alice decodes Dave too',
    );
    await tilesShowing('dave', 3);
    assert.deepEqual((await rtp()).pcs, ['connected'], 'on the prejoin’s connection');

    await page('carol').mouse.move(100, 100);
    await page('carol').getByRole('button', { name: 'Hang up' }).click();
    await page('carol').getByRole('button', { name: 'Join call' }).waitFor();
    for (const who of ['alice', 'bob', 'dave'] as const) {
      await pollUntil(
        () => participantNames(page(who)),
        (names) => names.length === 3 && !names.some((n) => n.startsWith('Carol')),
        20_000,
        `Carol gone from ${who}'s list`,
      );
    }
    assert.ok(
      (await waitForDecodingVideo(page('alice'), 2, 30_000)) >= 2,
      'Alice still decodes Bob and Dave',
    );
  });

  test('a member whose signaling connection drops stays in the call: same peer connection, media on both ways, nobody sees them leave', async () => {
    const peerConnections = () =>
      page('dave').evaluate(
        () =>
          (window as unknown as { __confabPeerConnections: unknown[] }).__confabPeerConnections
            .length,
      );
    const before = await peerConnections();
    // Dave's signaling socket closes as a network would drop it; the app reconnects.
    await page('dave').evaluate(() => {
      for (const ws of (window as unknown as { __confabSockets: WebSocket[] }).__confabSockets)
        ws.close();
    });
    const banner = page('dave')
      .getByRole('alert')
      .filter({ hasText: /connection/i });
    await banner.waitFor();
    assert.ok(
      (await countDecodingVideoStreams(page('alice'), 1500)) >= 2,
      'Alice decodes Bob and Dave while Dave is away',
    );
    assert.ok(
      (await countDecodingVideoStreams(page('dave'), 1500)) >= 2,
      'Dave decodes the others while his signaling is down',
    );
    await banner.waitFor({ state: 'detached', timeout: 15_000 });
    // Back: he carries on with the session he had (no new peer connection), still listed.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await peerConnections(), before, 'no new peer connection');
    assert.ok((await countDecodingVideoStreams(page('dave'), 1500)) >= 2, 'Dave decodes two');
    assert.ok((await countDecodingVideoStreams(page('bob'), 1500)) >= 2, 'Bob decodes two');
    assert.deepEqual((await participantNames(page('bob'))).sort(), [
      'Alice Liddell owner',
      'Bob Builder (you)',
      'Dave Bowman',
    ]);
    assert.equal(await metric('confab_conference_participants'), 3);
  });

  test('media keeps flowing for the others while one member reloads; when the owner leaves, the registered member present longest takes over', async () => {
    const reload = page('bob').reload();
    // While Bob is away, Alice and Dave go on seeing each other.
    assert.ok(
      (await countDecodingVideoStreams(page('alice'), 1500)) >= 1,
      'Alice decodes Dave during the reload',
    );
    assert.ok(
      (await countDecodingVideoStreams(page('dave'), 1500)) >= 1,
      'Dave decodes Alice during the reload',
    );
    await reload;
    await page('bob').getByRole('button', { name: 'Join call' }).click();
    assert.ok(
      (await waitForDecodingVideo(page('bob'), 2, 60_000)) >= 2,
      'Bob is back and decodes two',
    );
    assert.ok(
      (await waitForDecodingVideo(page('alice'), 2, 60_000)) >= 2,
      'Alice decodes Bob again',
    );
    await tilesShowing('alice', 2);

    await page('alice').mouse.move(100, 100);
    await page('alice').getByRole('button', { name: 'Hang up' }).click();
    // Dave has been there longer than Bob, who rejoined after his reload.
    await pollUntil(
      () => participantNames(page('bob')),
      (names) => names.includes('Dave Bowman owner') && names.length === 2,
      20_000,
      'Dave owns the conference',
    );
  });

  test('a shared screen is shown large for everyone, as wide as the sharer\'s screen; "Stop sharing" ends it', async () => {
    await page('bob').mouse.move(100, 100);
    await page('bob').getByRole('button', { name: 'Share screen' }).click();
    await page('bob').getByRole('button', { name: 'Stop sharing' }).waitFor();
    await page('bob')
      .getByRole('status')
      .filter({ hasText: 'You are sharing your screen' })
      .waitFor();
    const screen = page('dave').getByLabel("Bob Builder's screen");
    await screen.waitFor();
    const screenWidth = (await page('bob').evaluate(
      `window.__confabPeerConnections.at(-1).getSenders().find((s) => s.track && s.track.contentHint === 'detail').track.getSettings().width`,
    )) as number;
    assert.ok(screenWidth > 320, `a screen wider than the camera (${screenWidth})`);
    await pollUntil(
      () => screen.evaluate((v: HTMLVideoElement) => v.videoWidth),
      (w) => w === screenWidth,
      30_000,
      `Bob's ${screenWidth}-wide screen playing at Dave's`,
    );
    // Dave still sees Bob's camera in the strip.
    assert.ok(
      (await waitForDecodingVideo(page('dave'), 2, 20_000)) >= 2,
      'screen and camera decode',
    );

    await page('bob').getByRole('button', { name: 'Stop sharing' }).click();
    await page('bob').getByRole('button', { name: 'Share screen' }).waitFor();
    await screen.waitFor({ state: 'detached', timeout: 20_000 });
    assert.ok((await waitForDecodingVideo(page('dave'), 1, 20_000)) >= 1, "Bob's camera goes on");
  });

  test('"Audio only" in a group call: no video comes in or goes out, and it comes back when switched off', async () => {
    const settings = async (on: boolean) => {
      await page('dave').mouse.move(100, 100);
      await page('dave').getByRole('button', { name: 'Settings' }).click();
      const dialog = page('dave').getByRole('dialog', { name: 'Settings' });
      const audioOnly = dialog.getByRole('switch', { name: 'Audio only' });
      if ((await audioOnly.getAttribute('aria-checked')) !== String(on)) await audioOnly.click();
      await dialog.getByRole('button', { name: 'Done' }).click();
      await dialog.waitFor({ state: 'detached' });
    };
    await settings(true);
    await pollUntil(
      () => countDecodingVideoStreams(page('dave'), 1000),
      (n) => n === 0,
      20_000,
      'Dave decodes no video',
    );
    await pollUntil(
      () => countDecodingVideoStreams(page('bob'), 1000),
      (n) => n === 0,
      20_000,
      'Bob gets no video from Dave',
    );
    await settings(false);
    assert.ok((await waitForDecodingVideo(page('dave'), 1, 30_000)) >= 1, 'Dave sees Bob again');
    assert.ok((await waitForDecodingVideo(page('bob'), 1, 30_000)) >= 1, 'Bob sees Dave again');
  });
});
