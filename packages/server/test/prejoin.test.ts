import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pipelinePeerId } from '@confab/protocol';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import {
  channelOf,
  FakeBridge,
  isError,
  join,
  participants,
  pick,
  pipelineSignal,
} from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

type Prejoined = { prejoined: { session: string } | null };
const prejoinedOf = (group: string) => (m: Parameters<ReturnType<typeof channelOf>>[0]) =>
  channelOf(group)(m) && (m.data as Partial<Prejoined> | undefined)?.prejoined !== undefined;

/** `webrtc_group` with `data.prejoin`: the landing page's session ahead of "Join call". */
async function prejoin(
  client: RtmClient,
  group: string,
): Promise<{ id: number; session: string; hash: string }> {
  const id = join(client, group, { prejoin: true });
  const reply = (await client.next(prejoinedOf(group))) as LooseWebrtcFrame;
  assert.equal(reply.reply_to, id);
  const data = reply.data as Prejoined;
  assert.ok(data.prejoined, 'a session');
  return { id, session: data.prejoined.session, hash: reply.hash as string };
}

describe('prejoin: a session on the bridge ahead of the join, nobody told, nothing forwarded', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  before(async () => {
    ({ server, users } = await startSignaling(
      'conference_empty_timeout: 0\nmax_participants: 3\ncall_reconnect_grace: 0\nprejoin_timeout: 2\n',
    ));
    bridge = await FakeBridge.forServer(server);
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);

  test('the prejoin gets a held endpoint and its offer, its answer reaches the bridge, nobody hears of it; the join that names it is admitted on that endpoint', async () => {
    const alice = await open('alice');
    join(alice, 'group/pre', { p2p: true });
    await alice.next(channelOf('group/pre'));
    const aliceAlloc = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    assert.equal(aliceAlloc.held, undefined);

    const bob = await open('bob');
    const pre = await prejoin(bob, 'group/pre');
    const held = await bridge.next<'allocate'>((m) => m.type === 'allocate');
    assert.deepEqual(
      { ...held },
      {
        type: 'allocate',
        conference: aliceAlloc.conference,
        endpoint: pre.session,
        user: users.bob?.id,
        held: true,
      },
    );
    // The bridge's offer for it reaches Bob as any member's would.
    bridge.send({ type: 'offer', ...pick(held), sdp: 'v=0 held offer', streams: {} });
    const offer = (await bob.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal',
    )) as LooseWebrtcFrame;
    assert.equal(offer.source, pipelinePeerId);
    assert.deepEqual(offer.data, {
      type: 'offer',
      sdp: 'v=0 held offer',
      streams: {},
      session: pre.session,
    });
    pipelineSignal(bob, 'group/pre', pre.hash, { type: 'answer', sdp: 'v=0 held answer' });
    assert.deepEqual(
      { ...(await bridge.next<'answer'>((m) => m.type === 'answer')) },
      { type: 'answer', ...pick(held), sdp: 'v=0 held answer' },
    );
    pipelineSignal(bob, 'group/pre', pre.hash, {
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: 'a' },
    });
    assert.equal(
      (await bridge.next<'candidate'>((m) => m.type === 'candidate')).endpoint,
      held.endpoint,
    );
    // A client that could not take the offer asks again, as a member may.
    pipelineSignal(bob, 'group/pre', pre.hash, { renegotiate: true });
    assert.deepEqual(
      { ...(await bridge.next<'renegotiate'>((m) => m.type === 'renegotiate')) },
      { type: 'renegotiate', ...pick(held) },
    );
    // Anything else a member could do is refused before the join, as is a wrong hash.
    for (const data of [{ screenshare: { mid: 's' } }, { mute: { user: users.alice?.id } }]) {
      pipelineSignal(bob, 'group/pre', pre.hash, data);
      await bob.next(isError('access_restricted'));
    }
    pipelineSignal(bob, 'group/pre', 'forged', { type: 'answer', sdp: 'v=0' });
    await bob.next(isError('access_restricted'));
    // Nobody was told of Bob: Alice's next news is his join, not his prejoin.
    assert.ok(await alice.nothing(channelOf('group/pre')));

    join(bob, 'group/pre', { p2p: true, session: pre.session });
    const welcome = (await bob.next(
      (m) => channelOf('group/pre')(m) && m.hash !== undefined && 'group' in (m.data as object),
    )) as LooseWebrtcFrame;
    assert.deepEqual(
      participants(welcome).map((p) => p.id),
      [users.alice?.id, users.bob?.id],
    );
    const admit = await bridge.next<'admit'>((m) => m.type === 'admit');
    assert.deepEqual({ ...admit }, { type: 'admit', ...pick(held) });
    const news = (await alice.next(
      (m) => channelOf('group/pre')(m) && 'group' in (m.data as object),
    )) as LooseWebrtcFrame;
    assert.equal(participants(news).length, 2);
    // The member's session is the prejoin's: its signals reach the same endpoint, and it
    // was not allocated again.
    pipelineSignal(bob, 'group/pre', welcome.hash as string, { type: 'answer', sdp: 'v=0 again' });
    assert.equal((await bridge.next<'answer'>((m) => m.type === 'answer')).endpoint, held.endpoint);
    assert.equal(bridge.received.filter((m) => m.type === 'allocate').length, 0);
    await Promise.all([alice.close(), bob.close()]);
    await bridge.next((m) => m.type === 'expire' || m.type === 'release');
    bridge.received.length = 0;
  });

  test('a prejoin ends, its endpoint released, when its client hangs up, prejoins again, goes away, joins without naming it, or waits past prejoin_timeout', async () => {
    const alice = await open('alice');
    join(alice, 'group/ends');
    await alice.next(channelOf('group/ends'));
    await bridge.next<'allocate'>((m) => m.type === 'allocate');
    const released = (endpoint: string) =>
      bridge.next<'release'>((m) => m.type === 'release' && m.endpoint === endpoint);

    const carol = await open('carol');
    let pre = await prejoin(carol, 'group/ends');
    carol.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: 'group/ends',
      group: 'group/ends',
      data: {},
    });
    await released(pre.session);

    // A second prejoin from the same connection replaces the first.
    pre = await prejoin(carol, 'group/ends');
    const second = await prejoin(carol, 'group/ends');
    await released(pre.session);

    // A join that does not name it gets a new endpoint; the prejoin's goes.
    join(carol, 'group/ends');
    await released(second.session);
    const fresh = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.carol?.id && m.held !== true,
    );
    assert.notEqual(fresh.endpoint, second.session);
    assert.equal(fresh.held, undefined);
    carol.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: 'group/ends',
      group: 'group/ends',
      data: {},
    });
    await released(fresh.endpoint);

    pre = await prejoin(carol, 'group/ends');
    await carol.close();
    await released(pre.session);

    // Left on the landing page past prejoin_timeout (2 s here): it ends, and the client is told.
    const bob = await open('bob');
    pre = await prejoin(bob, 'group/ends');
    const ended = (await bob.next(prejoinedOf('group/ends'), 4000)) as LooseWebrtcFrame;
    assert.deepEqual(ended.data, { prejoined: null });
    await released(pre.session);
    // A join naming the ended session is an ordinary one.
    join(bob, 'group/ends', { session: pre.session });
    const alloc = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id && m.held !== true,
    );
    assert.notEqual(alloc.endpoint, pre.session);
    await Promise.all([alice.close(), bob.close()]);
    await bridge.next((m) => m.type === 'expire');
    bridge.received.length = 0;
  });

  test('a prejoin whose bridge connection fails ends; a full room, one of too many prejoins and a prejoin into a conference one is in are refused', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    const carol = await open('carol');
    const pre = await prejoin(alice, 'group/fails');
    const held = await bridge.next<'allocate'>((m) => m.type === 'allocate' && m.held === true);
    bridge.send({ type: 'endpoint_state', ...pick(held), state: 'failed' });
    assert.deepEqual(((await alice.next(prejoinedOf('group/fails'))) as LooseWebrtcFrame).data, {
      prejoined: null,
    });
    await bridge.next((m) => m.type === 'release' && m.endpoint === pre.session);
    // A conference made only for prejoins ends with the last of them.
    const expired = await bridge.next<'expire'>((m) => m.type === 'expire');
    assert.equal(expired.conference, held.conference);

    // max_participants (3) prejoins per conference at most.
    join(alice, 'group/fails');
    await alice.next(channelOf('group/fails'));
    const tabs = await Promise.all([open('bob'), open('carol'), open('bob')]);
    for (const tab of tabs) await prejoin(tab, 'group/fails');
    const more = await open('carol');
    join(more, 'group/fails', { prejoin: true });
    await more.next(isError('conference_full'));
    join(alice, 'group/fails', { prejoin: true });
    await alice.next(isError('bad_message'));
    for (const tab of tabs) await tab.close();
    // A full room: no prejoin either.
    join(bob, 'group/fails');
    join(carol, 'group/fails');
    await carol.next(channelOf('group/fails'));
    join(more, 'group/fails', { prejoin: true });
    await more.next(isError('conference_full'));
    await Promise.all([alice.close(), bob.close(), carol.close(), more.close()]);
    bridge.received.length = 0;
  });
});

