import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  addUser,
  audioFlow,
  bridgeForwardedPackets,
  type ConfabProcess,
  joinGroupByLink,
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

const bridgePort = 10560;
const onBridge = (port: number) => port >= bridgePort && port < bridgePort + 10;

const people = [
  ['alice', 'Alice Liddell', 'wonderland'],
  ['bob', 'Bob Builder', 'can-we-fix-it'],
  ['carol', 'Carol Danvers', 'higher-further'],
] as const;
type Who = (typeof people)[number][0];

/** Starts Confab with one bridge and signs the three in, each in a browser context of its own. */
async function setUp(extraConfig = '') {
  const server = await startConfab({
    config: `bridge:\n  port_range: ${bridgePort}-${bridgePort + 9}\nconference_empty_timeout: 5\n${extraConfig}`,
    env: { CONFAB_BRIDGE_WORKERS: '1' },
  });
  const browser = await launchBrowser();
  const users = {} as Record<Who, User>;
  for (const [username, name, password] of people) {
    await addUser(server, username, name, password);
    const u = await openUser(browser, server.localUrl, { smallVideo: true });
    await signIn(u.page, username, password, name);
    users[username] = u;
  }
  return { server, browser, users };
}

/** The selected candidate pairs of a page that lead somewhere other than the bridge. */
async function directPorts(page: Page): Promise<number[]> {
  return (await selectedRemotePorts(page)).filter((p) => !onBridge(p));
}

async function waitDirect(page: Page, who: string, timeoutMs = 20_000): Promise<void> {
  await pollUntil(
    () => directPorts(page),
    (ports) => ports.length === 1,
    timeoutMs,
    `${who}'s direct connection`,
  );
}

async function waitBridgeOnly(page: Page, who: string): Promise<void> {
  await pollUntil(
    () => selectedRemotePorts(page),
    (ports) => ports.length > 0 && ports.every(onBridge),
    20_000,
    `${who} on the bridge only`,
  );
}

/** The bridge's forwarded packets, as its last load report to the focus says (every 2 s). */
const forwarded = (server: ConfabProcess) => bridgeForwardedPackets(server.localUrl);

/**
 * Marks the page (a reload would lose the mark) and watches its video elements: every
 * `emptied` (a tile whose element was reset) and, per participant's tile, the frames it
 * presented (requestVideoFrameCallback), by the tile's name.
 */
async function watch(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as {
      __mark: string;
      __emptied: string[];
      __frames: Record<string, number>;
    };
    w.__mark = 'still here';
    w.__emptied = [];
    w.__frames = {};
    document.addEventListener(
      'emptied',
      (e) => w.__emptied.push((e.target as HTMLElement).getAttribute('aria-label') ?? '?'),
      true,
    );
    const seen = new WeakSet<HTMLVideoElement>();
    setInterval(() => {
      for (const li of document.querySelectorAll('ul.tiles li:not(.self)')) {
        const name = li.querySelector('.tile-name')?.textContent ?? '';
        const v = li.querySelector('video');
        if (!v || seen.has(v)) continue;
        seen.add(v);
        const count = () => {
          w.__frames[name] = (w.__frames[name] ?? 0) + 1;
          v.requestVideoFrameCallback(count);
        };
        v.requestVideoFrameCallback(count);
      }
    }, 100);
  });
}

async function watched(page: Page) {
  return page.evaluate(() => {
    const w = window as unknown as {
      __mark?: string;
      __emptied: string[];
      __frames: Record<string, number>;
    };
    return { mark: w.__mark, emptied: [...w.__emptied], frames: { ...w.__frames } };
  });
}

/** Frames the tile named `name` presented (its name starts the tile's label). */
const framesOf = (frames: Record<string, number>, name: string) =>
  Object.entries(frames).find(([n]) => n.startsWith(name))?.[1] ?? 0;

