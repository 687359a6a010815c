import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipelinePeerId } from './group.js';
import {
  answeredMessage,
  callChannelMessage,
  callSignalMessage,
  errorMessage,
  goodbyeMessage,
  groupChannelMessage,
  groupJoinedMessage,
  groupPrejoinedMessage,
  groupWaitingMessage,
  hangupMessage,
  helloMessage,
  pipelineSignalMessage,
  pongMessage,
  ringClearedMessage,
  ringMessage,
} from './serverMessageBuilders.js';
import { pipelineSignalOf, serverMessageSchema } from './serverMessages.js';

const members = {
  group: 'group/team',
  members: ['alice'],
  reset: true,
  participants: [{ id: 'alice', name: 'Alice', owner: true, guest: false, muted: false }],
};

/** One of each kind, as the server builds them. */
const built = [
  helloMessage({ id: 'alice', name: 'Alice', auth: '' }),
  goodbyeMessage(),
  pongMessage({ id: 3, ts: 12 }),
  errorMessage('conference_full', 'the conference is full', 4),
  callChannelMessage({ reply_to: 1, channel: '*abc', hash: 'h' }),
  ringMessage({
    source: 'alice',
    target: 'bob',
    name: 'Alice',
    state: 's',
    channel: '*abc',
    hash: 'h',
  }),
  ringClearedMessage({ source: 'alice', state: 's', channel: '*abc' }),
  answeredMessage({
    source: 'bob',
    target: 'alice',
    name: 'Bob',
    state: 's',
    channel: '*abc',
    hash: 'h',
    data: { accept: true, state: 's' },
  }),
  callSignalMessage({
    source: 'bob',
    target: 'alice',
    channel: '*abc',
    hash: 'h',
    state: 's',
    data: { noop: true },
  }),
  hangupMessage({
    source: 'bob',
    target: 'alice',
    channel: '*abc',
    hash: 'h',
    state: 's',
    reason: 'hangup',
    callState: 's',
  }),
  groupJoinedMessage({
    reply_to: 2,
    channel: '@group/team',
    group: 'group/team',
    hash: 'g',
    state: 'x',
    members,
  }),
  groupWaitingMessage({ reply_to: 2, group: 'group/public/demo', state: 'x' }),
  groupPrejoinedMessage({
    reply_to: 3,
    channel: '@group/team',
    group: 'group/team',
    hash: 'g',
    state: 'x',
    session: 'e2',
  }),
  groupChannelMessage({ channel: '@group/team', group: 'group/team', data: { prejoined: null } }),
  groupChannelMessage({
    channel: '@group/team',
    group: 'group/team',
    data: { restarted: { code: 'media_failed' } },
  }),
  pipelineSignalMessage({
    target: 'alice',
    channel: '@group/team',
    group: 'group/team',
    hash: 'g',
    session: 'e1',
    data: { type: 'offer', sdp: 'v=0', streams: {}, session: 'e1' },
  }),
];

test('every message the server builds parses, through JSON, as itself', () => {
  for (const message of built) {
    const parsed = serverMessageSchema.safeParse(JSON.parse(JSON.stringify(message)));
    assert.ok(parsed.success, `${JSON.stringify(message)}: ${parsed.error?.message}`);
    assert.deepEqual(parsed.data, message);
  }
});

test('builders leave out what is not given, as kwm does (no transaction, no pcid)', () => {
  const ring = ringMessage({
    source: 'a',
    target: 'b',
    name: 'A',
    state: 's',
    channel: '*c',
    hash: 'h',
    pcid: '',
  });
  assert.equal('pcid' in ring, false);
  assert.deepEqual(errorMessage('bad_message', 'no'), {
    type: 'error',
    error: { code: 'bad_message', msg: 'no' },
  });
});

test('the join reply names the pipeline peer as kwmjs expects it', () => {
  const joined = built.find(
    (m) => m.type === 'webrtc' && m.subtype === 'webrtc_channel' && m.data && 'pipeline' in m.data,
  );
  assert.ok(joined?.type === 'webrtc' && joined.subtype === 'webrtc_channel');
  assert.deepEqual(joined.data, {
    group: members,
    pipeline: { pipeline: pipelinePeerId, mode: 'mcu-forward' },
  });
});

test('what is not a server message is refused; an error code from a newer server is not', () => {
  const newer = { type: 'error', reply_to: 3, error: { code: 'made_up_later', msg: 'x' } };
  assert.deepEqual(serverMessageSchema.parse(newer), newer);
  for (const bad of [
    { type: 'webrtc', subtype: 'webrtc_group', channel: '@x' },
    { type: 'error', error: { code: 7, msg: 'x' } },
    { type: 'webrtc', subtype: 'webrtc_channel', channel: '@group/t', data: { muted: true } },
    { type: 'nope' },
  ])
    assert.equal(serverMessageSchema.safeParse(bad).success, false, JSON.stringify(bad));
});

test('a pipeline signal is read only from the pipeline peer', () => {
  const signal = built.find(
    (m) => m.type === 'webrtc' && m.subtype === 'webrtc_signal' && m.source === pipelinePeerId,
  );
  assert.ok(signal?.type === 'webrtc' && signal.subtype === 'webrtc_signal');
  assert.equal(pipelineSignalOf(signal)?.session, 'e1');
  assert.equal(pipelineSignalOf({ ...signal, source: 'mallory' }), undefined);
});
