import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { maxSdpLength, type ServerMessage } from '@confab/protocol';
import { guestSignInOverHttp } from '../../../test/support/oidcFlow.js';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const signalTo = (user: string | undefined) => (m: ServerMessage) =>
  m.type === 'webrtc' && m.subtype === 'webrtc_signal' && m.target === user;

/**
 * What one participant may cost the others (issue 19): screen-share loops, bad messages from
 * the bridge about one endpoint, sessions full of m-lines, and joins without end. Each limit
 * costs the one who breaks it, never the bridge or other conferences.
 */
describe('focus limits: one participant cannot break other people’s meetings', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  before(async () => {
    ({ server, users } = await startSignaling(
      [
        'conference_empty_timeout: 0',
        'call_reconnect_grace: 0',
        // Toggles come faster than the focus's own limit, so that it is the one that bites.
        'rtm_message_rate: 2000',
        'max_conferences_per_connection: 2',
        'max_conferences_per_user: 3',
        'group_join_rate: 1000',
        '',
      ].join('\n'),
    ));
    bridge = await FakeBridge.forServer(server);
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);

  test('a thousand screen-share toggles: refused past the limit (guests too), the bridge hears a few, another conference on it hears nothing', async () => {
    const carol = await open('carol');
    await joined(carol, 'group/calm');
    const calm = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    const alice = await open('alice');
    const hash = await joined(alice, 'group/public/loop');
    await bridge.next<'allocate'>((m) => m.type === 'allocate' && m.user === users.alice?.id);
    const guestTokens = await guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: 'group/public/loop',
      name: 'Mallory',
    });
    const guest = await RtmClient.open(server.localUrl, guestTokens.accessToken);
    const guestHash = await joined(guest, 'group/public/loop');
    bridge.received.length = 0;
    carol.received.length = 0;

    for (const [who, h] of [
      [alice, hash],
      [guest, guestHash],
    ] as const) {
      for (let i = 0; i < 500; i++)
        pipelineSignal(who, 'group/public/loop', h, {
          screenshare: i % 2 === 0 ? { mid: 's' } : null,
        });
      const refused = await who.next(isError('rate_limited'));
      assert.match(refused.type === 'error' ? refused.error.msg : '', /screen-share/);
    }
    // Let every toggle arrive; then count what reached the bridge.
    await sleep(500);
    const toggles = bridge.received.filter((m) => m.type === 'screenshare');
    assert.ok(toggles.length >= 20, `${toggles.length} toggles reached the bridge`);
    assert.ok(
      toggles.length <= 24,
      `${toggles.length} toggles reached the bridge (10 each at once)`,
    );
    assert.equal(bridge.ws.readyState, bridge.ws.OPEN, 'the bridge link stays up');
    assert.equal(
      carol.received.length,
      0,
      `the other conference heard nothing: ${JSON.stringify(carol.received)}`,
    );
    // Carol's conference goes on: the bridge's offers still reach her.
    bridge.send({ type: 'offer', ...pick(calm), sdp: 'v=0 still here', streams: {} });
    await carol.next(signalTo(users.carol?.id));
    await Promise.all([alice.close(), guest.close(), carol.close()]);
    await bridge.next((m) => m.type === 'expire');
    await bridge.next((m) => m.type === 'expire');
  });

  test('an offer from the bridge over the limit costs that one endpoint: released, its client told media_failed and given a new session; the bridge and another conference go on', async () => {
    bridge.received.length = 0;
    const carol = await open('carol');
    await joined(carol, 'group/calm2');
    const calm = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    const bob = await open('bob');
    await joined(bob, 'group/big');
    const big = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    carol.received.length = 0;

    bridge.send({
      type: 'offer',
      ...pick(big),
      sdp: `v=0 ${'a'.repeat(maxSdpLength)}`,
      streams: {},
    });
    await bridge.next((m) => m.type === 'release' && m.endpoint === big.endpoint);
    const renewed = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );
    assert.notEqual(renewed.endpoint, big.endpoint);
    const told = (await bob.next(
      (m) => channelOf('group/big')(m) && !!(m.data as { restarted?: unknown })?.restarted,
    )) as LooseWebrtcFrame;
    assert.deepEqual(told.data, { restarted: { code: 'media_failed' } });
    // Nothing of the oversized offer reached Bob, and the new session's offer does.
    assert.equal(bob.received.filter(signalTo(users.bob?.id)).length, 0);
    bridge.send({ type: 'offer', ...pick(renewed), sdp: 'v=0 fresh', streams: {} });
    const offer = (await bob.next(signalTo(users.bob?.id))) as LooseWebrtcFrame;
    assert.equal((offer.data as { session: string }).session, renewed.endpoint);

    assert.equal(bridge.ws.readyState, bridge.ws.OPEN, 'the bridge link stays up');
    bridge.send({ type: 'offer', ...pick(calm), sdp: 'v=0 calm', streams: {} });
    await carol.next(signalTo(users.carol?.id));
    assert.equal(carol.received.filter((m) => m.type === 'error').length, 0);
    assert.equal(bob.received.filter((m) => m.type === 'error').length, 0, 'no error frame');
    await Promise.all([bob.close(), carol.close()]);
    await bridge.next((m) => m.type === 'expire');
    await bridge.next((m) => m.type === 'expire');
  });

  test('a session the bridge says is full of freed m-lines is replaced by a new one', async () => {
    bridge.received.length = 0;
    const bob = await open('bob');
    await joined(bob, 'group/full');
    const first = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    bridge.send({ type: 'endpoint_full', ...pick(first) });
    await bridge.next((m) => m.type === 'release' && m.endpoint === first.endpoint);
    const next = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    assert.equal(next.user, users.bob?.id);
    assert.notEqual(next.endpoint, first.endpoint);
    await bob.close();
    await bridge.next((m) => m.type === 'expire');
  });

  test('joins are limited per connection and per user, with too_many_conferences; leaving makes room', async () => {
    const alice = await open('alice');
    await joined(alice, 'group/j1');
    await joined(alice, 'group/j2');
    join(alice, 'group/j3');
    const perConn = await alice.next(isError('too_many_conferences'));
    assert.match(perConn.type === 'error' ? perConn.error.msg : '', /connection/);
    // Joining a conference it is already in is no new one.
    await joined(alice, 'group/j2');

    const second = await open('alice');
    await joined(second, 'group/j3');
    join(second, 'group/j4');
    const perUser = await second.next(isError('too_many_conferences'));
    assert.match(perUser.type === 'error' ? perUser.error.msg : '', /user/);

    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: 'group/j1',
      group: 'group/j1',
      channel: '@group/j1',
    });
    await sleep(200); // the hangup went on another socket
    await joined(second, 'group/j4');

    await Promise.all([alice.close(), second.close()]);
  });

  test('leaving and joining again does not refill the screen-share budget', async () => {
    const bob = await open('bob');
    const group = 'group/budget';
    let hash = await joined(bob, group);
    for (let i = 0; i < 10; i++)
      pipelineSignal(bob, group, hash, { screenshare: i % 2 === 0 ? { mid: 's' } : null });
    bob.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: group,
      group,
      channel: `@${group}`,
    });
    hash = await joined(bob, group);
    const id = pipelineSignal(bob, group, hash, { screenshare: { mid: 's' } });
    const refused = await bob.next(isError('rate_limited'));
    assert.equal(refused.type === 'error' && refused.reply_to, id);
    await bob.close();
  });

  test('an endpoint the bridge keeps breaking: three new sessions a minute, then the member is taken out and told; the others see it leave', async () => {
    bridge.received.length = 0;
    const carol = await open('carol');
    await joined(carol, 'group/flaky');
    const bob = await open('bob');
    await joined(bob, 'group/flaky');
    let current = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );
    const bad = () =>
      bridge.send({
        type: 'offer',
        ...pick(current),
        sdp: `v=0 ${'a'.repeat(maxSdpLength)}`,
        streams: {},
      });
    for (let i = 0; i < 3; i++) {
      bad();
      await bob.next(
        (m) => channelOf('group/flaky')(m) && !!(m.data as { restarted?: unknown })?.restarted,
      );
      current = await bridge.next<'allocate'>(
        (m) => m.type === 'allocate' && m.user === users.bob?.id,
      );
    }
    bad();
    const out = await bob.next(
      (m) => channelOf('group/flaky')(m) && !!(m.data as { failed?: unknown } | undefined)?.failed,
    );
    assert.deepEqual((out as LooseWebrtcFrame).data, { failed: { code: 'media_failed' } });
    await bridge.next((m) => m.type === 'release' && m.endpoint === current.endpoint);
    await carol.next((m) => channelOf('group/flaky')(m) && participants(m as never).length === 1);
    await Promise.all([bob.close(), carol.close()]);
  });
});

