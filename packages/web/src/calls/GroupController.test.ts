import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  errorMessage,
  type ForwardedStream,
  groupChannelMessage,
  groupJoinedMessage,
  pipelinePeerId,
  pipelineSignalMessage,
  type ServerMessage,
  serverMessageSchema,
  type WebrtcClientDraft,
  webrtcMessageSchema,
} from '@confab/protocol';
import { FakeRtc, fakeCamera, fakeSdp, readFakeSdp, settle } from './FakeRtc.js';
import { GroupController } from './GroupController.js';

const room = 'group/team';
const channel = '@group/team';

/** Alice in the group room, with a camera, a fake WebRTC, and the server played by the test. */
function member() {
  const rtc = new FakeRtc();
  const camera = fakeCamera();
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
    audioOnly: () => false,
    rtc: rtc.api,
    onMutedByOwner: () => mutedByOwner++,
  });
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
  assert.deepEqual(again?.data, { session: 'e1' });

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
