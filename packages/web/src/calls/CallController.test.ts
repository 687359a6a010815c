import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { CallController } from './CallController.js';
import { FakeKwm } from './FakeKwm.js';
import { FakeRtc, FakeStream, FakeTrack, fakeCamera, settle } from './FakeRtc.js';

/** A controller whose signaling hands out ids, as the socket does. */
function controller() {
  let id = 0;
  const sent: Record<string, unknown>[] = [];
  const calls = new CallController({
    send: (m) => {
      sent.push(m);
      return ++id;
    },
    localStream: () => undefined,
    rtcConfig: () => ({}),
    videoMaxBitrate: () => 1_000_000,
    screenMaxBitrate: () => 2_500_000,
    audioOnly: () => false,
  });
  return { calls, sent };
}

const bob = { id: 'bob-id', name: 'Bob Builder' };

test('a call the server refuses before it rings ends at once: rate_limited (rung by too many) as busy, anything else as failed', () => {
  for (const [code, reason] of [
    ['rate_limited', 'busy'],
    ['access_restricted', 'failed'],
  ] as const) {
    const { calls } = controller();
    calls.call(bob, false);
    assert.equal(calls.getState().phase, 'outgoing');
    calls.handle({ type: 'error', reply_to: 1, error: { code, msg: 'no' } });
    assert.deepEqual(calls.getState(), { phase: 'ended', peer: bob, reason });
  }
});

test('an error replying to something else leaves the outgoing call ringing', () => {
  const { calls } = controller();
  calls.call(bob, false);
  calls.handle({ type: 'error', reply_to: 99, error: { code: 'rate_limited', msg: 'slow down' } });
  calls.handle({ type: 'error', error: { code: 'media_failed', msg: 'not about calls' } });
  assert.equal(calls.getState().phase, 'outgoing');
});

/** A user with a camera, its own fake WebRTC and an RTM client of one fake server. */
function user(kwm: FakeKwm, id: string, name: string) {
  const client = kwm.client(id, name);
  const rtc = new FakeRtc();
  const camera = fakeCamera();
  const finished: unknown[] = [];
  const calls = new CallController({
    send: client.send,
    localStream: () => camera as unknown as MediaStream,
    rtcConfig: () => ({}),
    videoMaxBitrate: () => 1_000_000,
    screenMaxBitrate: () => 2_500_000,
    audioOnly: () => false,
    rtc: rtc.api,
    onFinished: (c) => finished.push(c),
  });
  client.onMessage = (m) => calls.handle(m);
  return { client, rtc, camera, calls, finished, peer: { id, name } };
}

type User = ReturnType<typeof user>;

function active(u: User) {
  const s = u.calls.getState();
  assert.equal(s.phase, 'active', `${u.peer.id} is in the call`);
  return s as Extract<typeof s, { phase: 'active' }>;
}

/** Alice calls Bob, Bob answers: both in the call, its media connected. */
async function answeredCall() {
  const kwm = new FakeKwm();
  const alice = user(kwm, 'alice', 'Alice Liddell');
  const bob = user(kwm, 'bob', 'Bob Builder');
  alice.calls.call(bob.peer, false);
  await settle();
  bob.calls.accept();
  await settle();
  return { kwm, alice, bob };
}

test('an incoming call rings with the caller’s name, is answered with media both ways, and ends for both when one hangs up', async () => {
  const kwm = new FakeKwm();
  const alice = user(kwm, 'alice', 'Alice Liddell');
  const bob = user(kwm, 'bob', 'Bob Builder');
  alice.calls.call(bob.peer, false);
  await settle();
  const ringing = bob.calls.getState();
  assert.equal(ringing.phase, 'incoming');
  assert.deepEqual(ringing.phase === 'incoming' && ringing.peer, alice.peer);

  bob.calls.accept();
  await settle();
  for (const [u, direction] of [
    [alice, 'outgoing'],
    [bob, 'incoming'],
  ] as const) {
    const s = active(u);
    assert.equal(s.direction, direction);
    assert.equal(s.media, 'connected', `${u.peer.id}'s media is connected`);
    assert.equal(s.remote?.getTracks().length, 2, `${u.peer.id} receives audio and video`);
    assert.equal(u.rtc.last.signalingState, 'stable');
  }
  // Bob answered Alice's offer; nobody offered twice.
  assert.deepEqual(alice.rtc.last.log, ['offer']);
  assert.deepEqual(bob.rtc.last.log, ['answer']);

  alice.calls.hangUp();
  await settle();
  assert.deepEqual(bob.calls.getState(), { phase: 'ended', peer: alice.peer, reason: 'hangup' });
  assert.deepEqual(alice.calls.getState(), { phase: 'ended', peer: bob.peer, reason: 'hangup' });
  for (const u of [alice, bob]) {
    assert.equal(u.rtc.pcs.length, 1);
    assert.equal(u.rtc.last.closed, true, `${u.peer.id}'s peer connection is closed`);
    assert.equal(u.rtc.last.onicecandidate, null, 'and nothing listens to it any more');
  }
  assert.deepEqual(bob.finished, [
    { peer: alice.peer, direction: 'incoming', audioOnly: false, outcome: 'answered' },
  ]);
});

