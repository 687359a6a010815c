import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import {
  addUser,
  type ConfabProcess,
  launchBrowser,
  openUser,
  pollUntil,
  setMicrophone,
  signIn,
  startCallFromContacts,
  startConfab,
  type User,
} from './helpers/index.js';

const bridgePort = 10470;

/**
 * What keeps each target from being seen without scrolling, as `screen: target: why`. A target
 * is seen when, with the page unscrolled, its box lies inside the viewport and inside every
 * ancestor that clips (a list scrolled sideways, a tile that cuts a caption off), its own text is
 * not cut off, and it is what sits on top at its centre (not under another part of the screen).
 */
async function notSeen(
  page: Page,
  screen: string,
  targets: Record<string, Locator>,
): Promise<string[]> {
  const scrolled = await page.evaluate(() => window.scrollX !== 0 || window.scrollY !== 0);
  const problems = scrolled ? [`${screen}: the page is scrolled`] : [];
  for (const [what, target] of Object.entries(targets)) {
    await target.waitFor();
    const why = await target.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const at = `at ${Math.round(r.x)},${Math.round(r.y)} ${Math.round(r.width)}x${Math.round(r.height)}`;
      const within = (o: { left: number; top: number; right: number; bottom: number }) =>
        r.left >= o.left - 0.5 &&
        r.top >= o.top - 0.5 &&
        r.right <= o.right + 0.5 &&
        r.bottom <= o.bottom + 0.5;
      if (r.width === 0 || r.height === 0) return `not rendered (${at})`;
      const view = { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
      if (!within(view)) return `${at}, outside ${view.right}x${view.bottom}`;
      for (let a = el.parentElement; a; a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
        if (!within(a.getBoundingClientRect()))
          return `${at}, cut off by ${a.className || a.tagName}`;
      }
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
        return `${at}, its text cut off`;
      const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      if (!top || !(top === el || el.contains(top)))
        return `${at}, covered by ${top?.className || top?.tagName}`;
      return undefined;
    });
    if (why) problems.push(`${screen}: ${what}: ${why}`);
  }
  return problems;
}

