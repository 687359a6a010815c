import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type DirectSignal,
  directSignalMessage,
  errorMessage,
  type ForwardedStream,
  groupChannelMessage,
  groupJoinedMessage,
  groupPrejoinedMessage,
  groupWaitingMessage,
  maxViewsPerSecond,
  mediaChannelClientSchema,
  mediaChannelLabel,
  pipelinePeerId,
  pipelineSignalMessage,
  pipelineSignalSchema,
  type ServerMessage,
  serverMessageSchema,
  type WebrtcClientDraft,
  webrtcMessageSchema,
} from '@confab/protocol';
import { FakeRtc, FakeTrack, fakeCamera, fakeSdp, readFakeSdp } from './FakeRtc.js';
import { GroupController, reactionShownMs } from './GroupController.js';
import { viewDebounceMs, viewIntervalMs } from './ViewSender.js';

/**
 * Lets queued microtasks and immediates run (FakeRtc's `settle` waits on timers, which the view
 * tests mock; nothing here needs a timer to settle).
 */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

const room = 'group/team';
const channel = '@group/team';

/** Alice in the group room, with a camera, a fake WebRTC, and the server played by the test. */
function member({ keepsSimulcast = true } = {}) {
  const rtc = new FakeRtc();
  rtc.keepsSimulcast = keepsSimulcast;
  const camera = fakeCamera();
  const page = { hidden: false, listeners: new Set<() => void>(), audioOnly: false };
  const sent: (WebrtcClientDraft & { id: number })[] = [];
  let mutedByOwner = 0;
  const groups = new GroupController({
    send: (m) => {
      const withId = { ...m, id: sent.length + 1 };
      // The server's own strict schema must take it: a field it would refuse fails here.
      webrtcMessageSchema.parse(JSON.parse(JSON.stringify(withId)));
      sent.push(withId);
      return sent.length;
    },
    localStream: () => camera as unknown as MediaStream,
    rtcConfig: () => ({}),
    videoMaxBitrate: () => 1_000_000,
    screenMaxBitrate: () => 2_500_000,
    audioOnly: () => page.audioOnly,
    rtc: rtc.api,
    onMutedByOwner: () => mutedByOwner++,
    visibility: {
      hidden: () => page.hidden,
      subscribe: (l) => {
        page.listeners.add(l);
        return () => page.listeners.delete(l);
      },
    },
  });
  /** The page is hidden (minimized) or shown again. */
  const setHidden = (hidden: boolean) => {
    page.hidden = hidden;
    for (const l of page.listeners) l();
  };
  /** A server message, through JSON and the schema as RtmClient hands it on. */
  const receive = (m: ServerMessage) => {
    const parsed = serverMessageSchema.parse(JSON.parse(JSON.stringify(m)));
    assert.equal(groups.handles(parsed), true, 'the group controller takes it');
    groups.handle(parsed);
  };
  const answers = () =>
    sent
      .filter((m) => m.subtype === 'webrtc_signal' && (m.data as { type?: string }).type)
      .map((m) => ({
        target: m.target,
        hash: m.hash,
        channel: m.channel,
        sdp: readFakeSdp((m.data as { sdp: string }).sdp),
      }));
  return {
    rtc,
    camera,
    sent,
    groups,
    receive,
    answers,
    setHidden,
    page,
    mutedByOwner: () => mutedByOwner,
  };
}

type Member = ReturnType<typeof member>;

const membersOf = (...ids: string[]) => ({
  group: room,
  members: ids,
  reset: false,
  participants: ids.map((id, i) => ({
    id,
    name: id.toUpperCase(),
    owner: i === 0,
    guest: false,
    muted: false,
  })),
});

/** The bridge's offer: Alice's upstream mids, and what it forwards (`inactive` once gone). */
function bridgeOffer(
  session: string,
  forwarded: (ForwardedStream & { mid: string; gone?: true })[],
) {
  return pipelineSignalMessage({
    target: 'alice',
    channel,
    group: room,
    hash: 'group-hash',
    session,
    data: {
      type: 'offer',
      session,
      sdp: fakeSdp([
        { mid: 'a', kind: 'audio', dir: 'recvonly' },
        { mid: 'v', kind: 'video', dir: 'recvonly' },
        { mid: 's', kind: 'video', dir: 'recvonly' },
        ...forwarded.map((f) => ({
          mid: f.mid,
          kind: f.source === 'microphone' ? ('audio' as const) : ('video' as const),
          dir: f.gone ? ('inactive' as const) : ('sendonly' as const),
          msid: f.user,
        })),
      ]),
      streams: Object.fromEntries(
        forwarded.map((f) => [f.mid, { user: f.user, source: f.source }]),
      ),
    },
  });
}

const bobsStreams = [
  { mid: 'f0', user: 'bob', source: 'microphone' as const },
  { mid: 'f1', user: 'bob', source: 'camera' as const },
];

/** Joins and is welcomed, alone in the room. */
function joined(m: Member) {
  m.groups.join(room);
  const join = m.sent[0] as { id: number; state: string };
  m.receive(
    groupJoinedMessage({
      reply_to: join.id,
      channel,
      group: room,
      hash: 'group-hash',
      state: join.state,
      members: membersOf('alice'),
    }),
  );
}

function inGroup(m: Member) {
  const s = m.groups.getState();
  assert.ok(s.phase === 'joined' || s.phase === 'joining', `in the group, not ${s.phase}`);
  return s;
}

