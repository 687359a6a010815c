import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import { channelOf, FakeBridge, isError, join, pipelineSignal } from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

interface Pair {
  pair: string;
  peer: string;
  initiator: boolean;
}

/** `webrtc_group` as the web app sends it (it can go peer to peer), or as kwmjs does. */
const joinCapable = (client: RtmClient, group: string, p2p = true) =>
  join(client, group, p2p ? { p2p: true } : undefined);

/** The join reply. */
function replyOf(client: RtmClient, group: string): Promise<LooseWebrtcFrame> {
  return client.next(
    (f) => channelOf(group)(f) && f.hash !== undefined,
  ) as Promise<LooseWebrtcFrame>;
}

/** The channel's hash, from the join reply. */
async function hashOf(client: RtmClient, group: string): Promise<string> {
  return (await replyOf(client, group)).hash as string;
}

const p2pOf = (group: string) => (m: ServerMessage) =>
  channelOf(group)(m) && 'p2p' in ((m as LooseWebrtcFrame).data as object);
const pairOf = (m: ServerMessage | LooseWebrtcFrame) =>
  ((m as LooseWebrtcFrame).data as { p2p: Pair | null }).p2p;

/** A signal to the other member of the pair, in the group channel. */
function direct(client: RtmClient, group: string, hash: string, target: string, data: unknown) {
  return client.send({
    type: 'webrtc',
    subtype: 'webrtc_signal',
    target,
    group,
    channel: `@${group}`,
    hash,
    data,
  });
}

