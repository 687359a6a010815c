import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pipelinePeerId, type ServerMessage, webrtcVersion } from '@confab/protocol';
import { guestSignInOverHttp } from '../../../test/support/oidcFlow.js';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import { FakeBridge, joined, pick, pipelineSignal } from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errors = (c: RtmClient) => c.received.filter((m: ServerMessage) => m.type === 'error');

/**
 * What Kopano's own client (kwmjs 1.3.1) sends and reads in a group with a pipeline, at the
 * protocol level (test/interop drives a kwmjs-style client in Chromium): signals from the
 * pipeline carry what kwmjs checks, and its mesh habits draw no error.
 */
describe('kwmjs habits in group rooms', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  before(async () => {
    ({ server, users } = await startSignaling(
      'conference_empty_timeout: 0\ncall_reconnect_grace: 0\n',
    ));
    bridge = await FakeBridge.forServer(server);
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);

  test('pipeline signals name the pipeline as source and state (kwmjs drops any other), and the session as pcid; a new session is a new pcid', async () => {
    const alice = await open('alice');
    await joined(alice, 'group/k1');
    const first = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    bridge.send({ type: 'offer', ...pick(first), sdp: 'v=0 one', streams: {} });
    bridge.send({
      type: 'candidate',
      ...pick(first),
      candidate: 'candidate:1 1 UDP 1 127.0.0.1 1 typ host',
      mid: 'a',
    });
    for (const kind of ['offer', 'candidate']) {
      const m = (await alice.next(
        (x) => x.type === 'webrtc' && x.subtype === 'webrtc_signal',
      )) as LooseWebrtcFrame;
      assert.equal(m.source, pipelinePeerId, kind);
      assert.equal(m.state, pipelinePeerId, kind);
      assert.equal(m.pcid, first.endpoint, kind);
      assert.equal(m.channel, '@group/k1', kind);
      assert.equal(m.v, webrtcVersion, kind);
    }
    // kwmjs takes the lower id as the answerer and the bridge always offers: the pipeline sorts
    // after every user id.
    for (const who of ['alice', 'bob', 'carol'])
      assert.ok((users[who]?.id as string) < pipelinePeerId);
    bridge.send({ type: 'endpoint_state', ...pick(first), state: 'failed' });
    const next = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    bridge.send({ type: 'offer', ...pick(next), sdp: 'v=0 two', streams: {} });
    const again = (await alice.next(
      (x) => x.type === 'webrtc' && x.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal(again.pcid, next.endpoint);
    assert.notEqual(again.pcid, first.endpoint);
    await alice.close();
    await bridge.next((m) => m.type === 'expire');
  });

  test('mesh habits: member-to-member calls, the answerer’s {renegotiate, noop}, and the leave sequence draw no error and reach nobody', async () => {
    bridge.received.length = 0;
    const alice = await open('alice');
    const bob = await open('bob');
    const group = 'group/k2';
    const aliceHash = await joined(alice, group);
    await joined(bob, group);
    await sleep(100);
    alice.received.length = 0;
    bob.received.length = 0;
    // What kwmjs sends each other member on a member update (its doMesh → doAnswer).
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.bob?.id,
      group,
      channel: `@${group}`,
      hash: aliceHash,
      state: group,
      initiator: false,
      transaction: '',
      v: webrtcVersion,
      data: { accept: true, state: group },
    });
    // A kwmjs answerer's first signal to the pipeline (simple-peer non-initiator).
    pipelineSignal(alice, group, aliceHash, { renegotiate: true, noop: true });
    await sleep(300);
    assert.deepEqual(errors(alice), []);
    assert.equal(
      bob.received.filter((m) => m.type === 'webrtc' && m.subtype === 'webrtc_call').length,
      0,
      'nothing that would build a mesh connection reaches Bob',
    );
    assert.equal(bridge.received.filter((m) => m.type === 'renegotiate').length, 0);

    // kwmjs leaves: a hangup to the group, then to the pipeline, then to each member.
    const hangup = (target: string | undefined, state: string, dataState: string) =>
      alice.send({
        type: 'webrtc',
        subtype: 'webrtc_hangup',
        target,
        group,
        channel: `@${group}`,
        hash: aliceHash,
        state,
        initiator: false,
        transaction: '',
        v: webrtcVersion,
        data: { accept: false, reason: 'hangup', state: dataState },
      });
    hangup(group, 'a1b2c3d4e5f6', '');
    hangup(pipelinePeerId, '0f0f0f0f0f0f', pipelinePeerId);
    hangup(users.bob?.id, group, group);
    await bob.next(
      (m) =>
        m.type === 'webrtc' &&
        m.subtype === 'webrtc_channel' &&
        (m.data as { group?: { members: string[] } }).group?.members.length === 1,
    );
    await sleep(300);
    assert.deepEqual(errors(alice), [], 'no error for any frame of the leave');
    assert.equal(bridge.received.filter((m) => m.type === 'release').length, 1, 'left once');
    // A call from someone not in the group is still refused.
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.bob?.id,
      group,
      channel: `@${group}`,
      hash: aliceHash,
      state: group,
      data: { accept: true, state: group },
    });
    const refused = await alice.next((m) => m.type === 'error');
    assert.equal(refused.type === 'error' && refused.error.code, 'access_restricted');
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a chats frame for a group the sender is not in gets kwm’s own error with its reply_to, and the connection goes on', async () => {
    const alice = await open('alice');
    const id = alice.send({
      type: 'chats',
      subtype: 'chats_message',
      channel: '@group/k3',
      transaction: '',
      v: 20201201,
      data: { kind: '', sender: '', target: '', id: 'local-1', text: 'hello' },
    });
    const err = await alice.next((m) => m.type === 'error');
    assert.equal(err.type === 'error' && err.reply_to, id);
    assert.equal(err.type === 'error' && err.error.code, 'bad_message');
    const ping = alice.send({ type: 'ping', ts: 1 });
    await alice.next((m) => m.type === 'pong' && m.id === ping);
    await alice.close();
  });

  test('a mesh call to a guest member, as kwmjs makes them, draws no error either', async () => {
    const group = 'group/public/k4';
    const alice = await open('alice');
    const hash = await joined(alice, group);
    const tokens = await guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: group,
      name: 'Gus',
    });
    const gus = await RtmClient.open(server.localUrl, tokens.accessToken);
    await joined(gus, group);
    alice.received.length = 0;
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: tokens.id,
      group,
      channel: `@${group}`,
      hash,
      state: group,
      initiator: false,
      transaction: '',
      v: webrtcVersion,
      data: { accept: true, state: group },
    });
    await sleep(300);
    assert.deepEqual(errors(alice), []);
    assert.equal(
      gus.received.filter((m) => m.type === 'webrtc' && m.subtype === 'webrtc_call').length,
      0,
    );
    await Promise.all([alice.close(), gus.close()]);
  });

  test('kwmjs recovering its pipeline connection (a new pcid, {renegotiate, noop}) gets a new session; its answer on the new one asks for nothing more', async () => {
    bridge.received.length = 0;
    const group = 'group/k5';
    const alice = await open('alice');
    const hash = await joined(alice, group);
    const first = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    const signal = (pcid: string, data: unknown) =>
      alice.send({
        type: 'webrtc',
        subtype: 'webrtc_signal',
        target: pipelinePeerId,
        group,
        channel: `@${group}`,
        hash,
        state: '0a0b0c0d0e0f',
        pcid,
        v: webrtcVersion,
        data,
      });
    signal('aaaaaaa', { type: 'answer', sdp: 'v=0 answer' });
    await bridge.next((m) => m.type === 'answer' && m.endpoint === first.endpoint);
    // kwmjs's recover(): a new pc, a new pcid, and a request for an offer.
    signal('bbbbbbb', { renegotiate: true, noop: true });
    await bridge.next((m) => m.type === 'release' && m.endpoint === first.endpoint);
    const renewed = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    bridge.send({ type: 'offer', ...pick(renewed), sdp: 'v=0 fresh', streams: {} });
    const offer = (await alice.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal(offer.pcid, renewed.endpoint);
    // kwmjs takes the new pcid as a new connection again (another pcid of its own): that is the
    // new session's, not another recovery. A late candidate of the old pc is dropped.
    signal('bbbbbbb', {
      candidate: { candidate: 'candidate:1 1 UDP 1 127.0.0.1 9 typ host', sdpMid: 'a' },
    });
    signal('ccccccc', { type: 'answer', sdp: 'v=0 answer again' });
    await bridge.next((m) => m.type === 'answer' && m.endpoint === renewed.endpoint);
    await sleep(200);
    assert.equal(
      bridge.received.filter((m) => m.type === 'allocate').length,
      0,
      'no third session',
    );
    assert.equal(bridge.received.filter((m) => m.type === 'candidate').length, 0, 'stale dropped');
    assert.deepEqual(errors(alice), []);
    await alice.close();
  });
});

