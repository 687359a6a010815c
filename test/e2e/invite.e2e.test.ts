import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  launchBrowser,
  openUser,
  signIn,
  startCallFromContacts,
  startConfab,
  type User,
} from './helpers/index.js';

const bridgePort = 10440;

describe('invites, shared links, the applications grid and the installable app', () => {
  let server: ConfabProcess;
  let browser: Browser;
  let alice: User;
  const page = (): Page => alice.page;

  before(async () => {
    server = await startConfab({
      config: [
        `bridge:\n  port_range: ${bridgePort}-${bridgePort + 9}`,
        'apps:\n  enabled: [kopano-webapp, calendar, Wiki]',
        '  links: {Wiki: "https://wiki.example.com/"}',
        '',
      ].join('\n'),
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
    browser = await launchBrowser();
    await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
    await addUser(server, 'bob', 'Bob Builder', 'can-we-fix-it');
    alice = await openUser(browser, server.localUrl, {
      smallVideo: true,
      permissions: ['camera', 'microphone', 'clipboard-read', 'clipboard-write'],
    });
    await signIn(page(), 'alice', 'wonderland', 'Alice Liddell');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the applications grid shows the enabled applications, in order, linked where they live', async () => {
    const grid = page().getByRole('navigation', { name: 'Applications' });
    const links = await grid
      .getByRole('link')
      .evaluateAll((as) => as.map((a) => [a.textContent?.trim(), a.getAttribute('href')]));
    assert.deepEqual(links, [
      ['WWebApp', '/webapp/'],
      ['CCalendar', '/calendar/'],
      ['WWiki', 'https://wiki.example.com/'],
    ]);
    await grid.getByRole('link', { name: 'Calendar' }).waitFor();
  });

  test('"Invite to this group": an invalid address gets a red envelope and disables "Invite"; "Invite" builds the mailto: with the room link and says so', async () => {
    await page().goto('/meet/r/group/public/party');
    await page().getByRole('button', { name: 'Invite to this group' }).click();
    const dialog = page().getByRole('dialog', { name: 'Invite to public/party' });
    const addresses = dialog.getByRole('textbox', { name: 'Email addresses' });
    const invite = dialog.getByRole('button', { name: 'Invite', exact: true });
    assert.equal(await invite.isDisabled(), true, 'nothing typed yet');

    await addresses.fill('bob@example.com, not-an-address');
    assert.equal(await invite.isDisabled(), true, 'an invalid address disables Invite');
    const recipients = dialog.getByRole('list', { name: 'Recipients' });
    const bad = recipients.getByRole('listitem').filter({ hasText: 'not-an-address' });
    assert.match((await bad.textContent()) ?? '', /not a valid address/);
    const envelopeColour = (item: typeof bad) =>
      item.locator('.envelope').evaluate((e) => getComputedStyle(e).color);
    assert.equal(await envelopeColour(bad), 'rgb(198, 40, 40)', 'a red envelope');
    const good = recipients.getByRole('listitem').filter({ hasText: 'bob@example.com' });
    assert.notEqual(await envelopeColour(good), 'rgb(198, 40, 40)');
    assert.equal(await addresses.getAttribute('aria-invalid'), 'true');

    await addresses.fill('bob@example.com carol@example.org');
    assert.equal(await invite.isEnabled(), true);
    await invite.click();
    await page().getByText('Your mail program opens with the invitation.').waitFor();
    const mailto =
      (await page().getByRole('link', { name: 'Open it again' }).getAttribute('href')) ?? '';
    const url = new URL(mailto);
    assert.equal(url.protocol, 'mailto:');
    assert.equal(decodeURIComponent(url.pathname), 'bob@example.com,carol@example.org');
    assert.equal(url.searchParams.get('subject'), 'Join me in public/party on Confab');
    assert.equal(
      url.searchParams.get('body'),
      `Join the video meeting public/party: ${server.localUrl}/meet/r/group/public/party#guest=1`,
    );
    assert.equal(page().url(), `${server.localUrl}/meet/r/group/public/party`, 'the app stays');
  });

  test('"Share group link" copies the link where the Web Share API is missing, and says so; in a call too', async () => {
    await page().goto('/meet/r/group/team');
    assert.equal(await page().evaluate(() => typeof navigator.share), 'undefined');
    await page().getByRole('button', { name: 'Share group link' }).click();
    await page().getByText('The link to this group is copied to the clipboard.').waitFor();
    assert.equal(
      await page().evaluate(() => navigator.clipboard.readText()),
      `${server.localUrl}/meet/r/group/team`,
      'a private room: no guest option',
    );

    await page().getByRole('button', { name: 'Join call' }).click();
    const call = page().getByRole('region', { name: 'Group call team' });
    await call.waitFor();
    await call.getByRole('button', { name: 'Invite to this group' }).waitFor();
    await call.getByRole('button', { name: 'Share group link' }).waitFor();
    await call.getByRole('button', { name: 'Hang up' }).click();
  });

  test('by keyboard alone: New call → Join or create group → a name → Join call; the invite dialog takes and gives back the focus', async () => {
    const p = page();
    await p.goto('/meet/');
    await p.getByRole('heading', { name: 'Hello, Alice Liddell' }).waitFor();
    const focused = () =>
      p.evaluate(() => {
        const e = document.activeElement as HTMLElement | null;
        return (e?.getAttribute('aria-label') ?? e?.textContent ?? '').trim();
      });
    /** Presses Tab until the control named `name` has the focus (as a keyboard user does). */
    const tabTo = async (name: string) => {
      for (let i = 0; i < 40; i++) {
        if ((await focused()) === name) return;
        await p.keyboard.press('Tab');
      }
      assert.fail(`Tab never reached ${name} (last: ${await focused()})`);
    };
    await tabTo('New call');
    await p.keyboard.press('Enter');
    await tabTo('Join or create group');
    await p.keyboard.press('Enter');
    const dialog = p.getByRole('dialog', { name: 'Join or create group' });
    await dialog.waitFor();
    assert.equal(
      await p.evaluate(() => document.activeElement?.tagName),
      'INPUT',
      'the dialog puts the focus in "Group name"',
    );
    await p.keyboard.type('kbd');
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { name: 'Group kbd' }).waitFor();

    await tabTo('Invite to this group');
    await p.keyboard.press('Enter');
    await p.getByRole('dialog', { name: 'Invite to kbd' }).waitFor();
    assert.equal(await p.evaluate(() => document.activeElement?.tagName), 'TEXTAREA');
    await p.keyboard.press('Escape');
    await p.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(await focused(), 'Invite to this group', 'the focus is back on the opener');

    await tabTo('Join call');
    await p.keyboard.press('Enter');
    await p.getByRole('region', { name: 'Group call kbd' }).waitFor();
    await tabTo('Hang up');
    await p.keyboard.press('Enter');
    await p.getByRole('button', { name: 'Join call' }).waitFor();
  });

  test('on a phone-sized screen every main control is on screen, with no sideways scrolling', async () => {
    const phone = await openUser(browser, server.localUrl, {
      smallVideo: true,
      viewport: { width: 390, height: 844 },
      isMobile: true,
    });
    const p = phone.page;
    /** Each control is visible and inside the screen's width (and height, for fixed layers). */
    const fits = async (
      where: string,
      names: [
        role: 'button' | 'textbox' | 'searchbox' | 'switch' | 'combobox' | 'link',
        name: string,
      ][],
      fixed = false,
    ) => {
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${where}: the page is ${width} px wide`);
      for (const [role, name] of names) {
        const control = p.getByRole(role, { name, exact: true }).first();
        await control.waitFor();
        const box = await control.boundingBox();
        assert.ok(box, `${where}: ${name} is shown`);
        assert.ok(
          box.x >= 0 && box.x + box.width <= 390,
          `${where}: ${name} within the width (${box.x}+${box.width})`,
        );
        if (fixed)
          assert.ok(
            box.y >= 0 && box.y + box.height <= 844,
            `${where}: ${name} within the height (${box.y})`,
          );
      }
    };
    try {
      await signIn(p, 'bob', 'can-we-fix-it', 'Bob Builder');
      await fits('main screen', [
        ['button', 'New call'],
        ['button', 'Contacts'],
        ['button', 'Settings'],
        ['button', 'Sign out'],
        ['link', 'Calendar'],
      ]);
      await p.getByRole('button', { name: 'Settings' }).click();
      await fits('settings', [
        ['switch', 'Audio only'],
        ['combobox', 'Camera device'],
        ['combobox', 'Microphone device'],
        ['button', 'Done'],
      ]);
      await p.getByRole('button', { name: 'Done' }).click();
      await p.getByRole('button', { name: 'Contacts' }).click();
      await fits('contacts', [['searchbox', 'Search contacts']]);
      await p.goto('/meet/r/group/public/phone');
      await fits('group landing', [
        ['button', 'Microphone'],
        ['button', 'Camera'],
        ['button', 'Join call'],
        ['button', 'Invite to this group'],
        ['button', 'Share group link'],
      ]);
      await p.getByRole('button', { name: 'Invite to this group' }).click();
      await fits(
        'invite dialog',
        [
          ['textbox', 'Email addresses'],
          ['button', 'Invite'],
        ],
        true,
      );
      await p.getByRole('button', { name: 'Close' }).click();
      await p.getByRole('button', { name: 'Join call' }).click();
      await p.getByRole('region', { name: 'Group call public/phone' }).waitFor();
      await fits(
        'group call',
        [
          ['button', 'Microphone'],
          ['button', 'Camera'],
          ['button', 'Settings'],
          ['button', 'Hang up'],
          ['button', 'Invite to this group'],
          ['button', 'Share group link'],
        ],
        true,
      );
      // Keyboard: Tab reaches the controls in a sensible order and Enter works them.
      await p.getByRole('button', { name: 'Microphone' }).focus();
      await p.keyboard.press('Enter');
      assert.equal(
        await p.getByRole('button', { name: 'Microphone' }).getAttribute('aria-pressed'),
        'false',
      );
      await p.getByRole('button', { name: 'Hang up' }).click();

      // A one-to-one call from Alice (on a desktop): the incoming dialog, then the call.
      await p.goto('/meet/');
      await p.getByRole('heading', { name: 'Hello, Bob Builder' }).waitFor();
      await page().goto('/meet/');
      await page().getByRole('heading', { name: 'Hello, Alice Liddell' }).waitFor();
      await startCallFromContacts(page(), 'Bob Builder');
      await p.getByRole('dialog', { name: 'Alice Liddell' }).waitFor();
      await fits(
        'incoming call',
        [
          ['button', 'Accept'],
          ['button', 'Decline'],
          ['button', 'Ignore'],
        ],
        true,
      );
      await p.getByRole('button', { name: 'Accept' }).click();
      await p.getByRole('region', { name: 'In a call with Alice Liddell' }).waitFor();
      await p.mouse.move(100, 100);
      await fits(
        'one-to-one call',
        [
          ['button', 'Microphone'],
          ['button', 'Camera'],
          ['button', 'Settings'],
          ['button', 'Hang up'],
        ],
        true,
      );
      await p.getByRole('button', { name: 'Hang up' }).click();
    } finally {
      await phone.close();
    }
  });
});
