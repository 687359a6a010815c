import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { runConfab } from '../support/confabProcess.js';
import {
  addUser,
  type ConfabProcess,
  countDecodingVideoStreams,
  launchBrowser,
  openUser,
  signIn,
  startConfab,
  waitForDecodingVideo,
} from './helpers/index.js';

describe('the web app shell in Chromium', () => {
  let server: ConfabProcess;
  let browser: Browser;
  before(async () => {
    server = await startConfab();
    await addUser(server, 'dana', 'Dana Scully', 'trust-no-one');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('opening /meet/ leads through sign-in to the main screen, and the service worker becomes active', async () => {
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await signIn(page, 'dana', 'trust-no-one', 'Dana Scully');
      assert.equal(new URL(page.url()).pathname, '/meet/');
      assert.equal(await page.getByRole('banner').innerText(), 'Confab');
      for (const name of ['New call', 'Contacts', 'Settings', 'Sign out'])
        await page.getByRole('button', { name, exact: true }).waitFor();
      // No application enabled (the default): no applications grid at all.
      assert.equal(await page.getByRole('navigation', { name: 'Applications' }).count(), 0);

      const state = await page.evaluate(async () => {
        const reg = await navigator.serviceWorker.ready;
        const worker = reg.active;
        if (worker && worker.state !== 'activated') {
          await new Promise<void>((resolve) =>
            worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()),
          );
        }
        return { state: reg.active?.state, scope: reg.scope, script: reg.active?.scriptURL };
      });
      assert.deepEqual(state, {
        state: 'activated',
        scope: `${server.localUrl}/meet/`,
        script: `${server.localUrl}/meet/service-worker.js`,
      });
      assert.deepEqual(user.errors, [], 'no console errors (CSP violations would show here)');
    } finally {
      await user.close();
    }
  });

  test('"Join or create group" lower-cases the name, refuses what is no room name, and "Allow public guest access" adds public/', async () => {
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await page.goto('/meet/');
      await page.getByRole('textbox', { name: 'Username' }).fill('dana');
      await page.getByLabel('Password').fill('trust-no-one');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'New call' }).click();
      await page.getByRole('button', { name: 'Join or create group' }).click();
      const dialog = page.getByRole('dialog', { name: 'Join or create group' });
      const join = dialog.getByRole('button', { name: 'Join', exact: true });
      await dialog.getByRole('textbox', { name: 'Group name' }).fill('no spaces!');
      assert.equal(await join.isDisabled(), true, 'not a room name');
      await dialog.getByRole('textbox', { name: 'Group name' }).fill('Sales-Team');
      assert.equal(
        await dialog.getByRole('textbox', { name: 'Group name' }).inputValue(),
        'sales-team',
      );
      const guests = dialog.getByRole('switch', { name: 'Allow public guest access' });
      assert.equal(await guests.getAttribute('aria-checked'), 'false');
      await guests.click();
      assert.equal(await guests.getAttribute('aria-checked'), 'true');
      await join.click();
      await page.getByRole('heading', { level: 1, name: 'Group public/sales-team' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/meet/r/group/public/sales-team');
      for (const name of ['Microphone', 'Camera'])
        assert.equal(await page.getByRole('button', { name }).getAttribute('aria-pressed'), 'true');
      await page.getByRole('button', { name: 'Join call' }).waitFor();
    } finally {
      await user.close();
    }
  });

  test('a deep link survives sign-in, opens the room screen, and in-app links navigate without a reload', async () => {
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await page.goto('/meet/r/group/x');
      await page.getByRole('textbox', { name: 'Username' }).fill('dana');
      await page.getByLabel('Password').fill('trust-no-one');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Group x' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/meet/r/group/x');
      await page.getByRole('button', { name: 'Join call' }).waitFor();
      await page.evaluate(() => {
        (window as unknown as { marker: number }).marker = 1;
      });
      await page.getByRole('link', { name: 'Home' }).click();
      await page.getByRole('heading', { level: 1, name: 'Hello, Dana Scully' }).waitFor();
      assert.equal(
        await page.evaluate(() => (window as unknown as { marker?: number }).marker),
        1,
        'same document',
      );
      await page.goBack();
      await page.getByRole('heading', { level: 1, name: 'Group x' }).waitFor();
      await page.goto('/meet/r/');
      await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    } finally {
      await user.close();
    }
  });

  test('"Sign out" signs out through the identity provider and waits for "Sign in"', async () => {
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await signIn(page, 'dana', 'trust-no-one', 'Dana Scully');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign out' }).click(); // the identity provider's confirmation
      await page.getByText('You are signed out.').waitFor();
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('textbox', { name: 'Username' }).waitFor();
    } finally {
      await user.close();
    }
  });

  test('an account removed while signed in: within seconds the app says the sign-in ended, and offers "Sign in"', async () => {
    await addUser(server, 'fox', 'Fox Mulder', 'i-want-to-believe');
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await signIn(page, 'fox', 'i-want-to-believe', 'Fox Mulder');
      await page.getByRole('button', { name: 'New call' }).waitFor();
      // Signaling is up (no connection banner) before the administrator acts.
      await page
        .getByText('Failed to connect to server')
        .waitFor({ state: 'detached', timeout: 10_000 });
      const removed = await runConfab(['user', 'remove', 'fox', '--data-dir', server.dataDir]);
      assert.equal(removed.code, 0, removed.stderr);
      const started = Date.now();
      await page.getByText(/Your sign-in has ended/).waitFor({ timeout: 10_000 });
      assert.ok(Date.now() - started < 8000, `told after ${Date.now() - started} ms`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'New call' }).count(), 0);
    } finally {
      await user.close();
    }
  });

  test('once cached, the shell opens offline and says so', async () => {
    const user = await openUser(browser, server.localUrl);
    try {
      const { page, context } = user;
      await signIn(page, 'dana', 'trust-no-one', 'Dana Scully');
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Hello, Dana Scully' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true);
      await context.setOffline(true);
      await page.reload();
      await page.getByRole('alert').filter({ hasText: 'You are offline' }).waitFor();
      assert.equal(await page.getByRole('banner').innerText(), 'Confab');
      await context.setOffline(false);
      await page.getByRole('button', { name: 'Try again' }).click();
      await page.getByRole('heading', { level: 1, name: 'Hello, Dana Scully' }).waitFor();
    } finally {
      await user.close();
    }
  });

  test('the video counter of the e2e helpers sees a stream decoding on the page', async () => {
    // Later tests count remote videos with this helper; prove it counts a real one.
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await signIn(page, 'dana', 'trust-no-one', 'Dana Scully');
      assert.equal(await countDecodingVideoStreams(page, 300), 0);
      await page.evaluate(async () => {
        const stream = await navigator.mediaDevices.getUserMedia({
          video: { width: 320, height: 240, frameRate: 15 },
        });
        const a = new RTCPeerConnection();
        const b = new RTCPeerConnection();
        a.onicecandidate = (e) => e.candidate && void b.addIceCandidate(e.candidate);
        b.onicecandidate = (e) => e.candidate && void a.addIceCandidate(e.candidate);
        for (const track of stream.getTracks()) a.addTrack(track, stream);
        await a.setLocalDescription();
        await b.setRemoteDescription(a.localDescription as RTCSessionDescription);
        await b.setLocalDescription();
        await a.setRemoteDescription(b.localDescription as RTCSessionDescription);
      });
      assert.equal(await waitForDecodingVideo(page, 1), 1);
    } finally {
      await user.close();
    }
  });
});