describe('kwmjs reconnecting in a group room', () => {
  test('its refreshGroup (the group again, with its hash, no session) within the grace carries the session on', async () => {
    const { server, users } = await startSignaling(
      'conference_empty_timeout: 0\ncall_reconnect_grace: 30\n',
    );
    const bridge = await FakeBridge.forServer(server);
    try {
      const open = () => RtmClient.open(server.localUrl, users.alice?.token as string);
      const first = await open();
      const group = 'group/k6';
      const hash = await joined(first, group);
      const alloc = await bridge.next<'allocate'>((m) => m.type === 'allocate');
      await first.close();
      const again = await open();
      again.send({
        type: 'webrtc',
        subtype: 'webrtc_group',
        target: group,
        group,
        channel: '',
        hash,
        state: 'fresh0state1',
        initiator: false,
        transaction: '',
        v: webrtcVersion,
      });
      const reply = (await again.next(
        (m) => m.type === 'webrtc' && m.subtype === 'webrtc_channel',
      )) as LooseWebrtcFrame;
      assert.equal(reply.hash, hash);
      await sleep(300);
      assert.equal(
        bridge.received.filter((m) => m.type === 'release' || m.type === 'allocate').length,
        0,
        `the session ${alloc.endpoint} goes on`,
      );
      await again.close();
    } finally {
      await bridge.close();
      await server.close();
    }
  });
});