describe('rooms of two run peer to peer', () => {
  let server: ConfabProcess;
  let browser: Browser;
  let users: Record<Who, User>;
  const page = (who: Who) => users[who].page;

  before(async () => {
    ({ server, browser, users } = await setUp());
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('two in a room connect directly and the bridge forwards nothing; a third moves everyone to the bridge without a reload; when it leaves the two go direct again', async () => {
    await joinGroupByLink(page('alice'), 'group/pair');
    await joinGroupByLink(page('bob'), 'group/pair');
    await waitDirect(page('alice'), 'Alice');
    await waitDirect(page('bob'), 'Bob');
    // Each one's direct pair leads to the other browser.
    for (const who of ['alice', 'bob'] as const) await waitForDecodingVideo(page(who), 1);
    // Once settled, nothing of theirs passes the bridge.
    await new Promise((r) => setTimeout(r, 3500));
    const before = await forwarded(server);
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal(await forwarded(server), before, 'the bridge forwards nothing for a room of two');
    for (const who of ['alice', 'bob'] as const) await waitForDecodingVideo(page(who), 1);

    for (const who of ['alice', 'bob'] as const) await watch(page(who));
    await new Promise((r) => setTimeout(r, 500));
    const early = { alice: await watched(page('alice')), bob: await watched(page('bob')) };
    await joinGroupByLink(page('carol'), 'group/pair');
    for (const who of ['alice', 'bob', 'carol'] as const) await waitForDecodingVideo(page(who), 2);
    await waitBridgeOnly(page('alice'), 'Alice');
    await waitBridgeOnly(page('bob'), 'Bob');
    for (const who of ['alice', 'bob', 'carol'] as const) await waitForDecodingVideo(page(who), 2);
    for (const [who, other] of [
      ['alice', 'Bob Builder'],
      ['bob', 'Alice Liddell'],
    ] as const) {
      const late = await watched(page(who));
      assert.equal(late.mark, 'still here', `${who}'s page did not reload`);
      // The tile of the one who was there all along: the newcomer's tile is new.
      assert.deepEqual(
        late.emptied.filter((label) => label.startsWith(other)),
        [],
        `${who}'s tile of ${other} was not reset (reset: ${JSON.stringify(late.emptied)})`,
      );
      assert.ok(
        framesOf(late.frames, other) > framesOf(early[who].frames, other) + 20,
        `${who}'s tile of ${other} went on presenting frames through the switch (${JSON.stringify(early[who].frames)} → ${JSON.stringify(late.frames)})`,
      );
    }

    await page('carol').getByRole('button', { name: 'Hang up' }).click();
    await waitDirect(page('alice'), 'Alice');
    await waitDirect(page('bob'), 'Bob');
    for (const who of ['alice', 'bob'] as const) await waitForDecodingVideo(page(who), 1);
  });

  test("while direct, a shared screen reaches the other and the owner's mute silences the target; both carry over to the bridge when a third joins", async () => {
    // Alice and Bob are direct again (the test before).
    await waitDirect(page('alice'), 'Alice');
    await page('alice').getByRole('button', { name: 'Share screen' }).click();
    await page('alice').getByRole('button', { name: 'Stop sharing' }).waitFor();
    await waitForDecodingVideo(page('bob'), 2);
    assert.deepEqual(
      (await selectedRemotePorts(page('bob'))).filter((p) => !onBridge(p)).length,
      1,
      'the screen came over the direct connection',
    );

    const flowing = await audioFlow(page('alice'), 'Bob Builder');
    assert.ok(flowing.packets > 50, `Alice hears Bob directly (${flowing.packets} packets)`);
    await page('alice').getByRole('button', { name: 'Mute Bob Builder' }).click();
    await page('bob')
      .getByRole('status')
      .filter({ hasText: 'Alice Liddell muted you' })
      .waitFor({ timeout: 10_000 });
    await pollUntil(
      () => audioFlow(page('alice'), 'Bob Builder', 1000),
      (f) => f.packets === 0,
      10_000,
      "Bob's own client stops sending his audio",
    );

    await joinGroupByLink(page('carol'), 'group/pair');
    await waitBridgeOnly(page('alice'), 'Alice');
    // Carol gets Alice's camera and screen and Bob's camera through the bridge…
    await waitForDecodingVideo(page('carol'), 3, 30_000);
    // …Bob still muted there.
    await pollUntil(
      () => participantNames(page('carol')),
      (names) => names.includes('Bob Builder muted'),
      10_000,
      'Bob marked muted',
    );
    const muted = await audioFlow(page('carol'), 'Bob Builder');
    assert.equal(muted.packets, 0, 'no audio of Bob reaches Carol through the bridge');
    await page('alice').getByRole('button', { name: 'Stop sharing' }).click();
    for (const who of ['alice', 'bob', 'carol'] as const)
      await page(who).getByRole('button', { name: 'Hang up' }).click();
  });

  test('a room of two whose direct path is blocked (a firewall between the browsers) stays on the bridge and works', async () => {
    // Only the bridge's candidates get through: every other remote candidate is dropped.
    for (const who of ['alice', 'bob'] as const) {
      await page(who).goto('/meet/r/group/firewall');
      await page(who).evaluate(
        ({ low, high }) => {
          const blocked = (c: string | undefined) => {
            const port = Number(c?.split(' ')[5]);
            return !!c && !(port >= low && port < high);
          };
          const add = RTCPeerConnection.prototype.addIceCandidate;
          RTCPeerConnection.prototype.addIceCandidate = function (
            this: RTCPeerConnection,
            c?: RTCIceCandidateInit | null,
          ) {
            if (c?.candidate && blocked(c.candidate)) return Promise.resolve();
            return (add as (c?: RTCIceCandidateInit) => Promise<void>).call(this, c ?? undefined);
          } as typeof add;
          const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
          RTCPeerConnection.prototype.setRemoteDescription = function (
            this: RTCPeerConnection,
            d: RTCSessionDescriptionInit,
          ) {
            const sdp = d.sdp
              ?.split('\r\n')
              .filter((l) => !(l.startsWith('a=candidate:') && blocked(l.slice(2))))
              .join('\r\n');
            return (setRemote as (d: RTCSessionDescriptionInit) => Promise<void>).call(this, {
              type: d.type,
              ...(sdp ? { sdp } : {}),
            });
          } as typeof setRemote;
        },
        { low: bridgePort, high: bridgePort + 10 },
      );
      await page(who).getByRole('button', { name: 'Join call' }).click();
    }
    for (const who of ['alice', 'bob'] as const) await waitForDecodingVideo(page(who), 1);
    // The direct connection gives up after 10 s; media went through the bridge all along.
    await new Promise((r) => setTimeout(r, 11_000));
    for (const who of ['alice', 'bob'] as const) {
      await waitBridgeOnly(page(who), who);
      await waitForDecodingVideo(page(who), 1);
    }
    const before = await forwarded(server);
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok((await forwarded(server)) > before, 'the bridge forwards their media');
    for (const who of ['alice', 'bob'] as const)
      await page(who).getByRole('button', { name: 'Hang up' }).click();
  });
});

describe('p2p: false', () => {
  test('a room of two stays on the bridge', async () => {
    const { server, browser, users } = await setUp('p2p: false\n');
    try {
      await joinGroupByLink(users.alice.page, 'group/pair');
      await joinGroupByLink(users.bob.page, 'group/pair');
      for (const who of ['alice', 'bob'] as const) {
        await waitForDecodingVideo(users[who].page, 1);
        await waitBridgeOnly(users[who].page, who);
      }
      await new Promise((r) => setTimeout(r, 3000));
      for (const who of ['alice', 'bob'] as const)
        assert.deepEqual(await directPorts(users[who].page), [], `${who} has no direct connection`);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});
