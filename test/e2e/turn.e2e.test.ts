import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type Coturn, startCoturn } from '../support/coturn.js';
import {
  addUser,
  type ConfabProcess,
  callFromContacts,
  launchBrowser,
  openUser,
  signIn,
  startConfab,
  waitForDecodingVideo,
} from './helpers/index.js';

describe('calls relayed through coturn with TURN REST credentials', () => {
  let coturn: Coturn;
  let server: ConfabProcess;
  let browser: Browser;

  before(async () => {
    coturn = await startCoturn();
    server = await startConfab({
      files: { 'turn-secret': `${coturn.secret}\n` },
      config: [
        `turn_uris: ["${coturn.uri}"]`,
        'turn_server_shared_secret: turn-secret',
        // Short-lived credentials: the web app must fetch new ones (rtm/turn) during a call.
        'turn_ttl: 10',
        // Only relayed candidates: the call connects through coturn or not at all.
        'web_config: {kwm: {webrtc: {config: {iceTransportPolicy: relay}}}}',
      ].join('\n'),
    });
    await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
    await addUser(server, 'bob', 'Bob Builder', 'can-we-fix-it');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await coturn?.stop();
  });

  test('with iceTransportPolicy relay, both sides decode video through the relay; TURN credentials are refreshed before they expire and an ICE restart relays with the new ones', async () => {
    const alice = await openUser(browser, server.localUrl);
    const bob = await openUser(browser, server.localUrl);
    try {
      const connected = alice.page.waitForResponse((r) =>
        r.url().endsWith('/api/kwm/v2/rtm/connect'),
      );
      const firstRefresh = alice.page.waitForResponse(
        (r) => r.url().endsWith('/api/kwm/v2/rtm/turn') && r.request().method() === 'POST',
        { timeout: 30_000 },
      );
      await signIn(alice.page, 'alice', 'wonderland', 'Alice Liddell');
      await signIn(bob.page, 'bob', 'can-we-fix-it', 'Bob Builder');
      await callFromContacts(alice.page, bob.page, 'Bob Builder');
      await waitForDecodingVideo(alice.page, 1, 30_000);
      await waitForDecodingVideo(bob.page, 1, 30_000);
      const selectedPair = () =>
        alice.page.evaluate(async () => {
          const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
            .__confabPeerConnections;
          const stats = await (pcs.at(-1) as RTCPeerConnection).getStats();
          let local: string | undefined;
          stats.forEach(
            (s: {
              type: string;
              nominated?: boolean;
              state?: string;
              localCandidateId?: string;
            }) => {
              if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated)
                local = s.localCandidateId;
            },
          );
          let type: string | undefined;
          stats.forEach((s: { id: string; candidateType?: string }) => {
            if (s.id === local) type = s.candidateType;
          });
          return type;
        });
      const pair = await selectedPair();
      assert.equal(pair, 'relay', 'the selected candidate pair goes through the TURN relay');

      // ttl 10 s: the app asks rtm/turn after 8 s and hands the new credentials to the call.
      const expiryOf = (username: string) => Number(username.split(':')[0]);
      const before = ((await (await connected).json()) as { turn: { username: string } }).turn
        .username;
      const refreshed = await firstRefresh;
      assert.equal(refreshed.status(), 200);
      const fresh = ((await refreshed.json()) as { turn: { username: string } }).turn.username;
      assert.ok(expiryOf(fresh) > expiryOf(before), 'the new credentials expire later');
      // The open call now uses credentials newer than the first.
      await alice.page.waitForFunction(
        (first) => {
          const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
            .__confabPeerConnections;
          const servers = (pcs.at(-1) as RTCPeerConnection).getConfiguration().iceServers ?? [];
          const name = servers.find((s) => s.username)?.username ?? '';
          return Number(name.split(':')[0]) > first;
        },
        expiryOf(before),
        { timeout: 5000 },
      );

      // Past the first credentials' expiry an ICE restart still relays: with the new ones.
      const expiry = expiryOf(before) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, expiry - Date.now() + 1000)));
      const ufrag = () =>
        alice.page.evaluate(() => {
          const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
            .__confabPeerConnections;
          return /a=ice-ufrag:(\S+)/.exec(
            (pcs.at(-1) as RTCPeerConnection).localDescription?.sdp ?? '',
          )?.[1];
        });
      const oldUfrag = await ufrag();
      await alice.page.evaluate(() => {
        const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
          .__confabPeerConnections;
        (pcs.at(-1) as RTCPeerConnection).restartIce();
      });
      await alice.page.waitForFunction(
        (old) => {
          const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
            .__confabPeerConnections;
          const pc = pcs.at(-1) as RTCPeerConnection;
          const u = /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1];
          return (
            u !== old && pc.signalingState === 'stable' && pc.iceConnectionState === 'connected'
          );
        },
        oldUfrag,
        { timeout: 20_000 },
      );
      await waitForDecodingVideo(bob.page, 1, 20_000);
      assert.equal(await selectedPair(), 'relay', 'still relayed after the restart');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