describe('the focus: rooms of two run peer to peer', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  before(async () => {
    ({ server, users } = await startSignaling(
      'conference_empty_timeout: 0\ncall_reconnect_grace: 0\n',
    ));
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    bridge = await FakeBridge.connect(server.localUrl, secret);
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);
  const id = (who: string) => users[who]?.id as string;

  test('two capable members are told to connect directly (the greater id offers); their signals are relayed to each other and nobody else; a third moves them back; two again go direct after the settle', async () => {
    const group = 'group/pair';
    const alice = await open('alice');
    joinCapable(alice, group);
    const aliceHash = await hashOf(alice, group);
    assert.ok(await alice.nothing(p2pOf(group)), 'alone: nothing to pair with');
    const bob = await open('bob');
    joinCapable(bob, group);
    // The joiner hears it in its join reply (before it sends the bridge anything), the one
    // there in the group channel.
    const bobReply = await replyOf(bob, group);
    const bobHash = bobReply.hash as string;
    const toBob = pairOf(bobReply) as Pair;
    const toAlice = pairOf(await alice.next(p2pOf(group))) as Pair;
    // …and again in the group channel right after it, for a page loaded before the reply
    // carried it.
    assert.deepEqual(pairOf(await bob.next(p2pOf(group))), toBob);
    assert.equal(toAlice.pair, toBob.pair);
    assert.equal(toAlice.peer, id('bob'));
    assert.equal(toBob.peer, id('alice'));
    assert.equal(toAlice.initiator, id('alice') > id('bob'));
    assert.equal(toBob.initiator, !toAlice.initiator);
    const pair = toAlice.pair;

    // Descriptions, candidates and media states go to the other member as they are.
    const offer = { p2p: pair, type: 'offer', sdp: 'v=0 direct offer' };
    direct(alice, group, aliceHash, id('bob'), offer);
    const relayed = (await bob.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal(relayed.source, id('alice'));
    assert.equal(relayed.target, id('bob'));
    assert.equal(relayed.channel, `@${group}`);
    assert.equal(relayed.group, group);
    assert.equal(relayed.hash, bobHash);
    assert.deepEqual(relayed.data, offer);
    for (const data of [
      {
        p2p: pair,
        candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' },
      },
      { p2p: pair, candidate: null },
      { p2p: pair, media: { screen: true, video: true } },
    ]) {
      direct(bob, group, bobHash, id('alice'), data);
      const got = (await alice.next(
        (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
      )) as LooseWebrtcFrame;
      assert.deepEqual(got.data, data);
    }
    // A stale pair's signal is dropped; a wrong hash, a stranger and bad data are refused.
    direct(alice, group, aliceHash, id('bob'), { p2p: 'old-pair', candidate: null });
    assert.ok(await bob.nothing((m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal'));
    direct(alice, group, bobHash, id('bob'), { p2p: pair, candidate: null });
    await alice.next(isError('access_restricted'));
    direct(alice, group, aliceHash, id('carol'), { p2p: pair, candidate: null });
    await alice.next(isError('access_restricted'));
    for (const bad of [
      { p2p: pair, type: 'offer' },
      { p2p: pair, candidate: null, extra: 1 },
      { p2p: pair, media: { screen: 'yes', video: true } },
      { p2p: 7, candidate: null },
      { type: 'offer', sdp: 'v=0' },
    ]) {
      direct(alice, group, aliceHash, id('bob'), bad);
      await alice.next(isError('bad_message'));
    }
    assert.ok(await bob.nothing((m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal'));

    // Connected: the room counts as peer to peer.
    pipelineSignal(alice, group, aliceHash, { p2p: { pair, state: 'connected' } });
    const metrics = async () => (await fetch(`${server.localUrl}/metrics`)).text();
    for (let i = 0; i < 50 && !/^confab_conferences_p2p 1$/m.test(await metrics()); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.match(await metrics(), /^confab_conferences_p2p 1$/m);

    // A third joins: both go back to the bridge; the pair's signals go nowhere now.
    const carol = await open('carol');
    joinCapable(carol, group);
    await hashOf(carol, group);
    assert.equal(pairOf(await alice.next(p2pOf(group))), null);
    assert.equal(pairOf(await bob.next(p2pOf(group))), null);
    assert.ok(await carol.nothing(p2pOf(group)));
    assert.match(await metrics(), /^confab_conferences_p2p 0$/m);
    direct(alice, group, aliceHash, id('bob'), { p2p: pair, candidate: null });
    assert.ok(await bob.nothing((m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal'));

    // Carol leaves: after the settle, a new pair.
    const left = Date.now();
    carol.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: group,
      group,
      channel: `@${group}`,
    });
    const again = pairOf(await alice.next(p2pOf(group), 6000)) as Pair;
    assert.ok(Date.now() - left >= 2500, 'a room back to two waits before it goes direct');
    assert.notEqual(again.pair, pair);
    assert.equal((pairOf(await bob.next(p2pOf(group), 6000)) as Pair).pair, again.pair);

    // Bob leaves: Alice alone is back on the bridge.
    await bob.close();
    assert.equal(pairOf(await alice.next(p2pOf(group))), null);
    await Promise.all([alice.close(), carol.close()]);
  });

  test("a member that cannot (kwmjs) keeps the room on the bridge; a pair whose connection failed stays there; the owner's mute is told to the bridge again on the way back", async () => {
    const group = 'group/mixed';
    const alice = await open('alice');
    joinCapable(alice, group);
    const aliceHash = await hashOf(alice, group);
    const kwmjs = await open('bob');
    joinCapable(kwmjs, group, false);
    await hashOf(kwmjs, group);
    assert.ok(await alice.nothing(p2pOf(group)));
    assert.ok(await kwmjs.nothing(p2pOf(group)));
    await kwmjs.close();
    await bridge.next<'release'>((m) => m.type === 'release');
    bridge.received.length = 0; // the kwmjs session's allocation and release

    const bob = await open('bob');
    joinCapable(bob, group);
    const bobReply = await replyOf(bob, group);
    const bobHash = bobReply.hash as string;
    const { pair } = pairOf(await alice.next(p2pOf(group))) as Pair;
    assert.equal((pairOf(bobReply) as Pair).pair, pair);
    assert.equal((pairOf(await bob.next(p2pOf(group))) as Pair).pair, pair, 'told again');
    const b = await bridge.next<'allocate'>((m) => m.type === 'allocate' && m.user === id('bob'));
    // The owner mutes Bob while direct: he is told, and so is the bridge.
    pipelineSignal(alice, group, aliceHash, { mute: { user: id('bob') } });
    await bob.next(
      (m) => channelOf(group)(m) && 'muted' in ((m as LooseWebrtcFrame).data as object),
    );
    await bridge.next<'mute'>((m) => m.type === 'mute' && m.endpoint === b.endpoint && m.muted);

    // Bob's direct connection fails: both are back on the bridge, his mute told again.
    pipelineSignal(bob, group, bobHash, { p2p: { pair, state: 'failed' } });
    assert.equal(pairOf(await alice.next(p2pOf(group))), null);
    assert.equal(pairOf(await bob.next(p2pOf(group))), null);
    await bridge.next<'mute'>((m) => m.type === 'mute' && m.endpoint === b.endpoint && m.muted);
    // A report of another pair is not a failure of this room.
    pipelineSignal(bob, group, bobHash, { p2p: { pair: 'other', state: 'failed' } });
    // The same two again: they stay on the bridge.
    await bob.close();
    const bob2 = await open('bob');
    joinCapable(bob2, group);
    await hashOf(bob2, group);
    assert.ok(await alice.nothing(p2pOf(group), 500));
    // A malformed report is refused.
    pipelineSignal(alice, group, aliceHash, { p2p: { pair, state: 'sideways' } });
    await alice.next(isError('bad_message'));
    await Promise.all([alice.close(), bob2.close()]);
  });
});

describe('the focus with p2p: false', () => {
  test('a room of two capable members stays on the bridge', async () => {
    const { server, users } = await startSignaling(
      'conference_empty_timeout: 0\ncall_reconnect_grace: 0\np2p: false\n',
    );
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    const bridge = await FakeBridge.connect(server.localUrl, secret);
    try {
      const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);
      const group = 'group/off';
      const alice = await open('alice');
      joinCapable(alice, group);
      await hashOf(alice, group);
      const bob = await open('bob');
      joinCapable(bob, group);
      await hashOf(bob, group);
      assert.ok(await alice.nothing(p2pOf(group), 500));
      assert.ok(await bob.nothing(p2pOf(group), 100));
      await Promise.all([alice.close(), bob.close()]);
    } finally {
      await bridge.close();
      await server.close();
    }
  });
});