test('join, welcome, the bridge’s offer answered with camera and microphone; a member comes and goes; leaving closes the connection', async () => {
  const m = member();
  m.groups.join(room);
  assert.deepEqual(
    { ...m.sent[0], state: undefined },
    {
      type: 'webrtc',
      subtype: 'webrtc_group',
      target: room,
      group: room,
      state: undefined,
      v: 20180703,
      // It can go peer to peer in a room of two.
      data: { p2p: true },
      id: 1,
    },
  );
  assert.equal(m.groups.getState().phase, 'joining');
  joined(m);
  assert.deepEqual(
    inGroup(m).participants.map((p) => p.id),
    ['alice'],
  );
  assert.equal(inGroup(m).phase, 'joined');

  m.receive(
    groupChannelMessage({ channel, group: room, data: { group: membersOf('alice', 'bob') } }),
  );
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const [answer] = m.answers();
  assert.ok(answer, 'the offer was answered');
  assert.equal(answer.target, pipelinePeerId);
  assert.equal(answer.hash, 'group-hash');
  assert.equal(answer.channel, channel);
  const dirs = Object.fromEntries(answer.sdp.mlines.map((l) => [l.mid, l.dir]));
  assert.deepEqual(dirs, {
    a: 'sendonly',
    v: 'sendonly',
    s: 'sendonly',
    f0: 'recvonly',
    f1: 'recvonly',
  });
  const sendsCamera = answer.sdp.mlines.find((l) => l.mid === 'v')?.msid;
  assert.equal(sendsCamera, m.camera.id, 'the camera goes up on mid v');
  const bob = inGroup(m).media.bob;
  assert.equal(bob?.camera?.getTracks().length, 2, 'Bob’s camera and microphone, in one stream');
  assert.deepEqual(
    inGroup(m).participants.map((p) => p.id),
    ['alice', 'bob'],
  );

  // Bob leaves: who is there, and an offer with his mids inactive.
  m.receive(groupChannelMessage({ channel, group: room, data: { group: membersOf('alice') } }));
  m.receive(
    bridgeOffer(
      'e1',
      bobsStreams.map((s) => ({ ...s, gone: true as const })),
    ),
  );
  await settle();
  assert.equal(m.answers().length, 2);
  assert.equal(inGroup(m).media.bob, undefined, 'Bob’s tile is gone');
  assert.deepEqual(
    inGroup(m).participants.map((p) => p.id),
    ['alice'],
  );
  assert.equal(m.rtc.pcs.length, 1, 'the same session, the same connection');

  m.groups.leave();
  const hangup = m.sent.at(-1);
  assert.equal(hangup?.subtype, 'webrtc_hangup');
  assert.equal(hangup?.target, room);
  assert.equal(hangup?.channel, channel);
  assert.equal(m.rtc.last.closed, true);
  assert.equal(m.rtc.last.ontrack, null, 'nothing listens to the closed connection');
  assert.deepEqual(m.groups.getState(), { phase: 'idle' });
});

test('restarted media: the member stays in, the old session closes, the new offer gets a new connection', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.receive(
    groupChannelMessage({ channel, group: room, data: { restarted: { code: 'media_failed' } } }),
  );
  assert.equal(inGroup(m).phase, 'joined', 'a restart is not a failure');
  m.receive(bridgeOffer('e2', bobsStreams));
  await settle();
  assert.equal(m.rtc.pcs.length, 2);
  assert.equal(m.rtc.pcs[0]?.closed, true, 'the old session’s connection is closed');
  assert.equal(m.rtc.last.closed, false);
  assert.equal(m.answers().length, 2);
  assert.ok(inGroup(m).media.bob?.camera, 'Bob arrives on the new connection');

  // The bridge's candidates count only for the current session.
  const candidate = (session: string) =>
    pipelineSignalMessage({
      target: 'alice',
      channel,
      group: room,
      hash: 'group-hash',
      session,
      data: {
        candidate: { candidate: 'candidate:9 1 udp 1 127.0.0.1 5000 typ host', sdpMid: 'a' },
        session,
      },
    });
  m.receive(candidate('e1'));
  m.receive(candidate('e2'));
  await settle();
  assert.equal(m.rtc.last.remoteCandidates.length, 1);
});

test('failed media takes the member out: the connection closes and it says why', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.receive(
    groupChannelMessage({ channel, group: room, data: { failed: { code: 'media_failed' } } }),
  );
  assert.deepEqual(m.groups.getState(), { phase: 'failed', group: room, reason: 'media' });
  assert.equal(m.rtc.last.closed, true);
});

test('a full conference is known by its code, conference_full; the message text decides nothing', () => {
  const full = member();
  full.groups.join(room);
  full.receive(errorMessage('conference_full', 'Konferenz ist voll', 1));
  assert.deepEqual(full.groups.getState(), {
    phase: 'failed',
    group: room,
    reason: 'full',
    message: 'Konferenz ist voll',
  });

  const refused = member();
  refused.groups.join(room);
  refused.receive(errorMessage('access_restricted', 'the conference is full', 1));
  const s = refused.groups.getState();
  assert.equal(s.phase === 'failed' && s.reason, 'refused');

  // A code this app does not know (a newer server's) still ends the join, as refused.
  const newer = member();
  newer.groups.join(room);
  newer.receive({
    type: 'error',
    reply_to: 1,
    error: { code: 'lobby_closed_later', msg: 'not yet known here' },
  } as unknown as ServerMessage);
  const n = newer.groups.getState();
  assert.equal(n.phase === 'failed' && n.reason, 'refused');

  // An error answering something else is not about the group.
  const other = member();
  other.groups.join(room);
  assert.equal(other.groups.handles(errorMessage('conference_full', 'x', 7)), false);
});

test('after signaling comes back the member joins again naming its session; the owner’s mute is obeyed', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.groups.reconnected();
  const again = m.sent.at(-1);
  assert.equal(again?.subtype, 'webrtc_group');
  assert.deepEqual(again?.data, { p2p: true, session: 'e1' });

  m.receive(
    groupChannelMessage({ channel, group: room, data: { muted: { by: 'bob', name: 'BOB' } } }),
  );
  assert.equal(m.mutedByOwner(), 1, 'the microphone is turned off');
  assert.equal(inGroup(m).mutedBy, 'BOB');
});

test('a member the server takes out because its media kept failing sees that, and may join again', () => {
  const m = member();
  m.groups.join(room);
  m.receive(
    groupChannelMessage({ channel, group: room, data: { failed: { code: 'media_failed' } } }),
  );
  assert.deepEqual(m.groups.getState(), { phase: 'failed', group: room, reason: 'media' });
  m.groups.join(room);
  assert.equal(m.groups.getState().phase, 'joining');
});

const carolsStreams = [
  { mid: 'f2', user: 'carol', source: 'microphone' as const },
  { mid: 'f3', user: 'carol', source: 'camera' as const },
];