describe('focus limits: joins per minute', () => {
  test('group_join_rate: past it a join is refused with too_many_conferences; a client carrying on its session after a drop is not counted', async () => {
    const { server, users } = await startSignaling(
      'conference_empty_timeout: 0\ncall_reconnect_grace: 30\ngroup_join_rate: 3\n',
    );
    const bridge = await FakeBridge.forServer(server);
    try {
      const open = () => RtmClient.open(server.localUrl, users.alice?.token as string);
      const alice = await open();
      await joined(alice, 'group/r1');
      const alloc = await bridge.next<'allocate'>((m) => m.type === 'allocate');
      await joined(alice, 'group/r2');
      // Her connection drops; she is back within the grace, with her session: no new join.
      await alice.close();
      const again = await open();
      again.send({
        type: 'webrtc',
        subtype: 'webrtc_group',
        target: 'group/r1',
        group: 'group/r1',
        state: 's1',
        data: { session: alloc.endpoint },
      });
      await again.next(channelOf('group/r1'));
      await joined(again, 'group/r3');
      join(again, 'group/r4');
      const tooFast = await again.next(isError('too_many_conferences'));
      assert.match(tooFast.type === 'error' ? tooFast.error.msg : '', /3 group joins a minute/);
      // Prejoins have a budget of their own: the app's spent none of her joins, and her spent
      // joins do not stop them; the fourth in the minute is refused.
      for (const room of ['group/p1', 'group/p2', 'group/p3']) {
        join(again, room, { prejoin: true });
        await again.next(
          (m) => channelOf(room)(m) && !!(m.data as { prejoined?: unknown }).prejoined,
        );
      }
      join(again, 'group/p4', { prejoin: true });
      const prejoinsTooFast = await again.next(isError('too_many_conferences'));
      assert.match(
        prejoinsTooFast.type === 'error' ? prejoinsTooFast.error.msg : '',
        /3 prejoins a minute/,
      );
      await again.close();

      // A join that takes its prejoin on is not counted: Bob's prejoin and three joins fit.
      const bob = await RtmClient.open(server.localUrl, users.bob?.token as string);
      join(bob, 'group/b1', { prejoin: true });
      const pre = (await bob.next(
        (m) => channelOf('group/b1')(m) && !!(m.data as { prejoined?: unknown }).prejoined,
      )) as { data: { prejoined: { session: string } } };
      join(bob, 'group/b1', { session: pre.data.prejoined.session });
      await bob.next((m) => channelOf('group/b1')(m) && !!(m.data as { group?: unknown }).group);
      for (const room of ['group/b2', 'group/b3', 'group/b4']) await joined(bob, room);
      join(bob, 'group/b5');
      const bobTooFast = await bob.next(isError('too_many_conferences'));
      assert.match(
        bobTooFast.type === 'error' ? bobTooFast.error.msg : '',
        /3 group joins a minute/,
      );
      await bob.close();
    } finally {
      await bridge.close();
      await server.close();
    }
  });
});
