import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  countDecodingVideoStreams,
  launchBrowser,
  openUser,
  pollUntil,
  setMicrophone,
  signIn,
  startConfab,
  type User,
} from './helpers/index.js';

const bridgePort = 10540;
const room = 'group/large';

/** What a page shows of each remote camera tile: whether it has a picture, and its frames. */
interface TileState {
  name: string;
  /** The video element's `data-picture`: false while the tile shows initials instead. */
  picture: boolean;
  /** The initials placeholder is on screen. */
  placeholder: boolean;
  framesDecoded: number;
}

/** Every remote camera tile at the page, by the name in its caption. */
async function cameraTiles(page: Page): Promise<Record<string, TileState>> {
  const tiles = await page.evaluate(async () => {
    const pcs =
      (window as unknown as { __confabPeerConnections?: RTCPeerConnection[] })
        .__confabPeerConnections ?? [];
    const out: TileState[] = [];
    for (const li of document.querySelectorAll('ul.tiles li[data-user]:not(.screen-tile)')) {
      const video = li.querySelector('video');
      const caption = li.querySelector('.tile-name')?.firstChild?.textContent ?? '';
      const placeholder = li.querySelector('.no-picture') as HTMLElement | null;
      const track = (video?.srcObject as MediaStream | null)?.getVideoTracks()[0];
      let framesDecoded = 0;
      for (const pc of pcs) {
        if (!track || pc.connectionState === 'closed') continue;
        const rx = pc.getReceivers().find((r) => r.track === track);
        (await rx?.getStats())?.forEach((s: Record<string, unknown>) => {
          if (s.type === 'inbound-rtp') framesDecoded = Number(s.framesDecoded ?? 0);
        });
      }
      out.push({
        name: caption.trim(),
        picture: video?.dataset.picture === 'true',
        placeholder: !!placeholder && placeholder.getBoundingClientRect().width > 0,
        framesDecoded,
      });
    }
    return out;
  });
  return Object.fromEntries(tiles.map((t) => [t.name, t]));
}

/** Whose cameras the page decodes over `ms` (framesDecoded rising), and whose not. */
async function decoding(page: Page, ms = 1500): Promise<{ on: string[]; off: string[] }> {
  const a = await cameraTiles(page);
  await new Promise((r) => setTimeout(r, ms));
  const b = await cameraTiles(page);
  const on = Object.keys(b).filter((n) => (b[n]?.framesDecoded ?? 0) > (a[n]?.framesDecoded ?? 0));
  return { on: on.sort(), off: Object.keys(b).filter((n) => !on.includes(n)) };
}

/** Audio and video packets the page has sent (outbound-rtp), for "publishes nothing". */
async function packetsSent(page: Page): Promise<{ audio: number; video: number }> {
  return page.evaluate(async () => {
    const pcs =
      (window as unknown as { __confabPeerConnections?: RTCPeerConnection[] })
        .__confabPeerConnections ?? [];
    const sent = { audio: 0, video: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type === 'outbound-rtp' && (s.kind === 'audio' || s.kind === 'video'))
          sent[s.kind] += Number(s.packetsSent ?? 0);
      });
    }
    return sent;
  });
}