test('prejoin_timeout: 0 turns prejoins off', async () => {
  const { server, users } = await startSignaling('prejoin_timeout: 0\n');
  const bridge = await FakeBridge.forServer(server);
  try {
    const alice = await RtmClient.open(server.localUrl, users.alice?.token as string);
    join(alice, 'group/off', { prejoin: true });
    await alice.next(isError('create_restricted'));
    // The ordinary join still works.
    join(alice, 'group/off');
    await alice.next(channelOf('group/off'));
    await alice.close();
  } finally {
    await bridge.close();
    await server.close();
  }
});

test('a started conference that empties ends at its empty timeout with its prejoins (told, so they ask again into a new one); a join refused ends its prejoin', async () => {
  // prejoin_timeout at its default (300 s): nothing here ends by expiry.
  const { server, users } = await startSignaling(
    'conference_empty_timeout: 0\ncall_reconnect_grace: 0\n',
  );
  const bridge = await FakeBridge.forServer(server);
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);
  try {
    const alice = await open('alice');
    join(alice, 'group/empties');
    await alice.next(channelOf('group/empties'));
    const first = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.alice?.id,
    );
    const bob = await open('bob');
    await prejoin(bob, 'group/empties');
    await alice.close();
    assert.deepEqual(((await bob.next(prejoinedOf('group/empties'))) as LooseWebrtcFrame).data, {
      prejoined: null,
    });
    await bridge.next((m) => m.type === 'expire' && m.conference === first.conference);
    // Asked again, the prejoin is in a conference of its own.
    const renewed = await prejoin(bob, 'group/empties');
    const again = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.endpoint === renewed.session,
    );
    assert.notEqual(again.conference, first.conference);
    await bob.close();
    await bridge.next((m) => m.type === 'expire');

    // A join refused (here: the connection is in as many conferences as it may, 4) ends the
    // prejoin it named.
    const late = await open('bob');
    for (const room of ['group/c1', 'group/c2', 'group/c3', 'group/c4']) {
      join(late, room);
      await late.next(channelOf(room));
    }
    const pre = await prejoin(late, 'group/fills');
    join(late, 'group/fills', { session: pre.session });
    await late.next(isError('too_many_conferences'));
    await bridge.next((m) => m.type === 'release' && m.endpoint === pre.session);
    await late.close();
  } finally {
    await bridge.close();
    await server.close();
  }
});
