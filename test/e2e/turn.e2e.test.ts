import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type Coturn, startCoturn } from '../support/coturn.js';
import {
  addUser,
  type ConfabProcess,
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

  test('with iceTransportPolicy relay, both sides decode video through the relay', async () => {
    const alice = await openUser(browser, server.localUrl);
    const bob = await openUser(browser, server.localUrl);
    try {
      await signIn(alice.page, 'alice', 'wonderland', 'Alice Liddell');
      await signIn(bob.page, 'bob', 'can-we-fix-it', 'Bob Builder');
      await alice.page.getByRole('button', { name: 'Contacts' }).click();
      await alice.page.getByRole('searchbox', { name: 'Search contacts' }).fill('bob');
      await alice.page
        .getByRole('listitem', { name: 'Bob Builder' })
        .getByRole('button', { name: 'Call', exact: true })
        .click();
      await bob.page
        .getByRole('dialog', { name: 'Alice Liddell' })
        .getByRole('button', { name: 'Accept' })
        .click();
      await waitForDecodingVideo(alice.page, 1, 30_000);
      await waitForDecodingVideo(bob.page, 1, 30_000);
      const pair = await alice.page.evaluate(async () => {
        const pcs = (window as unknown as { __confabPeerConnections: RTCPeerConnection[] })
          .__confabPeerConnections;
        const stats = await (pcs.at(-1) as RTCPeerConnection).getStats();
        let local: string | undefined;
        stats.forEach(
          (s: { type: string; nominated?: boolean; state?: string; localCandidateId?: string }) => {
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
      assert.equal(pair, 'relay', 'the selected candidate pair goes through the TURN relay');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