describe('large meetings: last-N at the receiver, and the grid view', () => {
  let server: ConfabProcess;
  let browser: Browser;
  const users: Record<string, User> = {};
  // Alice watches on a laptop; the three others send the fake camera and receive too (their
  // pages stay visible, so that the bridge's last-N applies to each of them alike).
  const people = [
    ['alice', 'Alice Liddell', 'wonderland'],
    ['bob', 'Bob Builder', 'can-we-fix-it'],
    ['carol', 'Carol Danvers', 'higher-further'],
    ['dave', 'Dave Bowman', 'open-the-pod-bay'],
  ] as const;
  const names = Object.fromEntries(people.map(([u, n]) => [n, u])) as Record<string, string>;
  const page = (who: string) => (users[who] as User).page;
  const alice = () => page('alice');

  before(async () => {
    server = await startConfab({
      config: `last_n: 2\nbridge:\n  port_range: ${bridgePort}-${bridgePort + 4}\nconference_empty_timeout: 5\n`,
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
    browser = await launchBrowser();
    for (const [username, name, password] of people) {
      await addUser(server, username, name, password);
      const u = await openUser(browser, server.localUrl, {
        viewport: username === 'alice' ? { width: 1280, height: 800 } : { width: 640, height: 480 },
      });
      await signIn(u.page, username, password, name);
      users[username] = u;
    }
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('with last_n 2, Alice decodes two of the three cameras and shows the third’s name without video; the third’s video comes back when it speaks', async () => {
    // Everyone joins with the microphone off: nobody speaks until the test says.
    for (const [who] of people) {
      await page(who).goto(`/meet/r/${room}`);
      await setMicrophone(page(who), false, who);
      await page(who).getByRole('button', { name: 'Join call' }).click();
      await page(who)
        .getByRole('region', { name: /^Group call / })
        .waitFor();
    }
    const others: string[] = people.slice(1).map(([, n]) => n);
    const two = await pollUntil(
      () => decoding(alice()),
      (d) => d.on.length === 2 && d.off.length === 1,
      60_000,
      'Alice decodes two cameras of three',
    );
    const third = two.off[0] as string;
    assert.ok(others.includes(third), `the third is one of the others (${third})`);
    assert.equal(await countDecodingVideoStreams(alice()), 2, 'two videos decoded in all');
    // The third's tile: the name in its caption, initials instead of a frozen picture.
    const tiles = alice().getByRole('list', { name: 'Participants’ videos' });
    const tile = tiles.getByRole('listitem').filter({ hasText: third });
    await tile.locator('.tile-name', { hasText: third }).waitFor();
    const states = await pollUntil(
      () => cameraTiles(alice()),
      (s) => s[third]?.picture === false && s[third]?.placeholder === true,
      10_000,
      `${third}'s tile without a picture`,
    );
    for (const n of two.on) assert.equal(states[n]?.picture, true, `${n} has a picture`);
    // Nobody's microphone is on: nothing goes up but video.
    assert.equal((await packetsSent(page(names[third] as string))).audio, 0, 'no audio sent');

    // The third speaks: its camera is among the last two again, someone else's goes.
    await setMicrophone(page(names[third] as string), true, third);
    await alice().getByLabel(`${third} (speaking)`).waitFor({ timeout: 20_000 });
    const after = await pollUntil(
      () => decoding(alice()),
      (d) => d.on.includes(third) && d.on.length === 2,
      30_000,
      `${third}'s video back at Alice's`,
    );
    console.log(
      `last-N at Alice's: decoded ${two.on.join(', ')}; after ${third} spoke: ${after.on.join(', ')}`,
    );
    const back = await cameraTiles(alice());
    assert.equal(back[third]?.picture, true, `${third}'s tile shows the picture`);
    assert.equal(back[third]?.placeholder, false);
    await tile.getByText('· speaking').waitFor();
  });

  test('"Grid view" on: every participant’s name inside Alice’s 1280x800 window, tiles of one size, no stage box; off again: the pinned stage is back', async () => {
    await alice().mouse.move(200, 200);
    const grid = alice().getByRole('switch', { name: 'Grid view', exact: true });
    assert.equal(await grid.getAttribute('aria-checked'), 'false', 'speaker view by default');
    // Bob pinned: the stage has its own large box in speaker view, and is one tile in the grid.
    const tiles = alice().getByRole('list', { name: 'Participants’ videos' });
    await tiles.getByRole('button', { name: 'Pin Bob Builder' }).click();
    await alice().locator('.group-stage-box').getByLabel('Bob Builder (pinned)').waitFor();
    await grid.click();
    assert.equal(await grid.getAttribute('aria-checked'), 'true');
    await alice().locator('.group-stage-box').waitFor({ state: 'detached' });
    const viewport = alice().viewportSize() ?? { width: 0, height: 0 };
    const captions = await pollUntil(
      () =>
        tiles.locator('li.tile').evaluateAll((items) =>
          items.map((li) => {
            const caption = li.querySelector('.tile-name') as HTMLElement;
            const c = caption.getBoundingClientRect();
            const t = li.getBoundingClientRect();
            return {
              text: (caption.firstChild?.textContent ?? '').trim(),
              caption: [c.left, c.top, c.right, c.bottom],
              tile: [Math.round(t.width), Math.round(t.height)],
            };
          }),
        ),
      (c) => c.length === 4 && new Set(c.map((x) => x.tile.join('x'))).size === 1,
      10_000,
      'four tiles of one size',
    );
    const inside = ([l, t, r, b]: number[]) =>
      (l ?? -1) >= 0 &&
      (t ?? -1) >= 0 &&
      (r ?? 1e9) <= viewport.width &&
      (b ?? 1e9) <= viewport.height;
    assert.deepEqual(captions.map((c) => c.text).sort(), [
      'Bob Builder',
      'Carol Danvers',
      'Dave Bowman',
      'You',
    ]);
    for (const c of captions)
      assert.ok(inside(c.caption), `${c.text}'s name on screen: ${c.caption}`);
    assert.ok((captions[0]?.tile[0] ?? 0) >= 300, `tiles as large as fits (${captions[0]?.tile})`);

    await grid.click();
    assert.equal(await grid.getAttribute('aria-checked'), 'false');
    await alice().locator('.group-stage-box').getByLabel('Bob Builder (pinned)').waitFor();
    await tiles.getByRole('button', { name: 'Pin Bob Builder' }).click();
  });

  test('a camera turned off sends nothing, and the others see its name instead of a frozen picture until it is on again', async () => {
    const bob = page('bob');
    // Bob pinned at Alice's: his camera stays among her last two whoever speaks.
    const tiles = alice().getByRole('list', { name: 'Participants’ videos' });
    await tiles.getByRole('button', { name: 'Pin Bob Builder' }).click();
    await pollUntil(
      () => cameraTiles(alice()),
      (s) => s['Bob Builder']?.picture === true,
      20_000,
      'Bob’s picture at Alice’s',
    );
    await bob.mouse.move(100, 100);
    await bob.getByRole('button', { name: 'Camera', exact: true }).click();
    const growth = async () => {
      const a = await packetsSent(bob);
      await new Promise((r) => setTimeout(r, 1000));
      return (await packetsSent(bob)).video - a.video;
    };
    await pollUntil(growth, (g) => g === 0, 10_000, 'no video packets from Bob');
    await pollUntil(
      () => cameraTiles(alice()),
      (s) => s['Bob Builder']?.picture === false && s['Bob Builder']?.placeholder === true,
      10_000,
      'Bob’s tile without a picture at Alice’s',
    );
    await bob.getByRole('button', { name: 'Camera', exact: true }).click();
    await pollUntil(
      () => cameraTiles(alice()),
      (s) => s['Bob Builder']?.picture === true,
      20_000,
      'Bob’s picture back at Alice’s',
    );
    await tiles.getByRole('button', { name: 'Pin Bob Builder' }).click();
  });
});