for (const keepsSimulcast of [true, false]) {
  test(`the camera goes up in simulcast: three SSRCs in a SIM group from the first answer on, the same in every later one (${keepsSimulcast ? 'the browser repeats the group, as Chromium 156 does' : 'a browser that forgets it'}); the screen has one`, async () => {
    const m = member({ keepsSimulcast });
    joined(m);
    m.receive(bridgeOffer('e1', bobsStreams));
    await settle();
    m.receive(bridgeOffer('e1', [...bobsStreams, ...carolsStreams]));
    await settle();
    m.receive(
      bridgeOffer('e1', [
        ...bobsStreams,
        ...carolsStreams.map((c) => ({ ...c, gone: true as const })),
      ]),
    );
    await settle();
    const answers = m.answers();
    assert.equal(answers.length, 3);
    const sender = m.rtc.last.transceivers.find((t) => t.mid === 'v')?.sender;
    assert.ok(sender);
    const first = answers[0]?.sdp.mlines.find((l) => l.mid === 'v')?.simulcast;
    assert.equal(first?.length, 3, 'three layers');
    assert.equal(first?.[0], sender.ssrc, 'the browser’s own SSRC is the lowest layer');
    assert.equal(new Set(first).size, 3);
    for (const a of answers) {
      const v = a.sdp.mlines.find((l) => l.mid === 'v');
      assert.deepEqual(v?.simulcast, first, 'the same SIM group');
      assert.deepEqual(v?.ssrcs, first, 'and no other SSRC');
    }
    assert.deepEqual(sender.simulcast, first, 'the browser took the layers');
    assert.equal(sender.getParameters().encodings.length, 3, 'one encoding per layer');
    // What was sent is what was set.
    const sentSdp = m.sent
      .map((x) => x.data as { type?: string; sdp?: string } | undefined)
      .filter((d) => d?.type === 'answer')
      .at(-1)?.sdp;
    assert.equal(m.rtc.last.localDescription?.sdp, sentSdp);

    // The screen: one SSRC, one encoding, under its own cap.
    await m.groups.startScreenShare();
    m.receive(bridgeOffer('e1', bobsStreams));
    await settle();
    const s = m
      .answers()
      .at(-1)
      ?.sdp.mlines.find((l) => l.mid === 's');
    assert.equal(s?.ssrcs?.length, 1);
    assert.equal(s?.simulcast, undefined);
    const screen = m.rtc.last.transceivers.find((t) => t.mid === 's')?.sender;
    assert.deepEqual(screen?.getParameters().encodings, [{ maxBitrate: 2_500_000, active: true }]);
  });
}

test('a new session starts its simulcast afresh (its sender has new SSRCs)', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.receive(bridgeOffer('e2', bobsStreams));
  await settle();
  const [a, b] = m.answers().map((x) => x.sdp.mlines.find((l) => l.mid === 'v')?.simulcast);
  assert.equal(a?.length, 3);
  assert.equal(b?.length, 3);
  assert.equal(
    b?.some((ssrc) => a?.includes(ssrc)),
    false,
  );
});

test('the camera’s layers are capped from the capture size: the top one it fills at video_max_bitrate, those under it 150 kbit/s (320 wide) or 500 (640)', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const sender = () => m.rtc.last.transceivers.find((t) => t.mid === 'v')?.sender;
  const caps = () =>
    sender()
      ?.getParameters()
      .encodings.map((e) => e.maxBitrate);
  // The fake camera's 640x480 fills two layers (320 and 640 wide); the third stays silent.
  assert.deepEqual(caps(), [150_000, 1_000_000, 1_000_000]);

  // Settings switch to a 720p camera: three layers.
  const hd = new FakeTrack('video');
  hd.settings = { width: 1280, height: 720 };
  const audio = m.camera.getAudioTracks()[0] as FakeTrack;
  m.groups.updateLocalStream({
    getAudioTracks: () => [audio],
    getVideoTracks: () => [hd],
  } as unknown as MediaStream);
  await settle();
  assert.equal(sender()?.track, hd);
  assert.deepEqual(caps(), [150_000, 500_000, 1_000_000]);

  // A small camera: one layer, at the cap.
  const small = new FakeTrack('video');
  small.settings = { width: 320, height: 240 };
  m.groups.updateLocalStream({
    getAudioTracks: () => [audio],
    getVideoTracks: () => [small],
  } as unknown as MediaStream);
  await settle();
  assert.deepEqual(caps(), [1_000_000, 1_000_000, 1_000_000]);
});

/** The media channel as the bridge opens it, and what the member sent on it. */
async function mediaChannel(m: Member) {
  const channel = await m.rtc.last.openRemoteChannel(mediaChannelLabel);
  await settle();
  const views = () =>
    channel.messages().map((msg) => {
      const parsed = mediaChannelClientSchema.parse(msg);
      return parsed.tiles;
    });
  return { channel, views };
}

test('the view: shown videos by mid with their size in device pixels, the stage marked, audio and what is not shown left out; sent when the channel opens and at once after a new offer', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', [...bobsStreams, ...carolsStreams]));
  await settle();
  m.groups.setView({
    bob: { camera: { width: 1280.4, height: 719.6, stage: true } },
    carol: { camera: { width: 320, height: 240 } },
  });
  const { channel, views } = await mediaChannel(m);
  t.mock.timers.tick(0);
  assert.deepEqual(views(), [
    { f1: { width: 1280, height: 720, stage: true }, f3: { width: 320, height: 240 } },
  ]);
  assert.equal(channel.label, mediaChannelLabel);

  // Carol's tile scrolled out of sight: her camera leaves the view.
  m.groups.setView({ bob: { camera: { width: 1280, height: 720, stage: true } } });
  t.mock.timers.tick(viewDebounceMs);
  assert.deepEqual(views().at(-1), { f1: { width: 1280, height: 720, stage: true } });

  // Dave comes: the bridge offers his mids; his tile is shown; Bob leaves (inactive).
  m.groups.setView({
    bob: { camera: { width: 1280, height: 720, stage: true } },
    dave: { camera: { width: 0, height: 0 }, screen: { width: 640, height: 360 } },
  });
  m.receive(
    bridgeOffer('e1', [
      ...bobsStreams.map((s) => ({ ...s, gone: true as const })),
      { mid: 'f4', user: 'dave', source: 'camera' },
      { mid: 'f5', user: 'dave', source: 'screen' },
    ]),
  );
  await settle();
  t.mock.timers.tick(viewIntervalMs);
  assert.deepEqual(views().at(-1), { f5: { width: 640, height: 360 } }, 'at once, without Bob');
  const n = views().length;
  t.mock.timers.tick(viewDebounceMs * 4);
  assert.equal(views().length, n, 'said once');
});

test('the view goes out once sizes hold still, never the same twice, never faster than the bridge takes', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const { views } = await mediaChannel(m);
  t.mock.timers.tick(0);
  assert.deepEqual(views(), [], 'nothing before the screen says what it shows');

  // A window being resized: one view when it stops.
  for (let w = 300; w < 400; w += 10) {
    m.groups.setView({ bob: { camera: { width: w, height: w } } });
    t.mock.timers.tick(50);
  }
  assert.equal(views().length, 0);
  t.mock.timers.tick(viewDebounceMs);
  assert.deepEqual(views(), [{ f1: { width: 390, height: 390 } }]);

  // The same again, or back and forth before it was sent: nothing.
  m.groups.setView({ bob: { camera: { width: 390, height: 390 } } });
  m.groups.setView({ bob: { camera: { width: 100, height: 100 } } });
  m.groups.setView({ bob: { camera: { width: 390, height: 390 } } });
  t.mock.timers.tick(viewDebounceMs * 2);
  assert.equal(views().length, 1);

  // Offers in quick succession, each with a change: at most one view per interval.
  const started = Date.now();
  for (let i = 0; i < 20; i++) {
    m.groups.setView({ bob: { camera: { width: 100 + i, height: 100 } } });
    m.receive(bridgeOffer('e1', bobsStreams));
    await settle();
    t.mock.timers.tick(10);
  }
  t.mock.timers.tick(viewIntervalMs);
  const sent = views().length - 1;
  const elapsed = Date.now() - started;
  assert.ok(sent >= 1, 'the changes went out');
  assert.ok(sent <= Math.ceil(elapsed / viewIntervalMs) + 1, `${sent} views in ${elapsed} ms`);
  assert.ok(viewIntervalMs >= 1000 / maxViewsPerSecond);
  assert.deepEqual(views().at(-1), { f1: { width: 119, height: 100 } }, 'the last one wins');
});