test('glare: both share their screens at once; the polite callee rolls back, the caller’s offer wins, and both screens arrive', async () => {
  const { alice, bob } = await answeredCall();
  void alice.calls.startScreenShare();
  void bob.calls.startScreenShare();
  await settle(60);
  assert.ok(bob.rtc.last.log.includes('rollback'), 'the polite side (callee) rolled back');
  assert.ok(!alice.rtc.last.log.includes('rollback'), 'the impolite side (caller) did not');
  for (const u of [alice, bob]) {
    const s = active(u);
    assert.equal(u.rtc.last.signalingState, 'stable');
    assert.equal(s.sharing, true);
    assert.ok(s.screen, `${u.peer.id} sees the other's screen`);
  }
});

test('signals wait in the outbox while signaling is down, and go out after a noop once it is back', async () => {
  const { alice, bob } = await answeredCall();
  const sentBefore = alice.client.sent.length;
  const receivedBefore = bob.client.received.length;
  alice.client.up = false;
  await alice.calls.startScreenShare();
  await settle();
  assert.equal(alice.client.sent.length, sentBefore, 'nothing went out while down');
  assert.equal(bob.client.received.length, receivedBefore);
  assert.equal(active(bob).screen, undefined);

  alice.client.up = true;
  alice.calls.reconnected();
  await settle(40);
  const after = alice.client.sent.slice(sentBefore).map((m) => m.data as Record<string, unknown>);
  assert.deepEqual(after[0], { noop: true }, 're-attaches to the call first');
  assert.equal(after[1]?.type, 'offer', 'then the offer that waited');
  assert.ok(active(bob).screen, 'and Bob sees the screen in the end');
});

test('sharing a screen renegotiates and announces its mid; stopping it takes the screen away', async () => {
  const { alice, bob } = await answeredCall();
  const screen = new FakeStream([new FakeTrack('video')]);
  alice.rtc.nextScreen = () => screen;
  await alice.calls.startScreenShare();
  await settle(40);
  assert.deepEqual(alice.rtc.last.log, ['offer', 'offer'], 'a second offer, for the screen');
  const announced = alice.client.signals().filter((d) => Object.hasOwn(d as object, 'screenshare'));
  const mid = (announced[0] as { screenshare: { mid: string } }).screenshare.mid;
  const tx = bob.rtc.last.getTransceivers().find((t) => t.mid === mid);
  assert.ok(tx, 'Bob has the announced mid');
  assert.equal(active(bob).screen?.getVideoTracks()[0], tx.receiver.track);
  assert.notEqual(active(bob).remote, active(bob).screen, 'the camera stays apart');

  // The browser's own "Stop sharing".
  screen.tracks[0]?.end();
  await settle(40);
  assert.equal(active(alice).sharing, false);
  assert.equal(active(bob).screen, undefined);
  assert.equal(announced.length, 1);
  assert.ok(
    alice.client.signals().some((d) => isDeepStrictEqual(d, { screenshare: null })),
    'the end of sharing was announced',
  );
});

test('ICE disconnected for 3 s restarts it with a new offer; a call hung up meanwhile restarts nothing', async () => {
  const one = await answeredCall();
  const two = await answeredCall();
  one.alice.rtc.last.setIceState('disconnected');
  two.alice.rtc.last.setIceState('disconnected');
  assert.equal(active(one.alice).media, 'interrupted');
  two.alice.calls.hangUp();
  await new Promise((r) => setTimeout(r, 3200));
  await settle();
  assert.ok(one.alice.rtc.last.log.includes('restartIce'));
  assert.equal(one.alice.rtc.last.log.filter((l) => l === 'offer').length, 2);
  assert.ok(!two.alice.rtc.last.log.includes('restartIce'), 'the closed link’s timer never ran');
});
