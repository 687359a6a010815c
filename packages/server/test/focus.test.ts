import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bridgeControlPath, type FocusMessage, pipelinePeerId } from '@confab/protocol';
import WebSocket from 'ws';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import {
  channelOf,
  FakeBridge,
  isError,
  join,
  joined,
  participants,
  pick,
  pipelineSignal,
} from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

describe('the focus: group conferences over RTM and the bridge control protocol', () => {
  let server: TestServer;
  let users: Users;
  let secret: string;
  let bridge: FakeBridge;
  before(async () => {
    ({ server, users } = await startSignaling(
      'conference_empty_timeout: 0\nmax_participants: 2\ncall_reconnect_grace: 0\n',
    ));
    secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    bridge = await FakeBridge.connect(server.localUrl, secret);
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);

  test('a bridge with a wrong or missing secret is refused with 401', async () => {
    for (const headers of [{ authorization: 'Bearer wrong-secret' }, {}]) {
      const ws = new WebSocket(new URL(bridgeControlPath, server.localUrl.replace(/^http/, 'ws')), {
        headers,
      });
      const status = await new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => resolve(101));
      });
      assert.equal(status, 401);
    }
  });

  test('a bridge that sends a malformed or out-of-order frame is closed with 1008 bad_message; the focus goes on', async () => {
    for (const frame of [
      'not json',
      JSON.stringify({ type: 'load', conferences: 1 }),
      JSON.stringify({
        type: 'load',
        conferences: 0,
        endpoints: 0,
        forwardedPackets: 0,
        forwardedBytes: 0,
        retransmittedPackets: 0,
      }),
    ]) {
      const ws = new WebSocket(new URL(bridgeControlPath, server.localUrl.replace(/^http/, 'ws')), {
        headers: { authorization: `Bearer ${secret}` },
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(frame);
      const [code, reason] = await new Promise<[number, string]>((r) =>
        ws.once('close', (c, why) => r([c, String(why)])),
      );
      assert.equal(code, 1008);
      assert.match(reason, /^bad_message/);
    }
    assert.equal((await fetch(`${server.localUrl}/health-check`)).status, 200);
  });

  test('join: the joiner gets the channel with members, participants and the pipeline; the bridge is asked for an endpoint; offers and answers are relayed', async () => {
    const alice = await open('alice');
    const id = join(alice, 'group/relay');
    const channel = (await alice.next(channelOf('group/relay'))) as LooseWebrtcFrame;
    assert.equal(channel.reply_to, id);
    assert.equal(channel.channel, '@group/relay');
    const data = channel.data as {
      group: { members: string[]; reset: boolean };
      pipeline: unknown;
    };
    assert.deepEqual(data.group.members, [users.alice?.id]);
    assert.equal(data.group.reset, true);
    assert.deepEqual(data.pipeline, { pipeline: pipelinePeerId, mode: 'mcu-forward' });
    assert.deepEqual(participants(channel), [
      { id: users.alice?.id, name: 'Alice Liddell', owner: true, guest: false, muted: false },
    ]);

    const alloc = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    assert.equal(alloc.user, users.alice?.id);
    bridge.send({
      type: 'offer',
      conference: alloc.conference,
      endpoint: alloc.endpoint,
      sdp: 'v=0 fake offer',
      streams: {},
    });
    const offer = (await alice.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal(offer.source, pipelinePeerId);
    assert.equal(offer.hash, channel.hash);
    assert.deepEqual(offer.data, {
      type: 'offer',
      sdp: 'v=0 fake offer',
      streams: {},
      session: alloc.endpoint,
    });

    const signal = (data: unknown, fields: Record<string, unknown> = {}) =>
      alice.send({
        type: 'webrtc',
        subtype: 'webrtc_signal',
        target: pipelinePeerId,
        group: 'group/relay',
        channel: '@group/relay',
        hash: channel.hash,
        data,
        ...fields,
      });
    signal({ type: 'answer', sdp: 'v=0 fake answer' });
    const answer = await bridge.next<'answer'>((m) => m.type === 'answer');
    assert.deepEqual(answer, {
      type: 'answer',
      conference: alloc.conference,
      endpoint: alloc.endpoint,
      sdp: 'v=0 fake answer',
    });
    signal({
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: 'a' },
    });
    assert.equal((await bridge.next<'candidate'>((m) => m.type === 'candidate')).mid, 'a');
    // The bridge's own candidate (it sends them once the answer is in) reaches the member.
    bridge.send({
      type: 'candidate',
      conference: alloc.conference,
      endpoint: alloc.endpoint,
      candidate: 'candidate:1 1 UDP 2122317823 127.0.0.1 10000 typ host',
      mid: 'a',
    });
    const bridgeCandidate = (await alice.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal(bridgeCandidate.source, pipelinePeerId);
    assert.deepEqual(bridgeCandidate.data, {
      candidate: {
        candidate: 'candidate:1 1 UDP 2122317823 127.0.0.1 10000 typ host',
        sdpMid: 'a',
      },
      session: alloc.endpoint,
    });
    signal({ screenshare: { mid: 's' } });
    assert.equal((await bridge.next<'screenshare'>((m) => m.type === 'screenshare')).active, true);

    // Wrong hash, wrong target, malformed data, a member calling another member.
    const badHash = signal({ type: 'answer', sdp: 'x' }, { hash: 'forged' });
    assert.equal((await alice.next(isError('access_restricted'))).type, 'error');
    signal({ type: 'answer', sdp: 'x' }, { target: users.bob?.id });
    await alice.next(isError('access_restricted'));
    const bad = signal({ type: 'offer', sdp: 'x', extra: 1 });
    const err = await alice.next(isError('bad_message'));
    assert.equal(err.type === 'error' && err.reply_to, bad);
    assert.ok(badHash < bad);

    // Leaving releases the endpoint; the last one out ends the conference (timeout 0).
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: 'group/relay',
      group: 'group/relay',
      channel: '@group/relay',
    });
    await bridge.next((m) => m.type === 'release' && m.endpoint === alloc.endpoint);
    await bridge.next((m) => m.type === 'expire' && m.conference === alloc.conference);
    await alice.close();
  });

  test('bad group names, foreign groups and full conferences are refused with stable error codes', async () => {
    const alice = await open('alice');
    for (const group of [
      'group/Upper',
      'group/',
      'room/x',
      `group/${'a'.repeat(65)}`,
      'group/a//b',
    ]) {
      join(alice, group);
      await alice.next(isError('bad_message'));
    }
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_signal',
      target: pipelinePeerId,
      group: 'group/nobody',
      channel: '@group/nobody',
      data: { noop: true },
    });
    await alice.next(isError('access_restricted'));

    const bob = await open('bob');
    const carol = await open('carol');
    join(alice, 'group/full');
    join(bob, 'group/full');
    await bob.next(channelOf('group/full'));
    join(carol, 'group/full');
    // A stable code of its own: clients tell a full conference by it, never by the text.
    await carol.next(isError('conference_full'));
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  test('members hear joins and leaves; when the owner leaves, the registered member present longest owns it; a second tab replaces the first', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    join(alice, 'group/own');
    await alice.next(channelOf('group/own'));
    join(bob, 'group/own');
    await bob.next(channelOf('group/own'));
    const update = (await alice.next(
      (m) =>
        channelOf('group/own')(m) &&
        (m.data as { group?: { reset: boolean } }).group?.reset === false,
    )) as LooseWebrtcFrame;
    assert.deepEqual(
      participants(update).map((p) => [p.name, p.owner]),
      [
        ['Alice Liddell', true],
        ['Bob Builder', false],
      ],
    );

    // Bob opens the group in a second tab: the first hears it was replaced.
    const bob2 = await open('bob');
    join(bob2, 'group/own');
    await bob2.next(channelOf('group/own'));
    const replaced = (await bob.next(
      (m) => channelOf('group/own')(m) && (m.data as { replaced?: boolean }).replaced === true,
    )) as LooseWebrtcFrame;
    assert.equal(replaced.channel, '@group/own');

    // Alice's connection drops (no reconnect grace here): she leaves, and Bob owns the
    // conference.
    await alice.close();
    const after = (await bob2.next(
      (m) => channelOf('group/own')(m) && participants(m as LooseWebrtcFrame).length === 1,
    )) as LooseWebrtcFrame;
    assert.deepEqual(
      participants(after).map((p) => [p.name, p.owner]),
      [['Bob Builder', true]],
    );
    await Promise.all([bob.close(), bob2.close()]);
  });

  test('a member whose signaling drops stays for the grace and carries on with the same session; an offer it missed comes again; a fresh page gets a new one', async (t) => {
    // A server of its own, with a reconnect grace of 1 s.
    const { server, users } = await startSignaling(
      'conference_empty_timeout: 0\ncall_reconnect_grace: 1\n',
    );
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    const bridge = await FakeBridge.connect(server.localUrl, secret);
    t.after(async () => {
      await bridge.close();
      await server.close();
    });
    const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);
    const alice = await open('alice');
    const bob = await open('bob');
    await joined(alice, 'group/away');
    const first = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    const join1 = join(bob, 'group/away');
    await bob.next(channelOf('group/away'));
    const bobs = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );

    // Alice's signaling drops; the bridge re-offers meanwhile (Bob's streams came).
    await alice.close();
    await new Promise((r) => setTimeout(r, 200));
    bridge.send({ ...pick(first), type: 'offer', sdp: 'v=0 missed', streams: {} });
    const alice2 = await open('alice');
    const id = alice2.send({
      type: 'webrtc',
      subtype: 'webrtc_group',
      target: 'group/away',
      group: 'group/away',
      state: 's2',
      data: { session: first.endpoint },
    });
    const back = (await alice2.next(channelOf('group/away'))) as LooseWebrtcFrame;
    assert.equal(back.reply_to, id);
    assert.deepEqual(
      participants(back).map((p) => [p.name, p.owner]),
      [
        ['Alice Liddell', true],
        ['Bob Builder', false],
      ],
      'she is still there, still the owner',
    );
    const again = (await alice2.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.deepEqual(again.data, {
      type: 'offer',
      sdp: 'v=0 missed',
      streams: {},
      session: first.endpoint,
    });
    // Her answer reaches the bridge for the same endpoint: nothing was released or allocated.
    pipelineSignal(alice2, 'group/away', back.hash as string, { type: 'answer', sdp: 'v=0 a' });
    const answer = await bridge.next<'answer'>((m) => m.type === 'answer');
    assert.equal(answer.endpoint, first.endpoint);
    assert.equal(
      bridge.received.filter(
        (m) =>
          (m.type === 'release' || m.type === 'allocate') &&
          'endpoint' in m &&
          m.endpoint === first.endpoint,
      ).length,
      0,
    );
    // Bob heard neither a leave nor a join.
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(
      bob.received.filter(
        (m) =>
          channelOf('group/away')(m) &&
          m.reply_to !== join1 &&
          (m.data as { group?: unknown }).group !== undefined &&
          participants(m).length !== 2,
      ).length,
      0,
    );

    // Bob's drops, and a fresh page of his joins without a session: a new endpoint.
    await bob.close();
    const bob2 = await open('bob');
    join(bob2, 'group/away');
    await bob2.next(channelOf('group/away'));
    const fresh = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );
    await bridge.next<'release'>((m) => m.type === 'release' && m.endpoint === bobs.endpoint);

    // Alice drops and stays away: after the grace she leaves, and Bob hears it.
    await alice2.close();
    const left = (await bob2.next(
      (m) => channelOf('group/away')(m) && participants(m as LooseWebrtcFrame).length === 1,
      5000,
    )) as LooseWebrtcFrame;
    assert.deepEqual(
      participants(left).map((p) => p.name),
      ['Bob Builder'],
    );
    const released = await bridge.next<'release'>(
      (m) => m.type === 'release' && m.endpoint === first.endpoint,
    );
    assert.equal(released.endpoint, first.endpoint);
    assert.notEqual(fresh.endpoint, first.endpoint);
    await bob2.close();
  });

  test('/metrics counts conferences, participants and the packets bridges report', async () => {
    bridge.send({
      type: 'load',
      conferences: 0,
      endpoints: 0,
      forwardedPackets: 1234,
      forwardedBytes: 99_000,
      retransmittedPackets: 7,
    });
    const alice = await open('alice');
    join(alice, 'group/metrics');
    await alice.next(channelOf('group/metrics'));
    const text = await (await fetch(`${server.localUrl}/metrics`)).text();
    assert.match(text, /^confab_bridge_forwarded_packets_total\{bridge="fake-1"\} 1234$/m);
    assert.match(text, /^confab_bridge_forwarded_bytes_total\{bridge="fake-1"\} 99000$/m);
    assert.match(text, /^confab_bridge_retransmitted_packets_total\{bridge="fake-1"\} 7$/m);
    assert.match(text, /^confab_conferences 1$/m);
    assert.match(text, /^confab_conference_participants 1$/m);
    assert.match(text, /^confab_bridges 1$/m);
    await alice.close();
  });

  test('owner powers: only the owner mutes (the bridge drops the audio, the target is told) and removes; the muted one unmutes itself', async () => {
    const group = 'group/powers';
    bridge.received.length = 0; // what earlier tests left unread
    const alice = await open('alice');
    const aliceHash = await joined(alice, group);
    const a = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    const bob = await open('bob');
    const bobHash = await joined(bob, group);
    const b = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );

    // Bob is not the owner: refused, and nothing reaches the bridge.
    const refused = pipelineSignal(bob, group, bobHash, { mute: { user: users.alice?.id } });
    const err = await bob.next(isError('access_restricted'));
    assert.equal(err.type === 'error' && err.reply_to, refused);
    assert.match(err.type === 'error' ? err.error.msg : '', /only the owner/);
    // Unknown participants and malformed orders.
    pipelineSignal(alice, group, aliceHash, { mute: { user: 'nobody' } });
    await alice.next(isError('bad_message'));
    pipelineSignal(alice, group, aliceHash, { mute: { user: 42 } });
    await alice.next(isError('bad_message'));
    pipelineSignal(alice, group, aliceHash, { remove: { user: users.alice?.id } });
    await alice.next(isError('bad_message'));

    pipelineSignal(alice, group, aliceHash, { mute: { user: users.bob?.id } });
    const mute = await bridge.next<'mute'>((m) => m.type === 'mute');
    assert.deepEqual(mute, {
      type: 'mute',
      conference: b.conference,
      endpoint: b.endpoint,
      muted: true,
    });
    const told = (await bob.next(
      (m) => channelOf(group)(m) && (m.data as { muted?: unknown }).muted !== undefined,
    )) as LooseWebrtcFrame;
    assert.deepEqual((told.data as { muted: unknown }).muted, {
      by: users.alice?.id,
      name: 'Alice Liddell',
    });
    const list = (await alice.next(
      (m) =>
        channelOf(group)(m) &&
        (m.data as { group?: unknown }).group !== undefined &&
        participants(m).some((p) => (p as { muted?: boolean }).muted),
    )) as LooseWebrtcFrame;
    assert.deepEqual(
      participants(list).map((p) => [p.name, (p as { muted?: boolean }).muted]),
      [
        ['Alice Liddell', false],
        ['Bob Builder', true],
      ],
    );

    pipelineSignal(bob, group, bobHash, { unmute: true });
    const unmute = await bridge.next<'mute'>((m) => m.type === 'mute');
    assert.equal(unmute.muted, false);
    assert.equal(unmute.endpoint, b.endpoint);

    // Remove: Bob is told who did it, leaves, and his endpoint is released.
    pipelineSignal(alice, group, aliceHash, { remove: { user: users.bob?.id } });
    const removed = (await bob.next(
      (m) => channelOf(group)(m) && (m.data as { removed?: unknown }).removed !== undefined,
    )) as LooseWebrtcFrame;
    assert.equal((removed.data as { removed: { name: string } }).removed.name, 'Alice Liddell');
    await bridge.next<'release'>((m) => m.type === 'release' && m.endpoint === b.endpoint);
    await alice.next(
      (m) => channelOf(group)(m) && participants(m as LooseWebrtcFrame)?.length === 1,
    );
    // He may come back.
    await joined(bob, group);
    await bridge.next<'allocate'>((m) => m.type === 'allocate' && m.user === users.bob?.id);
    assert.ok(a.endpoint);
    await Promise.all([alice.close(), bob.close()]);
  });

  test('the bridge names the dominant speaker: every member is told, and a late joiner hears it at once', async () => {
    const group = 'group/speaker';
    bridge.received.length = 0; // what earlier tests left unread
    const alice = await open('alice');
    await joined(alice, group);
    const a = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    bridge.send({ type: 'speaker', conference: a.conference, endpoint: a.endpoint });
    const said = (await alice.next(
      (m) => channelOf(group)(m) && (m.data as { speaker?: string }).speaker !== undefined,
    )) as LooseWebrtcFrame;
    assert.equal((said.data as { speaker: string }).speaker, users.alice?.id);
    const bob = await open('bob');
    join(bob, group);
    const late = (await bob.next(
      (m) => channelOf(group)(m) && (m.data as { speaker?: string }).speaker !== undefined,
    )) as LooseWebrtcFrame;
    assert.equal((late.data as { speaker: string }).speaker, users.alice?.id);
    // A speaker event for an endpoint the bridge does not serve is ignored.
    bridge.send({ type: 'speaker', conference: 'nope', endpoint: a.endpoint });
    await Promise.all([alice.close(), bob.close()]);
    await bridge.next((m) => m.type === 'expire');
  });

  test('an endpoint whose connection failed is replaced by a new one (a new session for the client), at most three times a minute', async () => {
    const group = 'group/restart';
    bridge.received.length = 0; // what earlier tests left unread
    const alice = await open('alice');
    await joined(alice, group);
    let current = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    // Connecting and connected change nothing.
    bridge.send({ type: 'endpoint_state', ...pick(current), state: 'connected' });
    for (let i = 0; i < 3; i++) {
      bridge.send({ type: 'endpoint_state', ...pick(current), state: 'failed' });
      // The closed that follows a failure names the old endpoint: ignored.
      bridge.send({ type: 'endpoint_state', ...pick(current), state: 'closed' });
      const old = current.endpoint;
      await bridge.next((m) => m.type === 'release' && m.endpoint === old);
      const next = await bridge.next<'allocate'>(
        (m) => m.type === 'allocate' && m.conference === current.conference,
      );
      assert.equal(next.user, users.alice?.id);
      assert.notEqual(next.endpoint, current.endpoint);
      current = next;
    }
    bridge.send({
      type: 'offer',
      ...pick(current),
      sdp: 'v=0 restarted',
      streams: {},
    });
    const offer = (await alice.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal((offer.data as { session: string }).session, current.endpoint);
    // A fourth failure within the minute is left alone (no endless loop of endpoints).
    bridge.send({ type: 'endpoint_state', ...pick(current), state: 'failed' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      bridge.received.filter((m) => m.type === 'allocate' && m.conference === current.conference)
        .length,
      0,
    );
    await alice.close();
    await bridge.next((m) => m.type === 'expire');
  });

  test('a lost bridge: its conference waits, then moves onto the next bridge with a new endpoint per member, muted as before', async () => {
    const group = 'group/failover';
    bridge.received.length = 0; // what earlier tests left unread
    const alice = await open('alice');
    const hash = await joined(alice, group);
    const bob = await open('bob');
    await joined(bob, group);
    const first = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );
    pipelineSignal(alice, group, hash, { mute: { user: users.bob?.id } });
    await bridge.next((m) => m.type === 'mute');
    await bridge.close();
    bridge = await FakeBridge.connect(server.localUrl, secret, 'fake-2');
    const moved: FocusMessage[] = [];
    for (let i = 0; i < 3; i++)
      moved.push(await bridge.next((m) => m.type === 'allocate' || m.type === 'mute'));
    const bobAlloc = moved.find((m) => m.type === 'allocate' && m.user === users.bob?.id);
    assert.ok(bobAlloc && bobAlloc.type === 'allocate');
    assert.notEqual(bobAlloc.endpoint, first.endpoint);
    assert.ok(moved.some((m) => m.type === 'allocate' && m.user === users.alice?.id));
    assert.ok(moved.some((m) => m.type === 'mute' && m.endpoint === bobAlloc.endpoint && m.muted));
    // The new bridge's offer reaches the member as a new session.
    bridge.send({
      type: 'offer',
      conference: bobAlloc.conference,
      endpoint: bobAlloc.endpoint,
      sdp: 'v=0 moved',
      streams: {},
    });
    const offer = (await bob.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal((offer.data as { session: string }).session, bobAlloc.endpoint);
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a bridge that stops answering the heartbeat is dropped within 3 s and its conferences move', async () => {
    const group = 'group/silent';
    const second = await FakeBridge.connect(server.localUrl, secret, 'fake-3');
    const alice = await open('alice');
    await joined(alice, group);
    // The least loaded bridge gets it; make whichever got it go silent (no pongs, no frames).
    await new Promise((r) => setTimeout(r, 300));
    const onSecond = second.received.some((m) => m.type === 'allocate');
    second.received.length = 0;
    bridge.received.length = 0;
    const [silent, other] = onSecond ? [second, bridge] : [bridge, second];
    const started = Date.now();
    const socket = (silent.ws as unknown as { _socket: { pause(): void; destroy(): void } })
      ._socket;
    socket.pause();
    const moved = await other.next<'allocate'>((m) => m.type === 'allocate', 6000);
    const noticed = Date.now() - started;
    assert.equal(moved.user, users.alice?.id);
    assert.ok(noticed <= 3500, `moved after ${noticed} ms`);
    socket.destroy();
    bridge = other;
    await alice.close();
  });

  test('with no bridge connected, a new conference is refused with server_error', async () => {
    await bridge.close();
    const alice = await open('alice');
    join(alice, 'group/nobridge');
    const err = await alice.next(isError('server_error'));
    assert.match(err.type === 'error' ? err.error.msg : '', /no media bridge/);
    await alice.close();
    bridge = await FakeBridge.connect(server.localUrl, secret);
  });
});