test('a hidden page shows nothing: an empty view at once, and the tiles again when it is shown; a new session’s channel starts over', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.groups.setView({ bob: { camera: { width: 640, height: 480, stage: true } } });
  const { views } = await mediaChannel(m);
  t.mock.timers.tick(0);
  const bob = { f1: { width: 640, height: 480, stage: true } };
  assert.deepEqual(views(), [bob]);
  m.setHidden(true);
  t.mock.timers.tick(viewIntervalMs);
  assert.deepEqual(views(), [bob, {}]);
  m.setHidden(false);
  t.mock.timers.tick(viewIntervalMs);
  assert.deepEqual(views(), [bob, {}, bob]);

  // The bridge moved: the new session's channel gets the view again; the old one nothing.
  m.receive(bridgeOffer('e2', bobsStreams));
  await settle();
  assert.equal(m.page.listeners.size, 1, 'the old connection stopped listening');
  const next = await mediaChannel(m);
  t.mock.timers.tick(viewIntervalMs);
  assert.deepEqual(next.views(), [bob]);
  assert.equal(views().length, 3);

  m.groups.leave();
  assert.equal(m.page.listeners.size, 0);
});

test('what the bridge says on the media channel is checked: its errors and anything unknown are warned about, nothing breaks', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const { channel } = await mediaChannel(m);
  channel.receive(JSON.stringify({ type: 'error', code: 'rate_limited', msg: 'slow down' }));
  channel.receive('{"type":"layers","f1":2}');
  channel.receive('not json');
  assert.equal(warn.mock.callCount(), 3);
  assert.match(String(warn.mock.calls[0]?.arguments[0]), /rate_limited/);
  assert.equal(inGroup(m).phase, 'joined');
});

test('audio only: no video is received, so the view is empty', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.page.audioOnly = true;
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.groups.setView({ bob: { camera: { width: 640, height: 480 } } });
  const { views } = await mediaChannel(m);
  t.mock.timers.tick(viewDebounceMs);
  assert.deepEqual(views(), [{}]);
});

test('a camera that fills one layer (320x240), or none at the first answer, stays one stream for the whole session; the next session decides again', async () => {
  const m = member();
  (m.camera.getVideoTracks()[0] as FakeTrack).settings = { width: 320, height: 240 };
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  // Settings switch to a 720p camera mid-session: still one stream (Chromium would ignore a
  // SIM group now, and the bridge would wait for layers that never come).
  (m.camera.getVideoTracks()[0] as FakeTrack).settings = { width: 1280, height: 720 };
  m.receive(bridgeOffer('e1', [...bobsStreams, ...carolsStreams]));
  await settle();
  for (const a of m.answers()) {
    const v = a.sdp.mlines.find((l) => l.mid === 'v');
    assert.equal(v?.simulcast, undefined);
    assert.equal(v?.ssrcs?.length, 1);
  }
  m.receive(bridgeOffer('e2', bobsStreams));
  await settle();
  assert.equal(
    m
      .answers()
      .at(-1)
      ?.sdp.mlines.find((l) => l.mid === 'v')?.simulcast?.length,
    3,
  );

  // Audio only (no camera track): one stream.
  const a = member();
  a.camera.tracks.splice(1);
  joined(a);
  a.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  assert.equal(a.answers()[0]?.sdp.mlines.find((l) => l.mid === 'v')?.simulcast, undefined);
});

test('forwarded: until the bridge first says, every video has its picture; then only the mids it names, and a picture comes back when its mid is named again; a new session starts over', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', [...bobsStreams, ...carolsStreams]));
  await settle();
  const pictures = () =>
    Object.fromEntries(
      Object.entries(inGroup(m).media).map(([user, media]) => [user, media.forwarded.camera]),
    );
  assert.deepEqual(pictures(), { bob: true, carol: true }, 'an older bridge says nothing');
  const { channel } = await mediaChannel(m);

  const before = inGroup(m).media.carol;
  channel.receive(JSON.stringify({ type: 'forwarded', video: ['f1'] }));
  assert.deepEqual(pictures(), { bob: true, carol: false }, 'Carol is past the last-N');
  assert.equal(inGroup(m).media.carol?.camera, before?.camera, 'her audio plays on, same stream');
  assert.equal(inGroup(m).media.carol?.forwarded.screen, false);

  channel.receive(JSON.stringify({ type: 'forwarded', video: ['f3'] }));
  assert.deepEqual(pictures(), { bob: false, carol: true }, 'she spoke: her picture is back');
  // The same set again changes nothing the screen sees.
  const same = inGroup(m).media;
  channel.receive(JSON.stringify({ type: 'forwarded', video: ['f3'] }));
  assert.equal(inGroup(m).media.bob?.forwarded, same.bob?.forwarded);

  // A microphone's mid named (it is no video) gives nobody a picture.
  channel.receive(JSON.stringify({ type: 'forwarded', video: ['f0'] }));
  assert.deepEqual(pictures(), { bob: false, carol: false });

  m.receive(bridgeOffer('e2', [...bobsStreams, ...carolsStreams]));
  await settle();
  assert.deepEqual(pictures(), { bob: true, carol: true }, 'the new bridge has not said yet');
});

