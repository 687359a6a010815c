import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { SqlUserStore } from '../../packages/server/src/directory/index.js';
import { startTestServer, type TestServer } from '../../packages/server/test/helpers.js';
import { chromiumArgs, chromiumPath, launchBrowser, openUser, signIn } from './helpers/index.js';

const builtWebApp = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../packages/web/dist',
);

/** Waits until the page is controlled by an activated service worker. */
async function controlled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  if (!(await page.evaluate(() => navigator.serviceWorker.controller !== null))) {
    await page.reload();
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
  }
}

describe('the installable app: manifest, update notice', () => {
  let server: TestServer;
  let browser: Browser;
  /** A copy of the built web app that the test can "deploy" a new version into. */
  let webRoot: string;
  before(async () => {
    webRoot = mkdtempSync(path.join(tmpdir(), 'confab-webroot-'));
    cpSync(builtWebApp, webRoot, { recursive: true });
    server = await startTestServer({ webRoot });
    await (server.store as SqlUserStore).add({
      username: 'dana',
      displayName: 'Dana Scully',
      password: 'trust-no-one',
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(webRoot, { recursive: true, force: true });
  });

  test('Chromium finds no installability errors in the manifest and worker', async () => {
    // Installability is judged in a profile of one's own: Playwright's contexts count as incognito.
    const profile = mkdtempSync(path.join(tmpdir(), 'confab-profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      args: chromiumArgs,
      headless: true,
      baseURL: server.localUrl,
      permissions: ['camera', 'microphone'],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await signIn(page, 'dana', 'trust-no-one', 'Dana Scully');
      await controlled(page);
      const cdp = await context.newCDPSession(page);
      const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
        installabilityErrors: { errorId: string }[];
      };
      assert.deepEqual(installabilityErrors, []);
      const manifest = (await cdp.send('Page.getAppManifest')) as {
        errors: unknown[];
        url: string;
      };
      assert.deepEqual(manifest.errors, [], 'the manifest parses without errors');
      assert.equal(manifest.url, `${server.localUrl}/meet/manifest.webmanifest`);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  test('a new deployment shows "A new version of Confab is available."; Reload brings it in', async () => {
    const user = await openUser(browser, server.localUrl);
    try {
      const { page } = user;
      await signIn(page, 'dana', 'trust-no-one', 'Dana Scully');
      await controlled(page);
      const firstWorker = await page.evaluate(
        async () => (await navigator.serviceWorker.ready).active?.scriptURL,
      );
      assert.equal(await page.getByText('A new version of Confab is available.').count(), 0);

      // Deploy: a changed worker (the precompressed copies would hide the change).
      appendFileSync(path.join(webRoot, 'service-worker.js'), '\n// a new deployment\n');
      for (const ext of ['.br', '.gz'])
        rmSync(path.join(webRoot, `service-worker.js${ext}`), { force: true });

      // Opening the app again looks for a new version.
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Hello, Dana Scully' }).waitFor();
      const notice = page
        .getByRole('status')
        .filter({ hasText: 'A new version of Confab is available.' });
      await notice.waitFor({ timeout: 20_000 });
      await Promise.all([
        page.waitForEvent('load'),
        notice.getByRole('button', { name: 'Reload' }).click(),
      ]);
      await page.getByRole('heading', { level: 1, name: 'Hello, Dana Scully' }).waitFor();
      assert.equal(await page.getByText('A new version of Confab is available.').count(), 0);
      const served = await page.evaluate(async () => {
        const reg = await navigator.serviceWorker.ready;
        const text = await (await fetch(reg.active?.scriptURL ?? '')).text();
        return { waiting: reg.waiting !== null, isNew: text.includes('a new deployment') };
      });
      assert.deepEqual(served, { waiting: false, isNew: true }, 'the new worker is in charge');
      assert.ok(firstWorker);
    } finally {
      await user.close();
    }
  });
});
