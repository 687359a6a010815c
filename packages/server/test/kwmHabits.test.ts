import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  pipelinePeerId,
  type ServerMessage,
  type ServerWebrtcMessage,
  webrtcVersion,
} from '@confab/protocol';
import { RtmClient } from '../../../test/support/rtmClient.js';
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
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    bridge = await FakeBridge.connect(server.localUrl, secret);
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
      )) as ServerWebrtcMessage;
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
    )) as ServerWebrtcMessage;
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

  test('a chats frame gets kwm’s own error with its reply_to, and the connection goes on', async () => {
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
});
