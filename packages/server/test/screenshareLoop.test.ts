import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import { SyntheticPeer } from '../../../test/support/bridgeHarness.js';
import { tokensFor } from '../../../test/support/oidcFlow.js';
import { RtmClient } from '../../../test/support/rtmClient.js';
import { RtmPipeline } from '../../../test/support/rtmPipeline.js';
import type { SqlUserStore } from '../src/directory/index.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(read: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}

/**
 * Issue 19's Must show, end to end: `confab serve` with its own bridge process, participants
 * made of node-datachannel speaking signaling as a client does, one of them toggling its screen
 * share a thousand times. Every other conference on that bridge goes on untouched.
 */
describe('a thousand screen shares on and off through the real focus and bridge', () => {
  let server: TestServer;
  let users: Users;
  const peers: SyntheticPeer[] = [];
  const clients: RtmClient[] = [];

  before(async () => {
    ({ server, users } = await startSignaling(
      [
        // The toggles arrive as fast as a socket may send: the focus's own limit must hold.
        'rtm_message_rate: 5000',
        'conference_empty_timeout: 0',
        'bridge:',
        '  port_range: 10470-10479',
        '',
      ].join('\n'),
      {},
      undefined,
      { CONFAB_BRIDGE_WORKERS: '1' },
    ));
    // The bridge process says hello to the focus.
    await waitFor(() => (server.logs.some((l) => l.msg === 'bridge joined') ? true : undefined));
  });
  after(async () => {
    for (const p of peers) p.close();
    for (const c of clients) await c.close();
    await server?.close();
    // node-datachannel's native threads keep the process alive (bridgeMedia.test.ts).
    setTimeout(() => process.exit(0), 1000).unref();
  });

  /** A fourth user, signed in as the others were. */
  const addDave = async () => {
    const dave = await (server.store as SqlUserStore).add({
      username: 'dave',
      displayName: 'Dave Lister',
      password: 'dave-pw',
    });
    const body = await tokensFor(server.localUrl, 'dave', 'dave-pw');
    users.dave = { token: body.access_token, idToken: body.id_token, id: dave.id };
  };

  const member = async (who: string, group: string) => {
    const client = await RtmClient.open(server.localUrl, users[who]?.token as string);
    clients.push(client);
    const pipeline = new RtmPipeline(client, group, who);
    const peer = await SyntheticPeer.join(pipeline, group, who);
    peer.follow();
    peers.push(peer);
    await peer.connected(30_000);
    peer.publish();
    return { client, pipeline, peer };
  };

  test('the others in that conference keep their session; another conference gets no offer, no error, and its media goes on', async () => {
    const carol = await member('carol', 'group/calm');
    const bob = await member('bob', 'group/calm');
    const alice = await member('alice', 'group/loop');
    // Dave shares the toggler's room: every share it starts would give his session an m-line.
    await addDave();
    const dave = await member('dave', 'group/loop');
    // Bob's own camera from Carol, in the calm room: what must not stop.
    const mid = await waitFor(
      () =>
        Object.entries(bob.peer.streams).find(
          ([, s]) => s.user === users.carol?.id && s.source === 'camera',
        )?.[0],
    );
    const packets = () => bob.peer.received.get(mid)?.packets ?? 0;
    await waitFor(() => (packets() > 20 ? true : undefined));
    const calmMessages = () => [...carol.pipeline.others, ...bob.pipeline.others];
    const calmBefore = calmMessages().length;
    const calmOffers = [carol, bob].map((m) => m.peer.firstOffer && m.pipeline.sessions.length);
    let calmOffersAfter = 0;
    for (const m of [carol, bob])
      m.pipeline.take((x) => {
        if (x.type === 'offer') calmOffersAfter++;
        return false;
      });

    const refused: ServerMessage[] = [];
    alice.client.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      if (m.type === 'error' && m.error.code === 'rate_limited') refused.push(m);
    });
    const before = packets();
    // A thousand times on and off: unchecked, that gave Dave's session a thousand m-lines,
    // and an offer the control protocol refuses.
    for (let i = 0; i < 2000; i++)
      alice.pipeline.signal({ screenshare: i % 2 === 0 ? { mid: 's' } : null });
    await waitFor(() => (refused.length >= 1980 ? true : undefined));
    await sleep(2000);

    assert.ok(refused.length >= 1980, `${refused.length} of 2000 changes refused`);
    assert.ok(
      server.logs.every((l) => l.msg !== 'bridge gone' && l.msg !== 'bad message from a bridge'),
      'the bridge link held',
    );
    assert.equal(calmOffersAfter, 0, 'the calm conference was offered nothing new');
    assert.deepEqual(
      [carol, bob].map((m) => m.peer.firstOffer && m.pipeline.sessions.length),
      calmOffers,
      'nor a new session',
    );
    assert.deepEqual(calmMessages().slice(calmBefore), [], 'nor any message');
    assert.ok(packets() > before + 50, `its media went on (${packets() - before} packets)`);
    // The toggler's own conference is still served, Dave in it included.
    assert.equal(alice.peer.pc.state(), 'connected');
    assert.equal(dave.peer.pc.state(), 'connected');
  });
});
