import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  addUser,
  audioFlow,
  bridgePids,
  type ConfabProcess,
  joinGroupFromNewCall,
  launchBrowser,
  openUser,
  participantNames,
  pollUntil,
  setMicrophone,
  signIn,
  startConfab,
  type User,
  waitForDecodingVideo,
} from './helpers/index.js';

const bridgePort = 10410;

describe('group calls: the owner mutes and removes, the speaker is staged, a lost bridge is replaced', () => {
  let server: ConfabProcess;
  let browser: Browser;
  const users: Record<string, User> = {};
  const people = [
    ['alice', 'Alice Liddell', 'wonderland'],
    ['bob', 'Bob Builder', 'can-we-fix-it'],
    ['carol', 'Carol Danvers', 'higher-further'],
  ] as const;
  const page = (who: keyof typeof users) => (users[who] as User).page;

  const setMic = (who: string, on: boolean) => setMicrophone(page(who), on, who);

  before(async () => {
    server = await startConfab({
      config: `bridge:\n  port_range: ${bridgePort}-${bridgePort + 9}\n`,
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
    browser = await launchBrowser();
    for (const [username, name, password] of people) {
      await addUser(server, username, name, password);
      const u = await openUser(browser, server.localUrl, { smallVideo: true });
      await signIn(u.page, username, password, name);
      users[username] = u;
    }
    for (const who of ['alice', 'bob', 'carol'] as const)
      await joinGroupFromNewCall(page(who), 'meeting');
    for (const who of ['alice', 'bob', 'carol'] as const)
      assert.ok((await waitForDecodingVideo(page(who), 2, 60_000)) >= 2, `${who} decodes two`);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('receivers get sender reports for every forwarded stream, in its rewritten terms (lip sync)', async () => {
    const reports = () =>
      page('carol').evaluate(async () => {
        const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
          .__confabPeerConnections;
        const pc = pcs.filter((p) => p.connectionState !== 'closed').at(-1);
        const found: { kind: string; ssrcs: boolean }[] = [];
        if (!pc) return found;
        const stats = await pc.getStats();
        const inbound = new Set<number>();
        stats.forEach((s: { type: string; ssrc?: number }) => {
          if (s.type === 'inbound-rtp' && s.ssrc !== undefined) inbound.add(s.ssrc);
        });
        // remote-outbound-rtp exists only once a sender report for that SSRC arrived.
        stats.forEach((s: { type: string; kind?: string; ssrc?: number }) => {
          if (s.type === 'remote-outbound-rtp')
            found.push({ kind: s.kind ?? '', ssrcs: inbound.has(s.ssrc ?? -1) });
        });
        return found;
      });
    const found = await pollUntil(
      reports,
      (r) => r.filter((x) => x.ssrcs).length >= 4,
      20_000,
      'sender reports for two audio and two video streams',
    );
    assert.equal(found.filter((x) => x.kind === 'audio').length, 2);
    assert.equal(found.filter((x) => x.kind === 'video').length, 2);
    // The other way, the bridge's receiver reports reach the publisher (loss and round trip).
    const upstream = await pollUntil(
      () =>
        page('carol').evaluate(async () => {
          const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
            .__confabPeerConnections;
          const pc = pcs.filter((p) => p.connectionState !== 'closed').at(-1);
          const kinds: string[] = [];
          (await pc?.getStats())?.forEach(
            (s: { type: string; kind?: string; roundTripTime?: number }) => {
              if (s.type === 'remote-inbound-rtp' && s.roundTripTime !== undefined)
                kinds.push(s.kind ?? '');
            },
          );
          return kinds.sort();
        }),
      (k) => k.includes('audio') && k.includes('video'),
      20_000,
      'receiver reports for Carol’s audio and video',
    );
    assert.deepEqual(upstream, ['audio', 'video']);
  });

  test('the dominant speaker is shown large, and changes when someone else speaks', async () => {
    // The fake microphone beeps; a microphone switched off sends silence.
    await setMic('bob', false);
    await setMic('carol', false);
    await setMic('alice', true);
    for (const who of ['bob', 'carol'] as const)
      await page(who).getByLabel('Alice Liddell (speaking)').waitFor({ timeout: 20_000 });
    await setMic('alice', false);
    await setMic('bob', true);
    for (const who of ['alice', 'carol'] as const)
      await page(who).getByLabel('Bob Builder (speaking)').waitFor({ timeout: 20_000 });
    assert.equal(await page('carol').getByLabel('Alice Liddell (speaking)').count(), 0);
    // The speaker's tile is marked in the strip too.
    await page('carol').locator('li.tile.speaking', { hasText: 'Bob Builder' }).waitFor();
  });

  test('"Mute NAME" by the owner stops that participant\'s audio reaching the others until they unmute', async () => {
    await setMic('bob', true);
    const flowing = await audioFlow(page('carol'), 'Bob Builder');
    assert.ok(flowing.packets > 50, `Carol receives Bob's audio (${flowing.packets} packets)`);
    assert.ok(flowing.energy > 0, `with energy (${flowing.energy})`);
    // Only the owner has the buttons.
    assert.equal(await page('carol').getByRole('button', { name: 'Mute Bob Builder' }).count(), 0);
    assert.equal(
      await page('carol').getByRole('button', { name: 'Remove Bob Builder' }).count(),
      0,
    );

    await page('alice').getByRole('button', { name: 'Mute Bob Builder' }).click();
    await page('bob')
      .getByRole('status')
      .filter({ hasText: 'Alice Liddell muted you' })
      .waitFor({ timeout: 10_000 });
    await pollUntil(
      () =>
        page('bob')
          .getByRole('button', { name: 'Microphone', exact: true })
          .getAttribute('aria-pressed'),
      (v) => v === 'false',
      5000,
      "Bob's microphone shown off",
    );
    await pollUntil(
      () => participantNames(page('carol')),
      (names) => names.includes('Bob Builder muted'),
      10_000,
      'Bob marked muted',
    );
    // Even a client that kept sending would not be heard: the bridge drops it.
    await page('bob').evaluate(() => {
      for (const pc of (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
        .__confabPeerConnections)
        for (const s of pc.getSenders()) if (s.track?.kind === 'audio') s.track.enabled = true;
    });
    for (const who of ['carol', 'alice'] as const) {
      // Audio already in the receiver's jitter buffer still plays out: measure once it has.
      await pollUntil(
        () => audioFlow(page(who), 'Bob Builder', 1000),
        (f) => f.packets === 0,
        10_000,
        `Bob's audio stops reaching ${who}`,
      );
      // What is left is the receiver's own concealment of the gap, which fades far below
      // speech; how long it takes is the browser's (on a loaded machine seconds: a CI run still
      // measured 12% of speech in the first window), so it is waited for, while no packet of
      // Bob's may arrive.
      const muted = await pollUntil(
        () => audioFlow(page(who), 'Bob Builder'),
        (f) => f.packets > 0 || f.energy < flowing.energy / 100,
        15_000,
        `Bob's audio fades out at ${who}'s`,
      ).catch(async () => audioFlow(page(who), 'Bob Builder'));
      assert.equal(muted.packets, 0, `no audio packets from Bob reach ${who}`);
      assert.ok(
        muted.energy < flowing.energy / 100,
        `no audio energy from Bob at ${who}'s (${muted.energy} against ${flowing.energy})`,
      );
    }

    await setMic('bob', true);
    await pollUntil(
      () => participantNames(page('carol')),
      (names) => names.includes('Bob Builder'),
      10_000,
      'Bob no longer muted',
    );
    const back = await audioFlow(page('carol'), 'Bob Builder');
    assert.ok(back.packets > 50 && back.energy > 0, 'Carol hears Bob again');
  });

  test('"Remove NAME" sends a participant out with a notice; they may join again', async () => {
    await page('alice').getByRole('button', { name: 'Remove Carol Danvers' }).click();
    await page('carol')
      .getByRole('alert')
      .filter({ hasText: 'Alice Liddell removed you from the call' })
      .waitFor({ timeout: 10_000 });
    for (const who of ['alice', 'bob'] as const)
      await pollUntil(
        () => participantNames(page(who)),
        (names) => names.length === 2 && !names.some((n) => n.startsWith('Carol')),
        10_000,
        `Carol gone from ${who}'s list`,
      );
    await page('carol').getByRole('button', { name: 'Join call' }).click();
    assert.ok((await waitForDecodingVideo(page('carol'), 2, 60_000)) >= 2, 'Carol is back');
  });

  test('when the bridge process is killed, media comes back for everyone without reloading; a screen being shared ends', async () => {
    const [pid] = bridgePids(server);
    assert.ok(pid, 'a bridge process runs');
    await page('bob').mouse.move(100, 100);
    await page('bob').getByRole('button', { name: 'Share screen' }).click();
    await page('bob').getByRole('button', { name: 'Stop sharing' }).waitFor();
    for (const who of ['alice', 'bob', 'carol'] as const)
      await page(who).evaluate(() => {
        (window as unknown as { __notReloaded: boolean }).__notReloaded = true;
      });
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await pollUntil(
      async () => bridgePids(server),
      (pids) => pids.length === 1 && pids[0] !== pid,
      20_000,
      'a new bridge process',
    );
    for (const who of ['alice', 'bob', 'carol'] as const) {
      const seen = await waitForDecodingVideo(page(who), 2, 60_000).catch((err: Error) => {
        // What the focus and bridges said, for whoever reads a failure.
        const said = server.logs
          .filter((l) => l.level >= 40 || /bridge|conference/.test(l.msg))
          .slice(-20)
          .map((l) => `${l.module ?? ''} ${l.msg}`);
        throw new Error(`${err.message}; server said: ${said.join(' | ')}`);
      });
      assert.ok(seen >= 2, `${who} decodes two again`);
    }
    const recoveredMs = Date.now() - killedAt;
    // The new session starts without the screen, and Bob's controls say so.
    await page('bob').mouse.move(120, 120);
    await page('bob').getByRole('button', { name: 'Share screen' }).waitFor({ timeout: 10_000 });
    assert.equal(
      await page('bob')
        .getByRole('status')
        .filter({ hasText: 'You are sharing your screen' })
        .count(),
      0,
    );
    for (const who of ['alice', 'bob', 'carol'] as const)
      assert.equal(
        await page(who).evaluate(
          () => (window as unknown as { __notReloaded?: boolean }).__notReloaded,
        ),
        true,
        `${who}'s page was not reloaded`,
      );
    assert.ok(
      server.logs.some((l) => l.msg === 'moving conference off a lost bridge'),
      'the focus moved the conference',
    );
    console.log(`media back for all three ${recoveredMs} ms after the kill`);
  });
});