test('publish (dynacast): each camera encoding the bridge names is paused or resumed, lowest first; a source not named and an index past the end stay as they are; the screen has its own', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const sender = (mid: string) => m.rtc.last.transceivers.find((t) => t.mid === mid)?.sender;
  const active = (mid: string) =>
    sender(mid)
      ?.getParameters()
      .encodings.map((e) => e.active);
  const caps = () =>
    sender('v')
      ?.getParameters()
      .encodings.map((e) => e.maxBitrate);
  assert.deepEqual(active('v'), [true, true, true], 'all three until the bridge says');
  const { channel } = await mediaChannel(m);
  const publish = async (message: object) => {
    channel.receive(JSON.stringify({ type: 'publish', ...message }));
    await settle();
  };

  await publish({ camera: [true, false, false] });
  assert.deepEqual(active('v'), [true, false, false], 'only thumbnails wanted');
  assert.deepEqual(caps(), [150_000, 1_000_000, 1_000_000], 'the caps stay');

  await publish({ screen: [false] });
  assert.deepEqual(active('v'), [true, false, false], 'the camera was not named');

  await publish({ camera: [false] });
  assert.deepEqual(active('v'), [false, false, false], 'the rest of the list as it was');
  await publish({ camera: [true, true] });
  assert.deepEqual(active('v'), [true, true, false]);

  // The screen, shared, starts paused as the bridge last said; resumed when it is wanted.
  await m.groups.startScreenShare();
  await settle();
  assert.equal(sender('s')?.track !== null, true);
  assert.deepEqual(active('s'), [false]);
  await publish({ screen: [true] });
  assert.deepEqual(active('s'), [true]);
  assert.deepEqual(active('v'), [true, true, false]);

  // The same again sets nothing.
  const sets = sender('v')?.setLog.length;
  await publish({ camera: [true, true, false] });
  assert.equal(sender('v')?.setLog.length, sets);

  // A new session: its bridge has not asked for anything yet, so everything sends.
  m.receive(bridgeOffer('e2', bobsStreams));
  await settle();
  assert.deepEqual(active('v'), [true, true, true]);
});

test('publish on a camera of one stream: the encoding it has is paused; indexes past it are ignored', async () => {
  const m = member();
  (m.camera.getVideoTracks()[0] as FakeTrack).settings = { width: 320, height: 240 };
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const { channel } = await mediaChannel(m);
  const active = () =>
    m.rtc.last.transceivers
      .find((t) => t.mid === 'v')
      ?.sender.getParameters()
      .encodings.map((e) => e.active);
  channel.receive(JSON.stringify({ type: 'publish', camera: [false, true, true] }));
  await settle();
  assert.deepEqual(active(), [false], 'nobody watches: no video');
  channel.receive(JSON.stringify({ type: 'publish', camera: [true] }));
  await settle();
  assert.deepEqual(active(), [true]);
});

test('a publish or forwarded that does not fit the schema is logged and dropped', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const { channel } = await mediaChannel(m);
  channel.receive(JSON.stringify({ type: 'publish', camera: [false, false, false, false] }));
  channel.receive(JSON.stringify({ type: 'publish', camera: [0] }));
  channel.receive(JSON.stringify({ type: 'forwarded', video: 'f1' }));
  channel.receive(JSON.stringify({ type: 'forwarded', video: [], extra: 1 }));
  await settle();
  assert.equal(warn.mock.callCount(), 4);
  const v = m.rtc.last.transceivers.find((x) => x.mid === 'v')?.sender;
  assert.deepEqual(
    v?.getParameters().encodings.map((e) => e.active),
    [true, true, true],
  );
  assert.equal(inGroup(m).media.bob?.forwarded.camera, true);
});

test('joined with camera and microphone off, nothing is put on the senders (no black frames, no silence) and the camera sends no encoding; turned on later, it sends as the bridge last wanted', async () => {
  const m = member();
  const [audio, video] = [m.camera.getAudioTracks()[0], m.camera.getVideoTracks()[0]] as [
    FakeTrack,
    FakeTrack,
  ];
  audio.enabled = false;
  video.enabled = false;
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const sender = (mid: string) => m.rtc.last.transceivers.find((t) => t.mid === mid)?.sender;
  const active = () =>
    sender('v')
      ?.getParameters()
      .encodings.map((e) => e.active);
  assert.equal(sender('a')?.track, null, 'no microphone track');
  assert.equal(sender('v')?.track, null, 'no camera track');
  assert.deepEqual(active(), [false, false, false], 'no padding either');
  const v = m.answers()[0]?.sdp.mlines.find((l) => l.mid === 'v');
  assert.equal(v?.simulcast?.length, 3, 'simulcast decided from the capture, off or not');

  const { channel } = await mediaChannel(m);
  channel.receive(JSON.stringify({ type: 'publish', camera: [true, false, true] }));
  await settle();
  assert.deepEqual(active(), [false, false, false], 'still off: nothing to send');

  // "Camera" on: the track goes up with what the bridge last wanted.
  video.enabled = true;
  m.groups.updateLocalStream(m.camera as unknown as MediaStream);
  await settle();
  assert.equal(sender('v')?.track, video);
  assert.equal(sender('a')?.track, null, 'the microphone stays off');
  assert.deepEqual(active(), [true, false, true]);

  // Off again mid-call: no track, no encoding; the microphone on.
  video.enabled = false;
  audio.enabled = true;
  m.groups.updateLocalStream(m.camera as unknown as MediaStream);
  await settle();
  assert.equal(sender('v')?.track, null);
  assert.equal(sender('a')?.track, audio);
  assert.deepEqual(active(), [false, false, false]);

  // A new camera from Settings, on: the last wish applies to it too.
  const other = new FakeTrack('video');
  m.groups.updateLocalStream({
    getAudioTracks: () => [audio],
    getVideoTracks: () => [other],
  } as unknown as MediaStream);
  await settle();
  assert.equal(sender('v')?.track, other);
  assert.deepEqual(active(), [true, false, true]);
});

/** The focus pairs Alice with Bob (a room of two). */
const pairWithBob = (initiator: boolean) =>
  groupChannelMessage({
    channel,
    group: room,
    data: { p2p: { pair: 'p1', peer: 'bob', initiator } },
  });

/** A direct signal from Bob, relayed by the focus. */
const fromBob = (data: DirectSignal) =>
  directSignalMessage({
    source: 'bob',
    target: 'alice',
    channel,
    group: room,
    hash: 'group-hash',
    data,
  });

/** What Alice sent Bob directly, in order. */
const toBob = (m: Member) =>
  m.sent.filter((s) => s.subtype === 'webrtc_signal' && s.target === 'bob').map((s) => s.data);

/** Bob's description of the pair `p1`'s direct connection: its three sendrecv m-lines. */
const directDescription = (type: 'offer' | 'answer') =>
  fromBob({
    p2p: 'p1',
    type,
    sdp: fakeSdp([
      { mid: '0', kind: 'audio', dir: 'sendrecv' },
      { mid: '1', kind: 'video', dir: 'sendrecv' },
      { mid: '2', kind: 'video', dir: 'sendrecv' },
    ]),
  });