describe('the primary controls are on screen without scrolling at 1280x800 and 390x844', () => {
  let server: ConfabProcess;
  let browser: Browser;
  // Alice looks at a laptop, Dave at a phone; Bob makes the group a group of three.
  const users: Record<string, User> = {};
  const people = [
    ['alice', 'Alice Liddell', 'wonderland', { width: 1280, height: 800 }, false],
    ['dave', 'Dave Bowman', 'open-the-pod-bay', { width: 390, height: 844 }, true],
    ['bob', 'Bob Builder', 'can-we-fix-it', undefined, false],
  ] as const;
  const page = (who: string) => (users[who] as User).page;
  const screens = [
    ['alice', '1280x800'],
    ['dave', '390x844'],
  ] as const;

  const setMic = (who: string, on: boolean) => setMicrophone(page(who), on, who);

  async function home(who: string): Promise<void> {
    await page(who).goto('/meet/');
    await page(who)
      .getByRole('heading', { level: 1, name: /^Hello, / })
      .waitFor();
  }

  const control = (p: Page, name: string) => p.getByRole('button', { name, exact: true });
  const callControls = (p: Page) => ({
    'Hang up': control(p, 'Hang up'),
    Microphone: control(p, 'Microphone'),
    Camera: control(p, 'Camera'),
  });

  before(async () => {
    server = await startConfab({
      config: `bridge:\n  port_range: ${bridgePort}-${bridgePort + 9}\n`,
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
    browser = await launchBrowser();
    for (const [username, name, password] of people)
      await addUser(server, username, name, password);
    await Promise.all(
      people.map(async ([username, name, password, viewport, isMobile]) => {
        const u = await openUser(browser, server.localUrl, {
          smallVideo: true,
          ...(viewport ? { viewport, isMobile } : {}),
        });
        users[username] = u;
        await signIn(u.page, username, password, name);
      }),
    );
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a group\'s landing page shows "Join call", "Microphone" and "Camera"', async () => {
    const problems: string[] = [];
    for (const [who, size] of screens) {
      const p = page(who);
      await p.goto('/meet/r/group/landing');
      await p.getByLabel('Your camera').waitFor();
      problems.push(
        ...(await notSeen(p, `landing page at ${size}`, {
          'Join call': control(p, 'Join call'),
          Microphone: control(p, 'Microphone'),
          Camera: control(p, 'Camera'),
        })),
      );
    }
    assert.deepEqual(problems, [], 'all seen without scrolling');
  });

  test('ringing out and in a one-to-one call: "Hang up", "Microphone" and "Camera"', async () => {
    for (const who of ['alice', 'dave']) await home(who);
    const [alice, dave] = [page('alice'), page('dave')];
    const problems: string[] = [];
    await startCallFromContacts(alice, 'Dave Bowman');
    await alice.getByRole('status').filter({ hasText: 'Calling Dave Bowman…' }).waitFor();
    problems.push(
      ...(await notSeen(alice, 'ringing out at 1280x800', {
        'Hang up': control(alice, 'Hang up'),
      })),
    );
    await dave.getByRole('dialog').getByRole('button', { name: 'Accept' }).click();
    for (const [who, size] of screens) {
      const p = page(who);
      await p.getByRole('region', { name: /^In a call with / }).waitFor();
      // Call controls fade while nobody touches the screen: a pointer brings them back.
      await p.mouse.move(50, 50);
      problems.push(...(await notSeen(p, `one-to-one call at ${size}`, callControls(p))));
    }
    await control(alice, 'Hang up').click();
    for (const who of ['alice', 'dave']) await home(who);

    await startCallFromContacts(dave, 'Alice Liddell');
    await dave.getByRole('status').filter({ hasText: 'Calling Alice Liddell…' }).waitFor();
    problems.push(
      ...(await notSeen(dave, 'ringing out at 390x844', { 'Hang up': control(dave, 'Hang up') })),
    );
    await control(dave, 'Hang up').click();
    await dave.getByRole('heading', { level: 1, name: 'Hello, Dave Bowman' }).waitFor();
    assert.deepEqual(problems, [], 'all seen without scrolling');
  });

  test('in a group call of three: the controls, your own picture, every tile\'s name and "Pin NAME", with and without a speaker on stage', async () => {
    const room = 'group/view';
    // Microphones off, so that nobody is staged until Bob speaks.
    await Promise.all(
      ['alice', 'dave', 'bob'].map(async (who) => {
        await page(who).goto(`/meet/r/${room}`);
        await setMic(who, false);
        await control(page(who), 'Join call').click();
        await page(who)
          .getByRole('region', { name: /^Group call / })
          .waitFor();
      }),
    );
    const targets = (p: Page, others: string[]) => {
      const tiles = p.getByRole('list', { name: 'Participants’ videos' });
      return {
        ...callControls(p),
        'your own picture': tiles.getByLabel('Your camera'),
        'your tile’s name "You"': tiles.getByText(/^You\b/),
        ...Object.fromEntries(others.map((name) => [`${name}’s tile name`, tiles.getByText(name)])),
        ...Object.fromEntries(
          others.map((name) => [
            `"Pin ${name}"`,
            tiles.getByRole('button', { name: `Pin ${name}`, exact: true }),
          ]),
        ),
      };
    };
    const problems: string[] = [];
    const others = {
      alice: ['Dave Bowman', 'Bob Builder'],
      dave: ['Alice Liddell', 'Bob Builder'],
    };
    // Measured once the pictures arrived: a video's own size may push a layout about.
    const showing = (who: string, count: number) =>
      pollUntil(
        () =>
          page(who)
            .getByRole('region', { name: /^Group call / })
            .evaluate(
              (call) =>
                [...call.querySelectorAll('video')].filter(
                  (v) => (v as HTMLVideoElement).videoWidth > 0,
                ).length,
            ),
        (n) => n >= count,
        30_000,
        `${count} videos showing at ${who}'s`,
      );
    for (const [who] of screens) await showing(who, 3);
    for (const [who, size] of screens)
      problems.push(
        ...(await notSeen(page(who), `group call at ${size}`, targets(page(who), others[who]))),
      );

    await setMic('bob', true);
    for (const [who, size] of screens) {
      const p = page(who);
      await p.getByLabel('Bob Builder (speaking)').waitFor({ timeout: 20_000 });
      await showing(who, 4);
      problems.push(
        ...(await notSeen(p, `group call at ${size} with Bob on stage`, {
          ...targets(p, others[who]),
          'Bob on stage': p.getByLabel('Bob Builder (speaking)'),
        })),
      );
    }

    // Each pins the other one who is not speaking: that one takes the stage on their screen.
    for (const [who, size] of screens) {
      const p = page(who);
      const name = others[who][0] as string;
      await p.getByRole('button', { name: `Pin ${name}`, exact: true }).click();
      await p.getByLabel(`${name} (pinned)`).waitFor({ timeout: 20_000 });
      await showing(who, 4);
      problems.push(
        ...(await notSeen(p, `group call at ${size} with ${name} pinned`, {
          ...targets(p, others[who]),
          [`${name} on stage`]: p.getByLabel(`${name} (pinned)`),
        })),
      );
    }
    assert.deepEqual(problems, [], 'all seen without scrolling');
  });
});
