import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type SeveralNodes, startSeveralNodes } from '../support/severalNodes.js';
import {
  callFromContacts,
  joinGroupByLink,
  launchBrowser,
  openUser,
  pollUntil,
  signIn,
  type User,
  waitForDecodingVideo,
} from './helpers/index.js';

// The must-show of several nodes: three `confab serve` nodes on one PostgreSQL and one Redis,
// behind a proxy that sends each request to the next node in turn, and three people whose
// signaling sockets sit on three different nodes.
describe('several nodes behind one load balancer, in Chromium', () => {
  let several: SeveralNodes;
  let browser: Browser;
  const users: Record<string, User> = {};
  const people = [
    ['alice', 'Alice Liddell'],
    ['bob', 'Bob Builder'],
    ['carol', 'Carol Danvers'],
  ] as const;

  before(async () => {
    several = await startSeveralNodes(3);
    for (const [user, name] of people) await several.addUser(user, name, 'correct horse battery');
    browser = await launchBrowser();
    for (const [user, name] of people) {
      users[user] = await openUser(browser, several.proxy.url, { smallVideo: true });
      await signIn(users[user].page, user, 'correct horse battery', name);
    }
  });

  after(async () => {
    for (const u of Object.values(users)) await u.close();
    await browser?.close();
    await several?.stop();
  });

  const page = (user: string) => (users[user] as User).page;

  test('a user whose socket is on one node calls a user on another, and they see each other', async () => {
    // Each signed-in page opens one signaling socket; the proxy hands each to the next node.
    const sockets = await pollUntil(
      async () => several.proxy.served.filter((s) => s.upgrade && s.path.includes('/rtm/')),
      (all) => all.length >= 3,
      15_000,
      'three signaling sockets',
    );
    assert.equal(
      new Set(sockets.map((s) => s.target)).size,
      3,
      `the three signaling sockets are on three nodes: ${JSON.stringify(sockets)}`,
    );
    await callFromContacts(page('alice'), page('bob'), 'Bob Builder');
    assert.ok((await waitForDecodingVideo(page('alice'), 1, 30_000)) >= 1, 'Alice sees Bob');
    assert.ok((await waitForDecodingVideo(page('bob'), 1, 30_000)) >= 1, 'Bob sees Alice');
    await page('alice').getByRole('button', { name: 'Hang up' }).click();
    await page('bob').getByRole('button', { name: 'Hang up' }).waitFor({ state: 'detached' });
  });

  test('a group room whose members are on three nodes carries everyone’s video', async () => {
    for (const [user] of people) await joinGroupByLink(page(user), 'group/across-nodes');
    for (const [user, name] of people)
      assert.ok(
        (await waitForDecodingVideo(page(user), 2, 45_000)) >= 2,
        `${name} decodes the two others`,
      );
    const owners = several.nodes.filter((n) =>
      n.logs.some((l) => l.msg === 'lease taken' && l.group === 'group/across-nodes'),
    );
    assert.equal(owners.length, 1, 'one node runs the conference');
  });
});