const reports = (m: Member) =>
  m.sent
    .filter((s) => s.subtype === 'webrtc_signal' && s.target === pipelinePeerId)
    .map((s) => (s.data as { p2p?: unknown }).p2p)
    .filter(Boolean);

/** The tracks Alice's upstream mids on the bridge carry now. */
const upstream = (m: Member) =>
  Object.fromEntries(
    (m.rtc.pcs[0]?.getTransceivers() ?? [])
      .filter((t) => t.mid === 'a' || t.mid === 'v')
      .map((t) => [t.mid, t.sender.track]),
  );

test('a room of two: the initiator offers three m-lines to the other member, reports connected, stops sending to the bridge once settled, and sends there again when the focus ends the pair', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const [mic, cam] = [m.camera.getAudioTracks()[0], m.camera.getVideoTracks()[0]];
  assert.deepEqual(upstream(m), { a: mic, v: cam });

  m.receive(pairWithBob(true));
  await settle();
  const direct = m.rtc.last;
  assert.notEqual(direct, m.rtc.pcs[0], 'a second peer connection');
  const offer = toBob(m).find((d) => (d as { type?: string }).type === 'offer') as {
    p2p: string;
    sdp: string;
  };
  assert.equal(offer.p2p, 'p1');
  assert.deepEqual(
    readFakeSdp(offer.sdp).mlines.map((l) => [l.kind, l.dir]),
    [
      ['audio', 'sendrecv'],
      ['video', 'sendrecv'],
      ['video', 'sendrecv'],
    ],
  );
  assert.deepEqual(toBob(m).at(0), { p2p: 'p1', media: { screen: false, video: true } });
  assert.deepEqual(
    direct.getTransceivers().map((x) => x.sender.track),
    [mic, cam, null],
    'microphone and camera on the direct connection, no screen',
  );
  // Bob answers; the connection comes up: told to the focus, media still on the bridge.
  m.receive(directDescription('answer'));
  await settle();
  direct.setIceState('connected');
  await settle();
  assert.deepEqual(reports(m), [{ pair: 'p1', state: 'connected' }]);
  assert.deepEqual(upstream(m), { a: mic, v: cam }, 'the bridge still carries it until settled');
  t.mock.timers.tick(1000);
  await settle();
  assert.deepEqual(upstream(m), { a: null, v: null }, 'nothing to the bridge once settled');
  const s = inGroup(m);
  assert.equal(s.direct, true);
  assert.deepEqual(
    s.media.bob?.camera?.getTracks(),
    direct
      .getTransceivers()
      .slice(0, 2)
      .map((x) => x.receiver.track),
    "Bob's tile shows the direct tracks",
  );
  // A signal of another pair is not for this one.
  m.receive(fromBob({ p2p: 'p0', media: { screen: true, video: true } }));

  // The focus ends the pair (a third joined): the bridge carries Alice again at once.
  m.receive(groupChannelMessage({ channel, group: room, data: { p2p: null } }));
  await settle();
  assert.deepEqual(upstream(m), { a: mic, v: cam });
  assert.equal(direct.closed, false, 'the direct connection stays while the bridge catches up');
  // No frame of Bob's through the bridge here: it gives up waiting after 1.5 s, closes 2 s later.
  for (let i = 0; i < 40; i++) {
    t.mock.timers.tick(100);
    await settle();
  }
  assert.equal(direct.closed, true);
  assert.equal(inGroup(m).direct, false);
});

test("back on the bridge, Bob's tile keeps the direct video until his video comes through the bridge (his audio there is not enough), and every camera encoding the bridge paused meanwhile goes again", async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  const bridge = m.rtc.pcs[0];
  const bridgeSide = (mid: string) => bridge?.transceivers.find((x) => x.mid === mid);
  const { channel: media } = await mediaChannel(m);
  m.receive(pairWithBob(true));
  await settle();
  const direct = m.rtc.last;
  m.receive(directDescription('answer'));
  await settle();
  direct.setIceState('connected');
  const directTracks = direct
    .getTransceivers()
    .slice(0, 2)
    .map((x) => x.receiver.track);
  // Bob's video arrives directly.
  (directTracks[1] as FakeTrack).muted = false;
  t.mock.timers.tick(1000);
  await settle();
  // Nothing goes to the bridge now; it pauses the camera's encodings nobody takes (dynacast).
  media.receive(JSON.stringify({ type: 'publish', camera: [false, false, false] }));
  await settle();
  const active = () =>
    bridgeSide('v')
      ?.sender.getParameters()
      .encodings.map((e) => e.active);
  assert.deepEqual(active(), [false, false, false]);

  m.receive(groupChannelMessage({ channel, group: room, data: { p2p: null } }));
  await settle();
  assert.deepEqual(active(), [true, true, true], 'every encoding goes until the bridge says');
  const shown = () => inGroup(m).media.bob?.camera?.getTracks();
  const inbound = (mid: string) => {
    const rx = bridgeSide(mid)?.receiver;
    assert.ok(rx, `a bridge receiver on ${mid}`);
    return rx.inbound;
  };
  inbound('f0').packetsReceived = 50;
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(100);
    await settle();
  }
  assert.deepEqual(
    shown(),
    directTracks,
    'his audio through the bridge: the tile keeps the direct video',
  );
  inbound('f1').framesDecoded = 1;
  for (let i = 0; i < 2; i++) {
    t.mock.timers.tick(100);
    await settle();
  }
  assert.deepEqual(
    shown(),
    [bridgeSide('f0')?.receiver.track, bridgeSide('f1')?.receiver.track],
    'his video through the bridge: the tile shows the bridge',
  );
});

test('the member who is not the initiator answers the direct offer with its microphone and camera', async () => {
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.receive(pairWithBob(false));
  await settle();
  const direct = m.rtc.last;
  assert.equal(toBob(m).filter((d) => (d as { type?: string }).type === 'offer').length, 0);
  m.receive(directDescription('offer'));
  await settle();
  const answer = toBob(m).find((d) => (d as { type?: string }).type === 'answer') as {
    sdp: string;
  };
  assert.ok(answer, 'the answerer answers');
  assert.deepEqual(
    direct.getTransceivers().map((x) => x.sender.track),
    [m.camera.getAudioTracks()[0], m.camera.getVideoTracks()[0], null],
  );
  m.groups.leave();
  assert.equal(direct.closed, true, 'leaving closes the direct connection too');
});

