import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chatsVersion, pipelinePeerId, type ServerMessage } from '@confab/protocol';
import ICAL from 'ical.js';
import type { Browser, Page } from 'playwright-core';
import { guestSignInOverHttp } from '../support/oidcFlow.js';
import { RtmClient } from '../support/rtmClient.js';
import {
  addUser,
  type ConfabProcess,
  joinGroupByLink,
  launchBrowser,
  openUser,
  pollUntil,
  signIn,
  startConfab,
  type User,
  waitForDecodingVideo,
} from './helpers/index.js';

const bridgePort = 10600;
const room = 'group/public/meeting';
const markup =
  '<script>alert(1)</script> <img src=x onerror=alert(1)> javascript:alert(1) agenda: https://example.org/agenda';

type Chats = Extract<ServerMessage, { type: 'chats' }>;
const chatText = (m: ServerMessage) =>
  m.type === 'chats' && m.subtype === 'chats_message' && 'text' in m.data ? m.data.text : undefined;

describe('in the meeting: chat, hands and reactions, the lobby, mute everyone, end meeting', () => {
  let server: ConfabProcess;
  let browser: Browser;
  const users: Record<string, User> = {};
  const people = [
    ['alice', 'Alice Liddell', 'wonderland'],
    ['bob', 'Bob Builder', 'can-we-fix-it'],
    ['carol', 'Carol Danvers', 'higher-further'],
    ['dave', 'Dave Bowman', 'open-the-pod-bay'],
  ] as const;
  const page = (who: keyof typeof users) => (users[who] as User).page;
  /** A kwmjs-style client in the room: a guest on the RTM socket, speaking kwm's chats. */
  let kwm: RtmClient;
  let heartbeat: NodeJS.Timeout | undefined;

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
    for (const who of ['alice', 'bob', 'carol'] as const) await joinGroupByLink(page(who), room);
    const tokens = await guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: room,
      name: 'Kim Kwm',
    });
    kwm = await RtmClient.open(server.localUrl, tokens.accessToken);
    // kwmjs's doGroup: webrtc_group with no data.
    kwm.send({ type: 'webrtc', subtype: 'webrtc_group', target: room, group: room, state: 'k1' });
    await kwm.next((m) => m.type === 'webrtc' && m.subtype === 'webrtc_channel' && !!m.hash);
    // kwmjs's heartbeat: a ping every 5 s, or the server closes a silent socket.
    heartbeat = setInterval(() => kwm.send({ type: 'ping', ts: Date.now() }), 5000);
  });
  after(async () => {
    clearInterval(heartbeat);
    await kwm?.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  const controls = async (who: string) => {
    await page(who).mouse.move(200, 200);
    return page(who);
  };
  const chatPanel = (who: string) => page(who).getByRole('region', { name: 'Chat', exact: true });
  const listItem = (who: string, name: string) =>
    page(who)
      .getByRole('complementary', { name: /^Participants/ })
      .getByRole('listitem')
      .filter({ hasText: name });

  test('a message from Alice reaches Bob, Carol and a kwmjs-style client as text (links clickable, no markup), with an unread count; the kwm client’s reaches the page', async () => {
    const alice = await controls('alice');
    await alice.getByRole('button', { name: 'Chat', exact: true }).click();
    assert.equal(
      await alice.getByRole('button', { name: 'Chat', exact: true }).getAttribute('aria-expanded'),
      'true',
    );
    await chatPanel('alice').getByRole('textbox', { name: 'Message' }).fill(markup);
    await chatPanel('alice').getByRole('textbox', { name: 'Message' }).press('Enter');
    await chatPanel('alice').getByText('agenda:', { exact: false }).waitFor();

    for (const who of ['bob', 'carol'] as const) {
      const p = await controls(who);
      const button = p.getByRole('button', { name: 'Chat', exact: true });
      await pollUntil(
        async () => (await button.textContent()) ?? '',
        (text) => /1/.test(text),
        15_000,
        `${who}'s unread count`,
      );
      await button.click();
      const panel = chatPanel(who);
      const line = panel.getByRole('listitem').filter({ hasText: 'Alice Liddell' });
      await line.waitFor();
      assert.match((await line.textContent()) ?? '', /<script>alert\(1\)<\/script> <img src=x/);
      assert.equal(await panel.locator('img, script').count(), 0, 'no markup rendered');
      const link = panel.getByRole('link', { name: 'https://example.org/agenda' });
      assert.equal(await link.getAttribute('href'), 'https://example.org/agenda');
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
      assert.equal(await panel.getByRole('link').count(), 1, 'javascript: is no link');
      assert.equal(await button.getAttribute('aria-expanded'), 'true');
    }
    const atKwm = (await kwm.next((m) => chatText(m) === markup, 10_000)) as Chats;
    assert.deepEqual(atKwm.profile, { name: 'Alice Liddell' });
    assert.equal(atKwm.channel, `@${room}`);

    kwm.send({
      type: 'chats',
      subtype: 'chats_message',
      channel: `@${room}`,
      v: chatsVersion,
      transaction: '',
      data: { kind: '', sender: '', target: '', id: '', text: 'hello from kwmjs' },
    });
    const fromKwm = chatPanel('alice')
      .getByRole('listitem')
      .filter({ hasText: 'hello from kwmjs' });
    await fromKwm.waitFor();
    assert.match((await fromKwm.textContent()) ?? '', /Kim Kwm · guest/);
    for (const who of ['alice', 'bob', 'carol'] as const)
      await (await controls(who)).getByRole('button', { name: 'Chat', exact: true }).click();
  });

  test('Bob raises his hand: Alice sees it on his tile and in his list item, lowers it; his reaction floats over his tile at Alice’s', async () => {
    const bob = await controls('bob');
    await bob.getByRole('button', { name: 'Raise hand' }).click();
    assert.equal(
      await bob.getByRole('button', { name: 'Raise hand' }).getAttribute('aria-pressed'),
      'true',
    );
    await listItem('alice', 'Bob Builder').filter({ hasText: 'Hand raised' }).waitFor();
    await page('alice')
      .getByRole('list', { name: 'Participants’ videos' })
      .getByRole('listitem')
      .filter({ hasText: 'Bob Builder' })
      .filter({ hasText: 'Hand raised' })
      .waitFor();
    await page('alice').getByRole('button', { name: 'Lower hand of Bob Builder' }).click();
    await pollUntil(
      () => bob.getByRole('button', { name: 'Raise hand' }).getAttribute('aria-pressed'),
      (v) => v === 'false',
      10_000,
      'Bob’s hand lowered',
    );

    await (await controls('bob')).getByRole('button', { name: 'Reactions' }).click();
    await bob
      .getByRole('menu', { name: 'Reactions' })
      .getByRole('menuitem', { name: 'Clap' })
      .click();
    await page('alice')
      .getByRole('img', { name: 'Bob Builder: Clap' })
      .waitFor({ timeout: 10_000 });
  });

  test('"Add to calendar" in the invite dialog downloads an .ics that a real iCalendar parser reads: the chosen start, 30 minutes, the room link', async () => {
    const alice = await controls('alice');
    await alice
      .getByRole('complementary', { name: /^Participants/ })
      .getByRole('button', { name: 'Invite to this group' })
      .click();
    const dialog = alice.getByRole('dialog');
    const start = dialog.getByRole('textbox', { name: 'Start time' });
    // The default: the next full half hour.
    const shown = await start.inputValue();
    assert.match(shown, /T\d\d:(00|30)$/);
    await start.fill('2026-12-24T15:00');
    const [download] = await Promise.all([
      alice.waitForEvent('download'),
      dialog.getByRole('button', { name: 'Add to calendar' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /\.ics$/);
    const file = await download.path();
    const ics = readFileSync(file, 'utf8');
    const event = new ICAL.Event(
      new ICAL.Component(ICAL.parse(ics)).getFirstSubcomponent('vevent') as ICAL.Component,
    );
    const origin = await alice.evaluate(() => location.origin);
    const link = `${origin}/meet/r/${room}#guest=1`;
    const expectedStart = await alice.evaluate(() => new Date('2026-12-24T15:00').getTime());
    assert.equal(event.startDate.toJSDate().getTime(), expectedStart);
    assert.equal(event.endDate.toJSDate().getTime() - expectedStart, 30 * 60_000);
    assert.equal(event.component.getFirstPropertyValue('url'), link);
    assert.ok(event.description.includes(link));
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  test('with the lobby on, Dave asks to join, Alice admits him, he decodes video and sees the chat so far; asking again after leaving, he is denied and sees the notice', async () => {
    const alice = await controls('alice');
    const lobby = alice.getByRole('switch', { name: 'Lobby', exact: true });
    await lobby.click();
    await pollUntil(
      () => lobby.getAttribute('aria-checked'),
      (v) => v === 'true',
      5000,
      'lobby on',
    );

    const dave = page('dave');
    await dave.goto(`/meet/r/${room}`);
    await dave.getByRole('button', { name: 'Join call' }).click();
    await dave.getByRole('heading', { name: 'Asking to join…' }).waitFor();
    await alice.getByText('Dave Bowman wants to join').waitFor();
    await alice.getByRole('button', { name: 'Admit Dave Bowman' }).click();
    await dave.getByRole('region', { name: /^Group call / }).waitFor();
    assert.ok((await waitForDecodingVideo(dave, 1, 60_000)) >= 1, 'Dave decodes video');
    await (await controls('dave')).getByRole('button', { name: 'Chat', exact: true }).click();
    await chatPanel('dave').getByRole('listitem').filter({ hasText: 'agenda:' }).waitFor();
    await chatPanel('dave').getByRole('listitem').filter({ hasText: 'hello from kwmjs' }).waitFor();

    await (await controls('dave')).getByRole('button', { name: 'Hang up' }).click();
    await dave.getByRole('button', { name: 'Join call' }).click();
    await dave.getByRole('heading', { name: 'Asking to join…' }).waitFor();
    await alice.getByRole('button', { name: 'Deny Dave Bowman' }).click();
    await dave.getByText('The host did not let you in').waitFor();
    const askAgain = dave.getByRole('button', { name: 'Ask again' });
    assert.equal(await askAgain.isDisabled(), true, 'not at once');
    // After the server's wait it is enabled, and asks again.
    await pollUntil(
      () => askAgain.isEnabled(),
      (on) => on,
      15_000,
      '"Ask again" enabled',
    );
    await askAgain.click();
    await dave.getByRole('heading', { name: 'Asking to join…' }).waitFor();
    await alice.getByText('Dave Bowman wants to join').waitFor();
    // Switching the lobby off lets him in.
    await lobby.click();
    await dave.getByRole('region', { name: /^Group call / }).waitFor();
  });

  test('"Mute everyone" turns Bob’s and Carol’s microphones off; "End meeting" ends it for everyone, the kwm client gets the group hangup', async () => {
    const alice = await controls('alice');
    await alice.getByRole('button', { name: 'Mute everyone' }).click();
    for (const who of ['bob', 'carol'] as const) {
      await page(who).getByText('Alice Liddell muted you', { exact: false }).waitFor();
      const mic = (await controls(who)).getByRole('button', { name: 'Microphone', exact: true });
      await pollUntil(
        () => mic.getAttribute('aria-pressed'),
        (v) => v === 'false',
        5000,
        who,
      );
    }
    assert.equal(
      await (await controls('alice'))
        .getByRole('button', { name: 'Microphone', exact: true })
        .getAttribute('aria-pressed'),
      'true',
      'the owner is not muted',
    );

    await alice.getByRole('button', { name: 'End meeting' }).click();
    await alice.getByRole('button', { name: 'End meeting' }).click();
    for (const who of ['alice', 'bob', 'carol'] as const) {
      await page(who).getByText('Alice Liddell ended the meeting').waitFor();
      assert.equal(
        await page(who)
          .getByRole('region', { name: /^Group call / })
          .count(),
        0,
      );
    }
    const hangup = await kwm.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_hangup',
      10_000,
    );
    assert.equal((hangup as { source?: string }).source, pipelinePeerId);
    // Nobody rejoins by themselves: the pages stay on the landing page.
    await new Promise((r) => setTimeout(r, 1500));
    for (const who of ['bob', 'carol'] as const)
      assert.equal(await (page(who) as Page).getByRole('button', { name: 'Join call' }).count(), 1);
  });
});
