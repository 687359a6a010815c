import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import fc from 'fast-check';
import WebSocket from 'ws';
import { freePort } from '../../../test/support/net.js';
import { type LooseWebrtcFrame, RtmClient, rtmConnect } from '../../../test/support/rtmClient.js';
import { startTestServer, type TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

const isWebrtc =
  (subtype: string) =>
  (m: ServerMessage): m is ServerMessage & LooseWebrtcFrame =>
    m.type === 'webrtc' && m.subtype === subtype;
/** A webrtc message in the channel of a call, named by its ring or `webrtc_channel` message. */
function inCall(
  call: LooseWebrtcFrame,
  subtype: 'webrtc_signal' | 'webrtc_hangup',
  target: string | undefined,
  state: string,
  data: unknown,
) {
  return { type: 'webrtc', subtype, target, channel: call.channel, hash: call.hash, state, data };
}
const hangupData = { accept: false, reason: 'hangup' };

const isError = (code: string) => (m: ServerMessage) => m.type === 'error' && m.error.code === code;

describe('rtm/connect and the websocket', () => {
  let server: TestServer;
  let users: Users;
  before(async () => {
    ({ server, users } = await startSignaling());
  });
  after(() => server.close());

  test('answers {ok, url, self} and the socket says hello with the same self', async () => {
    const res = await rtmConnect(server.localUrl, users.alice?.token);
    assert.equal(res.status, 200);
    const body = res.body as {
      ok: boolean;
      url: string;
      self: { id: string; name: string; auth: string };
      turn?: unknown;
    };
    assert.equal(body.ok, true);
    assert.match(body.url, /^\/api\/kwm\/v2\/rtm\/websocket\/[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(body.self, { id: users.alice?.id, name: 'Alice Liddell', auth: '' });
    assert.equal(body.turn, undefined, 'no TURN configured');
    const client = await RtmClient.open(server.localUrl, users.alice?.token as string);
    assert.equal(client.userId, users.alice?.id);
    await client.close();
  });

  test('the name comes from a valid id_token; a foreign or forged one is refused with 403', async () => {
    const ok = await rtmConnect(server.localUrl, users.bob?.token, {
      id_token: users.bob?.idToken as string,
    });
    assert.equal((ok.body as { self: { name: string } }).self.name, 'Bob Builder');
    assert.equal(
      (
        await rtmConnect(server.localUrl, users.bob?.token, {
          id_token: users.alice?.idToken as string,
        })
      ).status,
      403,
    );
    assert.equal(
      (await rtmConnect(server.localUrl, users.bob?.token, { id_token: 'x.y.z' })).status,
      403,
    );
    assert.equal(
      (await rtmConnect(server.localUrl, users.bob?.token, { user: users.alice?.id as string }))
        .status,
      403,
    );
  });

  test('missing, forged, tampered or scope-less tokens get 403 (kwmjs stops reconnecting on it)', async () => {
    const [h, p, s] = String(users.alice?.token).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: users.bob?.id })).toString('base64url')}.${s}`;
    const noScope = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'kopano/gc' })).toString('base64url')}.${s}`;
    for (const token of [
      undefined,
      'garbage',
      tampered,
      noScope,
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`,
    ]) {
      const res = await rtmConnect(server.localUrl, token);
      assert.equal(res.status, 403, String(token).slice(0, 30));
    }
  });

  test('a websocket key works once; reused or unknown keys are refused', async () => {
    const res = await rtmConnect(server.localUrl, users.alice?.token);
    const url = new URL((res.body as { url: string }).url, server.localUrl.replace('http', 'ws'));
    const first = new WebSocket(url);
    await new Promise((resolve) => first.once('message', resolve));
    for (const u of [
      url,
      new URL('/api/kwm/v2/rtm/websocket/not-a-key', url),
      new URL('/api/kwm/v2/other', url),
    ]) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(u);
        ws.once('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0));
        ws.once('open', () => resolve(101));
      });
      assert.ok(status === 403 || status === 404, `${u.pathname}: ${status}`);
    }
    first.close();
  });

  test('ping is answered with pong echoing id and ts', async () => {
    const c = await RtmClient.open(server.localUrl, users.alice?.token as string);
    const id = c.send({ type: 'ping', ts: 1234 });
    assert.deepEqual(await c.next((m) => m.type === 'pong'), { type: 'pong', id, ts: 1234 });
    await c.close();
  });

  test('bad frames get bad_message (with reply_to when the id is known) and the session goes on', async () => {
    const c = await RtmClient.open(server.localUrl, users.alice?.token as string);
    const other = await RtmClient.open(server.localUrl, users.bob?.token as string);
    c.raw('{not json');
    assert.deepEqual(await c.next(isError('bad_message')), {
      type: 'error',
      error: { code: 'bad_message', msg: 'the frame is not valid JSON' },
    });
    c.raw(Buffer.from([1, 2, 3]));
    await c.next(isError('bad_message'));
    c.send({ id: 77, type: 'teleport' });
    assert.equal((await c.next(isError('bad_message'))).type, 'error');
    c.send({
      id: 78,
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: 'x',
      state: 's',
      initiator: true,
      extra: 1,
    });
    const unknownField = (await c.next(isError('bad_message'))) as {
      reply_to?: number;
      error: { msg: string };
    };
    assert.equal(unknownField.reply_to, 78);
    assert.match(unknownField.error.msg, /unknown field extra/);
    c.send({
      id: 79,
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.bob?.id,
      state: 's',
      initiator: true,
      source: 'someone-else',
    });
    assert.equal(((await c.next(isError('bad_message'))) as { reply_to?: number }).reply_to, 79);
    c.send({ id: 80, type: 'webrtc', subtype: 'webrtc_call', target: 42, initiator: true });
    assert.equal(((await c.next(isError('bad_message'))) as { reply_to?: number }).reply_to, 80);
    const id = c.send({ type: 'ping' });
    assert.equal(
      ((await c.next((m) => m.type === 'pong')) as { id: number }).id,
      id,
      'still serving',
    );
    other.send({ type: 'ping' });
    await other.next((m) => m.type === 'pong');
    await c.close();
    await other.close();
  });

  test('a frame over rtm_max_message_size closes that socket with 1009, others go on', async () => {
    const c = await RtmClient.open(server.localUrl, users.alice?.token as string);
    const other = await RtmClient.open(server.localUrl, users.bob?.token as string);
    c.raw(JSON.stringify({ type: 'ping', id: 1, pad: 'x'.repeat(260 * 1024) }));
    assert.equal((await c.closed).code, 1009);
    other.send({ type: 'ping' });
    await other.next((m) => m.type === 'pong');
    await other.close();
  });

  test('server shutdown says goodbye and closes with 1001', async () => {
    const { server: s2, users: u2 } = await startSignaling();
    const c = await RtmClient.open(s2.localUrl, u2.alice?.token as string);
    await s2.close();
    await c.next((m) => m.type === 'goodbye');
    assert.equal((await c.closed).code, 1001);
  });
});

describe('one-to-one calls', () => {
  let server: TestServer;
  let users: Users;
  before(async () => {
    ({ server, users } = await startSignaling('call_timeout: 5\ncall_reconnect_grace: 1\n'));
  });
  after(() => server.close());

  const open = (name: string) => RtmClient.open(server.localUrl, users[name]?.token as string);
  const call = (from: RtmClient, to: string, state = 'st-1') =>
    from.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: to,
      initiator: true,
      state,
      v: 20180703,
    });
  const answer = (c: RtmClient, ring: LooseWebrtcFrame, data: Record<string, unknown>) =>
    c.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: ring.source,
      initiator: false,
      channel: ring.channel,
      hash: ring.hash,
      state: 'st-b',
      data: { state: ring.state, ...data },
      v: 20180703,
    });

  /** Alice calls Bob, who is signed in on two devices; both ring. */
  async function ringTwoDevices() {
    const alice = await open('alice');
    const bob1 = await open('bob');
    const bob2 = await open('bob');
    call(alice, users.bob?.id as string);
    const ring1 = (await bob1.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    const ring2 = (await bob2.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    return { alice, bob1, bob2, ring1, ring2 };
  }

  test('a call rings every device; the first to accept gets the call, the others stop ringing; signals and hangup flow', async () => {
    const alice = await open('alice');
    const bob1 = await open('bob');
    const bob2 = await open('bob');
    const id = call(alice, users.bob?.id as string);
    const channel = (await alice.next(isWebrtc('webrtc_channel'))) as LooseWebrtcFrame;
    assert.equal(channel.reply_to, id);
    assert.match(channel.channel ?? '', /^\*[A-Za-z0-9]{24}$/);
    const ring1 = (await bob1.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    const ring2 = (await bob2.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    for (const ring of [ring1, ring2]) {
      assert.equal(ring.source, users.alice?.id);
      assert.equal(ring.initiator, true);
      assert.deepEqual(ring.profile, { name: 'Alice Liddell' });
      assert.equal(ring.channel, channel.channel);
      assert.equal(ring.hash, channel.hash);
    }
    answer(bob1, ring1, { accept: true });
    const accepted = (await alice.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    assert.equal(accepted.initiator, false);
    assert.equal(accepted.source, users.bob?.id);
    assert.deepEqual(accepted.data, { accept: true, state: 'st-1' });
    const cleared = (await bob2.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    assert.equal(cleared.target, undefined, 'a cleared call has no target');
    assert.equal(cleared.channel, channel.channel);

    alice.send(
      inCall(channel, 'webrtc_signal', users.bob?.id, 'st-1', { type: 'offer', sdp: 'v=0...' }),
    );
    const got = (await bob1.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame;
    assert.deepEqual([got.source, got.data], [users.alice?.id, { type: 'offer', sdp: 'v=0...' }]);
    bob1.send(
      inCall(channel, 'webrtc_signal', users.alice?.id, 'st-1', { type: 'answer', sdp: 'v=0.' }),
    );
    assert.deepEqual(((await alice.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame).data, {
      type: 'answer',
      sdp: 'v=0.',
    });
    assert.ok(await bob2.nothing(isWebrtc('webrtc_signal')), 'the other device sees no signals');

    alice.send(
      inCall(channel, 'webrtc_hangup', users.bob?.id, 'st-1', { ...hangupData, state: 'st-1' }),
    );
    const ended = (await bob1.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
    assert.equal(ended.source, users.alice?.id);
    assert.equal((ended.data as { reason: string }).reason, 'hangup');
    // The channel is gone: more signals are refused.
    bob1.send(inCall(channel, 'webrtc_signal', users.alice?.id, 'st-1', {}));
    await bob1.next(isError('access_restricted'));
    await Promise.all([alice.close(), bob1.close(), bob2.close()]);
  });

  test('decline tells the caller "reject" and stops the other devices', async () => {
    const { alice, bob1, bob2, ring1 } = await ringTwoDevices();
    answer(bob1, ring1, { accept: false, reason: 'reject' });
    const declined = (await alice.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    assert.deepEqual(declined.data, { accept: false, reason: 'reject', state: 'st-1' });
    await bob2.next((m) => isWebrtc('webrtc_call')(m) && m.target === undefined);
    await Promise.all([alice.close(), bob1.close(), bob2.close()]);
  });

  test('busy: one device answers busy — dropped while another device still rings; sent when it is the only one', async () => {
    const { alice, bob1, bob2, ring1 } = await ringTwoDevices();
    answer(bob1, ring1, { accept: false, reason: 'reject_busy' });
    assert.ok(
      await alice.nothing(isWebrtc('webrtc_call')),
      'busy on one of two devices is not busy',
    );
    await Promise.all([bob1.close(), bob2.close()]);
    // Alice gives up on that call before she calls again (one ringing call per pair).
    alice.send(inCall(ring1, 'webrtc_hangup', users.bob?.id, 'st-1', hangupData));

    const bob = await open('bob');
    call(alice, users.bob?.id as string, 'st-2');
    const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    answer(bob, ring, { accept: false, reason: 'reject_busy' });
    const busy = (await alice.next(
      (m) => isWebrtc('webrtc_call')(m) && m.channel === ring.channel,
    )) as LooseWebrtcFrame;
    assert.equal((busy.data as { reason: string }).reason, 'reject_busy');
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a user with no connection is reported unreachable', async () => {
    const alice = await open('alice');
    call(alice, users.carol?.id as string);
    const channel = (await alice.next(isWebrtc('webrtc_channel'))) as LooseWebrtcFrame;
    const hangup = (await alice.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
    assert.equal(hangup.channel, channel.channel);
    assert.equal(hangup.source, users.carol?.id);
    assert.equal((hangup.data as { reason: string }).reason, 'unreachable');
    await alice.close();
  });

  test('ignoring sends nothing; after call_timeout both sides hear no_answer', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    call(alice, users.bob?.id as string);
    await bob.next(isWebrtc('webrtc_call'));
    const [toAlice, toBob] = await Promise.all([
      alice.next(isWebrtc('webrtc_hangup'), 8000),
      bob.next(isWebrtc('webrtc_hangup'), 8000),
    ]);
    assert.equal(((toAlice as LooseWebrtcFrame).data as { reason: string }).reason, 'no_answer');
    assert.equal(((toBob as LooseWebrtcFrame).data as { reason: string }).reason, 'no_answer');
    await Promise.all([alice.close(), bob.close()]);
  });

  test('the caller hanging up while it rings stops the ringing', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    call(alice, users.bob?.id as string);
    const channel = (await alice.next(isWebrtc('webrtc_channel'))) as LooseWebrtcFrame;
    await bob.next(isWebrtc('webrtc_call'));
    alice.send(inCall(channel, 'webrtc_hangup', users.bob?.id, 'st-1', hangupData));
    const stop = (await bob.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
    assert.equal(stop.source, users.alice?.id);
    await Promise.all([alice.close(), bob.close()]);
  });

  /** Alice calls Bob, who accepts: both connections and the channel. */
  async function answeredCall() {
    const alice = await open('alice');
    const bob = await open('bob');
    call(alice, users.bob?.id as string);
    const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    answer(bob, ring, { accept: true });
    await alice.next(isWebrtc('webrtc_call'));
    const signal = (from: RtmClient, to: string, data: unknown) =>
      from.send(inCall(ring, 'webrtc_signal', users[to]?.id, 'st-1', data));
    return { alice, bob, ring, signal };
  }

  test('a member whose connection drops and who does not come back within call_reconnect_grace: the call ends for the other side', async () => {
    const { alice, bob } = await answeredCall();
    const dropped = Date.now();
    alice.ws.terminate();
    assert.ok(await bob.nothing(isWebrtc('webrtc_hangup'), 500), 'no hangup at once');
    const gone = (await bob.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
    assert.ok(Date.now() - dropped >= 900, 'after the grace of 1 s');
    assert.equal(gone.source, users.alice?.id);
    assert.equal((gone.data as { reason: string }).reason, 'hangup');
    await bob.close();
  });

  test('a member who comes back on a new connection takes up the call: a noop re-attaches it and signals flow both ways', async () => {
    const { alice, bob, signal } = await answeredCall();
    alice.ws.terminate();
    await new Promise((r) => setTimeout(r, 300));
    const alice2 = await open('alice');
    signal(alice2, 'bob', { noop: true });
    assert.deepEqual(((await bob.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame).data, {
      noop: true,
    });
    signal(bob, 'alice', { type: 'offer', sdp: 'v=0 restart' });
    const got = (await alice2.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame;
    assert.deepEqual(got.data, { type: 'offer', sdp: 'v=0 restart' });
    // Past the grace the call still stands: nobody was hung up on.
    assert.ok(await bob.nothing(isWebrtc('webrtc_hangup'), 1500));
    // Another device of Alice's cannot step in while her new connection holds the call.
    const alice3 = await open('alice');
    signal(alice3, 'bob', { noop: true });
    await alice3.next(isError('access_restricted'));
    await Promise.all([alice2.close(), alice3.close(), bob.close()]);
  });

  test('after a call ended, its channel cannot be taken up again (access_restricted, "the call has ended")', async () => {
    const { alice, bob, ring, signal } = await answeredCall();
    alice.send(inCall(ring, 'webrtc_hangup', users.bob?.id, 'st-1', hangupData));
    await bob.next(isWebrtc('webrtc_hangup'));
    signal(bob, 'alice', { noop: true });
    const refused = await bob.next(isError('access_restricted'));
    assert.match(JSON.stringify(refused), /the call has ended/);
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a wrong pair hash, or a stranger in the channel, gets access_restricted', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    const carol = await open('carol');
    call(alice, users.bob?.id as string);
    const channel = (await alice.next(isWebrtc('webrtc_channel'))) as LooseWebrtcFrame;
    const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    answer(bob, ring, { accept: true });
    await alice.next(isWebrtc('webrtc_call'));
    const forged = createHmac('sha256', 'guess').update('x').digest('base64');
    /** Sends a message and expects access_restricted in reply to it. */
    const refused = async (client: RtmClient, message: Record<string, unknown>) => {
      const id = client.send({ type: 'webrtc', channel: channel.channel, state: 's', ...message });
      const error = (await client.next(isError('access_restricted'))) as { reply_to?: number };
      assert.equal(error.reply_to, id);
    };
    await refused(alice, {
      subtype: 'webrtc_signal',
      target: users.bob?.id,
      hash: forged,
      data: {},
    });
    await refused(carol, {
      subtype: 'webrtc_signal',
      target: users.bob?.id,
      hash: channel.hash,
      data: {},
    });
    await refused(carol, {
      subtype: 'webrtc_call',
      target: users.alice?.id,
      initiator: false,
      hash: channel.hash,
      data: { accept: true },
    });
    assert.ok(await bob.nothing(isWebrtc('webrtc_signal')));
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  test('calling yourself, or an answer without data, is a bad message', async () => {
    const alice = await open('alice');
    call(alice, users.alice?.id as string);
    await alice.next(isError('bad_message'));
    const bob = await open('bob');
    call(alice, users.bob?.id as string);
    const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    bob.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: ring.source,
      initiator: false,
      channel: ring.channel,
      hash: ring.hash,
      state: 's',
    });
    await bob.next(isError('bad_message'));
    await Promise.all([alice.close(), bob.close()]);
  });
});

/** On a server that will restart (fixed port): Alice calls Bob, who accepts. */
async function answeredCallBeforeRestart(state: string) {
  const listen = `127.0.0.1:${await freePort()}`;
  const { server, users } = await startSignaling('', {}, listen);
  const alice = await RtmClient.open(server.localUrl, users.alice?.token as string);
  const bob = await RtmClient.open(server.localUrl, users.bob?.token as string);
  alice.send({
    type: 'webrtc',
    subtype: 'webrtc_call',
    target: users.bob?.id,
    initiator: true,
    state,
  });
  const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
  bob.send({
    type: 'webrtc',
    subtype: 'webrtc_call',
    target: users.alice?.id,
    channel: ring.channel,
    hash: ring.hash,
    state,
    data: { accept: true, state },
  });
  await alice.next(isWebrtc('webrtc_call'));
  const restart = async () => {
    await server.close();
    return startTestServer({
      dir: server.dir,
      listen,
      yaml: 'identifier_registration_conf: registry.yaml\n',
    });
  };
  return { users, alice, bob, ring, restart };
}

describe('calls across a server restart', () => {
  test('clients that reconnect to the restarted server take their call up again (signals flow), and a hangup still reaches the other side', async () => {
    const { users, bob, ring, restart } = await answeredCallBeforeRestart('st-r');
    const open = (base: string, name: string) => RtmClient.open(base, users[name]?.token as string);
    const again = await restart();
    assert.equal((await bob.closed).code, 1001);
    assert.equal(
      bob.received.filter(isWebrtc('webrtc_hangup')).length,
      0,
      'a shutdown hangs up on nobody',
    );
    try {
      const alice2 = await open(again.localUrl, 'alice');
      const bob2 = await open(again.localUrl, 'bob');
      const message = (to: string, subtype: 'webrtc_signal' | 'webrtc_hangup', data: unknown) =>
        inCall(ring, subtype, users[to]?.id, 'st-r', data);
      alice2.send(message('bob', 'webrtc_signal', { noop: true }));
      assert.deepEqual(
        ((await bob2.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame).data,
        { noop: true },
        "the noop reaches Bob's new connection",
      );
      bob2.send(message('alice', 'webrtc_signal', { type: 'offer', sdp: 'v=0 again' }));
      assert.deepEqual(((await alice2.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame).data, {
        type: 'offer',
        sdp: 'v=0 again',
      });
      // A stranger's forged hash takes up nothing.
      const carol = await open(again.localUrl, 'carol');
      carol.send({ ...message('bob', 'webrtc_signal', { noop: true }), hash: 'AAAA' });
      await carol.next(isError('access_restricted'));

      alice2.send(message('bob', 'webrtc_hangup', hangupData));
      const ended = (await bob2.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
      assert.equal(ended.source, users.alice?.id);
      await Promise.all([alice2.close(), bob2.close(), carol.close()]);
    } finally {
      await again.close();
    }
  });

  test('a call that only rang before the restart is not taken up: its signals are refused and reach none of the callee’s devices', async () => {
    const listen = `127.0.0.1:${await freePort()}`;
    const { server, users } = await startSignaling('', {}, listen);
    const alice = await RtmClient.open(server.localUrl, users.alice?.token as string);
    const bob = await RtmClient.open(server.localUrl, users.bob?.token as string);
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.bob?.id,
      initiator: true,
      state: 'st-u',
    });
    const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    await server.close();
    const again = await startTestServer({
      dir: server.dir,
      listen,
      yaml: 'identifier_registration_conf: registry.yaml\n',
    });
    try {
      const alice2 = await RtmClient.open(again.localUrl, users.alice?.token as string);
      const bob2 = await RtmClient.open(again.localUrl, users.bob?.token as string);
      const bob3 = await RtmClient.open(again.localUrl, users.bob?.token as string);
      alice2.send(
        inCall(ring, 'webrtc_signal', users.bob?.id, 'st-u', { type: 'offer', sdp: 'x' }),
      );
      const refused = await alice2.next(isError('access_restricted'));
      assert.match(refused.type === 'error' ? refused.error.msg : '', /no such call/);
      await new Promise((r) => setTimeout(r, 200));
      for (const device of [bob2, bob3])
        assert.equal(device.received.filter(isWebrtc('webrtc_signal')).length, 0);
      await Promise.all([alice2.close(), bob2.close(), bob3.close()]);
    } finally {
      await again.close();
    }
  });

  test('a hangup sent first thing after the restart reaches the other side', async () => {
    const { users, ring, restart } = await answeredCallBeforeRestart('st-h');
    const again = await restart();
    try {
      const bob2 = await RtmClient.open(again.localUrl, users.bob?.token as string);
      const alice2 = await RtmClient.open(again.localUrl, users.alice?.token as string);
      bob2.send(inCall(ring, 'webrtc_hangup', users.alice?.id, 'st-h', hangupData));
      const ended = (await alice2.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
      assert.equal(ended.channel, ring.channel);
      await Promise.all([alice2.close(), bob2.close()]);
    } finally {
      await again.close();
    }
  });
});

describe('limits', () => {
  test('a client that floods is slowed (rate_limited), then closed with 1008; a silent one is closed with 4000', {
    timeout: 30_000,
  }, async () => {
    const { server, users } = await startSignaling(
      'rtm_message_rate: 5\nrtm_heartbeat_timeout: 5\n',
    );
    try {
      const flooder = await RtmClient.open(server.localUrl, users.alice?.token as string);
      const silent = await RtmClient.open(server.localUrl, users.bob?.token as string);
      const closedBySilence = silent.closed;
      const timer = setInterval(() => {
        if (flooder.ws.readyState === WebSocket.OPEN)
          for (let i = 0; i < 20; i++) flooder.send({ type: 'ping' });
      }, 50);
      await flooder.next(isError('rate_limited'));
      const closed = await flooder.closed;
      clearInterval(timer);
      assert.equal(closed.code, 1008);
      assert.ok(flooder.received.some((m) => m.type === 'goodbye') || true);
      assert.equal((await closedBySilence).code, 4000);
    } finally {
      await server.close();
    }
  });

  test('after goodbye nothing more is read: one rate_limited a second while slowed, one warning, nothing after the close', {
    timeout: 30_000,
  }, async () => {
    const { server, users } = await startSignaling('rtm_message_rate: 5\n');
    try {
      const flooder = await RtmClient.open(server.localUrl, users.alice?.token as string);
      const started = Date.now();
      // Far more than can be read before the goodbye: the rest waits in the socket.
      const burst = () => {
        for (let i = 0; i < 2000; i++)
          if (flooder.ws.readyState === WebSocket.OPEN) flooder.send({ type: 'ping' });
      };
      const timer = setInterval(burst, 100);
      const closed = await flooder.closed;
      clearInterval(timer);
      assert.equal(closed.code, 1008);
      const seconds = (Date.now() - started) / 1000;
      const limited = flooder.received.filter(isError('rate_limited')).length;
      assert.ok(limited >= 1 && limited <= seconds + 2, `${limited} rate_limited in ${seconds} s`);
      const goodbye = flooder.received.findIndex((m) => m.type === 'goodbye');
      assert.ok(goodbye >= 0);
      assert.equal(flooder.received.length, goodbye + 1, 'nothing came after the goodbye');
      await new Promise((r) => setTimeout(r, 300));
      const warnings = server.logs.filter(
        (l) => l.msg === 'signaling client kept flooding; closing',
      );
      assert.equal(warnings.length, 1);
    } finally {
      await server.close();
    }
  });

  test('rtm_max_connections_per_user: past it, rtm/connect and the WebSocket answer 429 too_many_connections', async () => {
    const { server, users } = await startSignaling('rtm_max_connections_per_user: 2\n');
    try {
      const one = await RtmClient.open(server.localUrl, users.alice?.token as string);
      // Keys taken while only one socket is open: the third socket is refused at the upgrade.
      const keys = [];
      for (let i = 0; i < 2; i++) keys.push(await rtmConnect(server.localUrl, users.alice?.token));
      const open = (url: string) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(new URL(url, server.localUrl.replace(/^http/, 'ws')));
          ws.once('open', () => resolve(101));
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        });
      const urls = keys.map((k) => (k.body as { url: string }).url);
      assert.equal(await open(urls[0] as string), 101);
      assert.equal(await open(urls[1] as string), 429);
      const refused = await rtmConnect(server.localUrl, users.alice?.token);
      assert.equal(refused.status, 429);
      assert.equal(
        (refused.body as { error: { code: string } }).error.code,
        'too_many_connections',
      );
      assert.equal((await rtmConnect(server.localUrl, users.bob?.token)).status, 200, 'others may');
      await one.close();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await rtmConnect(server.localUrl, users.alice?.token)).status, 200);
    } finally {
      await server.close();
    }
  });

  test('max_rings_per_target: one call at a time from a caller to a callee, and at most that many callers ringing someone; others are refused with rate_limited', async () => {
    const { server, users } = await startSignaling('max_rings_per_target: 1\n');
    try {
      const alice = await RtmClient.open(server.localUrl, users.alice?.token as string);
      const carol = await RtmClient.open(server.localUrl, users.carol?.token as string);
      const bob = await RtmClient.open(server.localUrl, users.bob?.token as string);
      const call = (from: RtmClient, target: string | undefined) =>
        from.send({ type: 'webrtc', subtype: 'webrtc_call', target, initiator: true, state: 's' });
      const refused = async (from: RtmClient, id: number, why: RegExp) => {
        const m = await from.next(isError('rate_limited'));
        assert.equal(m.type === 'error' && m.reply_to, id);
        assert.match(m.type === 'error' ? m.error.msg : '', why);
      };
      call(alice, users.bob?.id);
      const ring = (await bob.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
      // One client in a loop cannot fill Bob's line: its second call is refused.
      await refused(alice, call(alice, users.bob?.id), /a call of yours already rings/);
      // Another caller is refused while Bob is rung as often as allowed...
      await refused(carol, call(carol, users.bob?.id), /already has 1 calls ringing/);
      // ...and gets through once that call has ended. Carol may be called meanwhile.
      call(alice, users.carol?.id);
      await carol.next(isWebrtc('webrtc_call'));
      alice.send(inCall(ring, 'webrtc_hangup', users.bob?.id, 's', hangupData));
      await bob.next(isWebrtc('webrtc_hangup'));
      call(carol, users.bob?.id);
      await bob.next(isWebrtc('webrtc_call'));
      assert.equal(bob.received.filter(isWebrtc('webrtc_call')).length, 0, 'no other ring');
      await Promise.all([alice.close(), bob.close(), carol.close()]);
    } finally {
      await server.close();
    }
  });

  test('rtm/connect is rate-limited per user (429 with Retry-After)', async () => {
    const { server, users } = await startSignaling('rtm_connect_rate_limit_per_user: 2\n');
    try {
      const statuses = [];
      let last: Headers | undefined;
      for (let i = 0; i < 3; i++) {
        const r = await rtmConnect(server.localUrl, users.alice?.token);
        statuses.push(r.status);
        last = r.headers;
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      assert.match(last?.get('retry-after') ?? '', /^\d+$/);
      assert.equal(
        (await rtmConnect(server.localUrl, users.bob?.token)).status,
        200,
        'other users are not affected',
      );
    } finally {
      await server.close();
    }
  });
});

describe('TURN credentials', () => {
  test('rtm/connect and rtm/turn hand out coturn use-auth-secret credentials; without TURN, rtm/turn is 404', async () => {
    const { server: plain, users: u0 } = await startSignaling();
    try {
      const res = await fetch(new URL('/api/kwm/v2/rtm/turn', plain.localUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${u0.alice?.token}` },
      });
      assert.equal(res.status, 404);
    } finally {
      await plain.close();
    }
    const { server, users } = await startSignaling(
      'turn_uris: [turn:127.0.0.1:3478]\nturn_server_shared_secret: turn-secret\n',
      { 'turn-secret': 'turn-shared-secret\n' },
    );
    try {
      const connect = (await rtmConnect(server.localUrl, users.alice?.token)).body as {
        turn: { username: string; password: string; ttl: number; uris: string[] };
      };
      const [expiry, user] = connect.turn.username.split(':');
      assert.equal(user, users.alice?.id);
      assert.ok(Math.abs(Number(expiry) - (Date.now() / 1000 + 3600)) < 10);
      assert.equal(
        connect.turn.password,
        createHmac('sha1', 'turn-shared-secret').update(connect.turn.username).digest('base64'),
      );
      assert.deepEqual([connect.turn.ttl, connect.turn.uris], [3600, ['turn:127.0.0.1:3478']]);
      const refresh = await fetch(new URL('/api/kwm/v2/rtm/turn', server.localUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${users.alice?.token}` },
      });
      assert.equal(((await refresh.json()) as { ok: boolean }).ok, true);
    } finally {
      await server.close();
    }
  });
});

describe('fuzz', () => {
  test('10,000 random frames leave the server up and serving', { timeout: 60_000 }, async () => {
    const { server, users } = await startSignaling('rtm_message_rate: 100000\n');
    try {
      const target = users.bob?.id as string;
      const frame = fc.oneof(
        fc.json(),
        fc.string(),
        fc
          .record(
            {
              id: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
              type: fc.constantFrom('webrtc', 'ping', 'pong', 'hello', 'chats', ''),
              subtype: fc.constantFrom(
                'webrtc_call',
                'webrtc_signal',
                'webrtc_hangup',
                'webrtc_group',
                'webrtc_channel',
                'x',
              ),
              target: fc.oneof(fc.constant(target), fc.string(), fc.integer()),
              initiator: fc.oneof(fc.boolean(), fc.string()),
              state: fc.string(),
              channel: fc.oneof(fc.string(), fc.constant('*AAAAAAAAAAAAAAAAAAAAAAAA')),
              hash: fc.string(),
              data: fc.jsonValue(),
            },
            { requiredKeys: [] },
          )
          .map((o) => JSON.stringify(o)),
      );
      const frames = fc
        .sample(frame, { numRuns: 10_000, seed: 4242 })
        .map((f) => (typeof f === 'string' ? f : JSON.stringify(f)));
      let client = await RtmClient.open(server.localUrl, users.alice?.token as string);
      const bob = await RtmClient.open(server.localUrl, users.bob?.token as string);
      for (const [i, f] of frames.entries()) {
        if (client.ws.readyState !== WebSocket.OPEN)
          client = await RtmClient.open(server.localUrl, users.alice?.token as string);
        client.raw(f);
        if (i % 500 === 0) {
          const id = client.send({ type: 'ping' });
          await client.next((m) => m.type === 'pong' && m.id === id, 10_000);
        }
      }
      const id = client.send({ type: 'ping' });
      await client.next((m) => m.type === 'pong' && m.id === id, 10_000);
      assert.equal((await fetch(new URL('/health-check', server.localUrl))).status, 200);
      // A real call still works after the storm.
      bob.received.length = 0;
      client.send({
        type: 'webrtc',
        subtype: 'webrtc_call',
        target,
        initiator: true,
        state: 'after-fuzz',
      });
      await bob.next((m) => isWebrtc('webrtc_call')(m) && m.state === 'after-fuzz', 10_000);
      await Promise.all([client.close(), bob.close()]);
    } finally {
      await server.close();
    }
  });
});