test("the joiner of a room of two answers the bridge's first offer once the direct connection is up, or after a second without it", async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const bridgeAnswers = (m: Member) =>
    m.sent.filter(
      (s) =>
        s.subtype === 'webrtc_signal' &&
        s.target === pipelinePeerId &&
        (s.data as { type?: string }).type === 'answer',
    ).length;
  const directAnswer = directDescription('answer');

  // The focus's word for the pair comes before the bridge's offer (as a join into a room of one).
  const m = member();
  joined(m);
  m.receive(pairWithBob(true));
  await settle();
  const direct = m.rtc.last;
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  assert.equal(bridgeAnswers(m), 0, 'the direct connection negotiates first');
  m.receive(directAnswer);
  await settle();
  direct.setIceState('connected');
  await settle();
  assert.equal(bridgeAnswers(m), 1, 'answered once the direct connection is up');

  // Without a direct connection coming up, the bridge's offer waits a second at most.
  const late = member();
  joined(late);
  late.receive(pairWithBob(true));
  await settle();
  late.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  t.mock.timers.tick(999);
  await settle();
  assert.equal(bridgeAnswers(late), 0);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(bridgeAnswers(late), 1, 'answered after a second');

  // Left and joined again while the offer waited: that offer was the call left's.
  const again = member();
  joined(again);
  again.receive(pairWithBob(true));
  await settle();
  again.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  again.groups.leave();
  again.groups.join(room);
  t.mock.timers.tick(1000);
  await settle();
  assert.equal(bridgeAnswers(again), 0, 'the call left answers nothing in the next');
});

test('a direct connection that is not up within 10 s is reported failed and closed; the room stays on the bridge', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const m = member();
  joined(m);
  m.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  m.receive(pairWithBob(true));
  await settle();
  const direct = m.rtc.last;
  t.mock.timers.tick(9_000);
  await settle();
  assert.deepEqual(reports(m), []);
  t.mock.timers.tick(1_000);
  await settle();
  assert.deepEqual(reports(m), [{ pair: 'p1', state: 'failed' }]);
  assert.equal(direct.closed, true);
  assert.deepEqual(upstream(m), {
    a: m.camera.getAudioTracks()[0],
    v: m.camera.getVideoTracks()[0],
  });
  assert.equal(inGroup(m).direct, false);
});

/** The track each upstream mid's sender carries now (null: none). */
function upstreamIds(m: Member): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const tx of m.rtc.last.getTransceivers())
    if (tx.mid === 'a' || tx.mid === 'v' || tx.mid === 's')
      out[tx.mid] = tx.sender.track?.id ?? null;
  return out;
}

/** On the landing page: the prejoin asked for and granted session `session`, its offer answered. */
async function prejoined(m: Member, session = 'p1') {
  m.groups.prepare(room);
  const pre = m.sent.at(-1) as { id: number; state: string; data: unknown };
  m.receive(
    groupPrejoinedMessage({
      reply_to: pre.id,
      channel,
      group: room,
      hash: 'group-hash',
      state: pre.state,
      session,
    }),
  );
  m.receive(bridgeOffer(session, bobsStreams));
  await settle();
  return pre;
}

test('prejoin: on the landing page the bridge session is made and answered with nothing on its senders, nobody listed; "Join call" carries it on and the senders take the tracks', async () => {
  const m = member();
  const pre = await prejoined(m);
  assert.deepEqual(pre.data, { prejoin: true });
  assert.deepEqual(m.groups.getState(), { phase: 'idle' }, 'not in a call: nothing shown');
  const [answer] = m.answers();
  assert.ok(answer, 'the prejoin’s offer was answered');
  assert.equal(answer.hash, 'group-hash');
  assert.equal(answer.channel, channel);
  assert.deepEqual(
    upstreamIds(m),
    { a: null, v: null, s: null },
    'nothing goes up before the join',
  );

  m.groups.join(room);
  const join = m.sent.at(-1);
  assert.equal(join?.subtype, 'webrtc_group');
  assert.deepEqual(join?.data, { p2p: true, session: 'p1' }, 'the join names the session');
  m.receive(
    groupJoinedMessage({
      reply_to: join?.id as number,
      channel,
      group: room,
      hash: 'group-hash',
      state: (join as { state: string }).state,
      members: membersOf('bob', 'alice'),
    }),
  );
  await settle();
  const [mic] = m.camera.getAudioTracks();
  const [cam] = m.camera.getVideoTracks();
  assert.deepEqual(upstreamIds(m), { a: mic?.id, v: cam?.id, s: null }, 'sending once joined');
  assert.equal(inGroup(m).phase, 'joined');
  assert.equal(
    inGroup(m).media.bob?.camera?.getTracks().length,
    2,
    'Bob’s media from the prejoin’s session, without a new offer',
  );
  assert.equal(m.rtc.pcs.length, 1, 'the same connection');
  assert.equal(m.rtc.last.closed, false);
});

test('a prejoin ends: leaving the page (or another room) closes its session and tells the server; refused or ended by the server it goes quietly; one the join did not carry on is not taken for the call', async () => {
  const m = member();
  await prejoined(m);
  m.groups.prepare(undefined);
  const hangup = m.sent.at(-1);
  assert.equal(hangup?.subtype, 'webrtc_hangup');
  assert.equal(hangup?.group, room);
  assert.equal(m.rtc.last.closed, true);

  // Refused (a guest before the room started): nothing more is sent, and the join goes the
  // ordinary way.
  m.groups.prepare(room);
  const refused = m.sent.at(-1) as { id: number };
  const before = m.sent.length;
  m.receive(errorMessage('create_restricted', 'not yet', refused.id));
  assert.equal(m.sent.length, before);
  assert.deepEqual(m.groups.getState(), { phase: 'idle' }, 'a prejoin refused is no failure');
  m.groups.join(room);
  assert.deepEqual(m.sent.at(-1)?.data, { p2p: true });

  // Ended by the server (expired, or its conference closed): its session closes and another
  // is asked for, a bounded number of times; a join before that one is granted names none.
  const n = member();
  await prejoined(n, 'p2');
  n.receive(groupChannelMessage({ channel, group: room, data: { prejoined: null } }));
  assert.equal(n.rtc.last.closed, true);
  assert.deepEqual(n.sent.at(-1)?.data, { prejoin: true }, 'asked again');
  for (let i = 0; i < 20; i++)
    n.receive(groupChannelMessage({ channel, group: room, data: { prejoined: null } }));
  assert.equal(
    n.sent.filter((s) => (s.data as { prejoin?: boolean } | undefined)?.prejoin).length,
    1 + 12,
    'at most twelve times again',
  );
  n.groups.join(room);
  assert.deepEqual(n.sent.at(-1)?.data, { p2p: true });

  // "Join call" before the server granted it: the join goes without it, and the grant and
  // offer that come after are not the call's.
  const o = member();
  o.groups.prepare(room);
  const asked = o.sent.at(-1) as { id: number; state: string };
  o.groups.join(room);
  o.receive(
    groupPrejoinedMessage({
      reply_to: asked.id,
      channel,
      group: room,
      hash: 'group-hash',
      state: asked.state,
      session: 'p3',
    }),
  );
  o.receive(bridgeOffer('p3', bobsStreams));
  await settle();
  assert.equal(o.answers().length, 0, 'the dropped session’s offer is not answered');
  assert.equal(o.rtc.pcs.length, 0);
  joinedAfter(o);
  o.receive(bridgeOffer('e1', bobsStreams));
  await settle();
  assert.equal(o.answers().length, 1);
  assert.equal(o.rtc.pcs.length, 1);
});

