import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addUser,
  joinGroupFromNewCall,
  launchBrowser,
  openUser,
  selectedRemotePorts,
  signIn,
  startConfab,
  waitForDecodingVideo,
} from './helpers/index.js';

// The smallest whole-product path, run on every Node.js Confab supports (`npm test -- smoke`;
// .ci/run runs it on Node 24 beside the machine's full run): sign-in through the identity
// provider, then one call. A group call, so that a bridge process on the runtime under test
// carries Chromium's media through its native WebRTC addon.
const bridgePort = 10470;

test('smoke: two people sign in and see each other in a call through the bridge', async () => {
  const server = await startConfab({
    // The whole product's path through a bridge process: a room of two would go direct.
    config: `bridge:\n  port_range: ${bridgePort}-${bridgePort + 4}\np2p: false\n`,
    env: { CONFAB_BRIDGE_WORKERS: '1' },
  });
  const browser = await launchBrowser();
  try {
    const people = [
      ['alice', 'Alice Liddell', 'wonderland'],
      ['bob', 'Bob Builder', 'can-we-fix-it'],
    ] as const;
    const pages = [];
    for (const [username, name, password] of people) {
      await addUser(server, username, name, password);
      const { page } = await openUser(browser, server.localUrl, { smallVideo: true });
      await signIn(page, username, password, name);
      pages.push(page);
    }
    for (const page of pages) await joinGroupFromNewCall(page, 'smoke');
    for (const [i, page] of pages.entries()) {
      const who = people[i]?.[1];
      assert.ok((await waitForDecodingVideo(page, 1, 60_000)) >= 1, `${who} decodes the other`);
      assert.deepEqual(await selectedRemotePorts(page), [bridgePort], `${who} goes via the bridge`);
    }
    const [alice] = pages;
    await alice?.mouse.move(100, 100);
    await alice?.getByRole('button', { name: 'Hang up' }).click();
    await alice?.getByRole('button', { name: 'Join call' }).waitFor();
  } finally {
    await browser.close();
    const { code } = await server.stop();
    assert.equal(code, 0, 'confab serve stops cleanly');
  }
});