/** The welcome for the last join sent. */
function joinedAfter(m: Member) {
  const join = m.sent.findLast((s) => s.subtype === 'webrtc_group') as {
    id: number;
    state: string;
  };
  m.receive(
    groupJoinedMessage({
      reply_to: join.id,
      channel,
      group: room,
      hash: 'group-hash',
      state: join.state,
      members: membersOf('alice'),
    }),
  );
}

test('a joiner whose join reply pairs it (a room of one it made two) sends the bridge nothing while the direct connection comes up and while it is up; when it drops, or is not up within a second, the bridge carries this side', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  /** Joined with a prejoin's session; the reply pairs Alice with Bob, Alice answering. */
  const pairedJoin = async () => {
    const m = member();
    await prejoined(m);
    m.groups.join(room);
    const join = m.sent.at(-1) as { id: number; state: string };
    m.receive(
      groupJoinedMessage({
        reply_to: join.id,
        channel,
        group: room,
        hash: 'group-hash',
        state: join.state,
        members: membersOf('bob', 'alice'),
        p2p: { pair: 'p1', peer: 'bob', initiator: false },
      }),
    );
    await settle();
    return m;
  };
  const m = await pairedJoin();
  const nothing = { a: null, v: null };
  assert.deepEqual(upstream(m), nothing, 'nothing to the bridge while the direct one comes up');
  const direct = m.rtc.last;
  assert.notEqual(direct, m.rtc.pcs[0], 'the direct connection is made at the join reply');
  m.receive(directDescription('offer'));
  await settle();
  direct.setIceState('connected');
  await settle();
  t.mock.timers.tick(5000);
  await settle();
  assert.deepEqual(upstream(m), nothing, 'nor while it is up');
  // It drops: the bridge carries Alice again at once.
  direct.setIceState('disconnected');
  await settle();
  assert.deepEqual(upstream(m), {
    a: m.camera.getAudioTracks()[0],
    v: m.camera.getVideoTracks()[0],
  });

  // Not up within a second: the bridge carries Alice meanwhile, as the fallback.
  const late = await pairedJoin();
  t.mock.timers.tick(999);
  await settle();
  assert.deepEqual(upstream(late), nothing);
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(upstream(late), {
    a: late.camera.getAudioTracks()[0],
    v: late.camera.getVideoTracks()[0],
  });
});

test('the lobby: a join held shows "Asking to join…", the join reply once admitted takes the member in; the owner hears who asks; denied or ended, it is out and does not join again by itself', () => {
  const m = member();
  m.groups.join(room);
  const join = m.sent[0] as { id: number; state: string };
  m.receive(
    groupWaitingMessage({ reply_to: join.id, group: room, state: join.state, lobby: true }),
  );
  assert.equal(inGroup(m).asking, true);
  m.receive(
    groupJoinedMessage({
      reply_to: join.id,
      channel,
      group: room,
      hash: 'group-hash',
      state: join.state,
      members: { ...membersOf('bob', 'alice'), lobby: true },
    }),
  );
  assert.equal(inGroup(m).asking, false);
  assert.equal(inGroup(m).phase, 'joined');
  assert.equal(inGroup(m).lobby, true);
  const knock = [{ id: 'guest-1', name: 'John', guest: true }];
  m.receive(groupChannelMessage({ channel, group: room, data: { knocking: knock } }));
  assert.deepEqual(inGroup(m).knocking, knock);

  // Denied: out of the call, with who said so and when; signaling coming back joins nothing.
  m.receive(
    groupChannelMessage({ channel, group: room, data: { denied: { by: 'bob', name: 'BOB' } } }),
  );
  const s = m.groups.getState();
  assert.equal(s.phase, 'failed');
  assert.equal(s.phase === 'failed' && s.reason, 'denied');
  assert.equal(s.phase === 'failed' && s.message, 'BOB');
  assert.ok(s.phase === 'failed' && typeof s.at === 'number');
  const before = m.sent.length;
  m.groups.reconnected();
  assert.equal(m.sent.length, before, 'no join of its own');

  const e = member();
  joined(e);
  e.receive(
    groupChannelMessage({ channel, group: room, data: { ended: { by: 'alice', name: 'ALICE' } } }),
  );
  const ended = e.groups.getState();
  assert.deepEqual(ended.phase === 'failed' && [ended.reason, ended.message], ['ended', 'ALICE']);
  assert.equal(
    e.rtc.pcs.every((pc) => pc.closed),
    true,
    'its media closed',
  );
});

test('the meeting’s actions go to the pipeline in the shapes the server takes; a reaction shows over its sender for a moment', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const m = member();
  joined(m);
  const g = m.groups;
  g.raiseHand(true);
  g.react('clap');
  g.lowerHand('bob');
  g.setLobby(true);
  g.admit('carol');
  g.admitAll();
  g.deny('dave');
  g.makeOwner('bob');
  g.muteAll();
  g.endMeeting();
  const actions = m.sent.filter((s) => s.subtype === 'webrtc_signal');
  for (const a of actions) {
    assert.equal(a.target, pipelinePeerId);
    assert.equal(a.hash, 'group-hash');
    assert.ok(pipelineSignalSchema.safeParse(a.data).success, JSON.stringify(a.data));
  }
  assert.deepEqual(
    actions.map((a) => a.data),
    [
      { hand: true },
      { reaction: 'clap' },
      { lowerHand: { user: 'bob' } },
      { lobby: true },
      { admit: { user: 'carol' } },
      { admitAll: true },
      { deny: { user: 'dave' } },
      { makeOwner: { user: 'bob' } },
      { muteAll: true },
      { end: true },
    ],
  );
  m.receive(
    groupChannelMessage({
      channel,
      group: room,
      data: { reaction: { user: 'bob', reaction: 'heart' } },
    }),
  );
  assert.deepEqual(
    inGroup(m).reactions.map((r) => [r.user, r.reaction]),
    [['bob', 'heart']],
  );
  t.mock.timers.tick(reactionShownMs);
  assert.deepEqual(inGroup(m).reactions, []);
});
