import type { RtmErrorCode } from './errors.js';
import {
  type DirectPair,
  type DirectSignal,
  type FromPipelineSignal,
  type GroupChannelData,
  type GroupChannelPayload,
  pipelineMode,
  pipelinePeerId,
} from './group.js';
import type { ChatMessage, ChatProfile } from './meeting.js';
import { type CallAnswer, chatsVersion, type RtmSelf, webrtcVersion } from './rtm.js';
import type {
  AnsweredMessage,
  ChannelMessage,
  ChatsServerMessage,
  ErrorMessage,
  GoodbyeMessage,
  HangupMessage,
  HelloMessage,
  PongMessage,
  RingMessage,
  SignalMessage,
} from './serverMessages.js';

/**
 * One builder per kind of message the server sends, so that every place that sends one makes
 * the same shape (`serverMessages.ts` says what each means). Optional fields left undefined are
 * not sent.
 */

/** Drops the keys whose value is undefined, so that a message carries only what it says. */
function defined<T extends object>(message: T): T {
  for (const key of Object.keys(message) as (keyof T)[])
    if (message[key] === undefined) delete message[key];
  return message;
}

export function helloMessage(self: RtmSelf): HelloMessage {
  return {
    type: 'hello',
    self: { id: self.id, name: self.name, auth: self.auth },
    server_status: {},
  };
}

export function goodbyeMessage(): GoodbyeMessage {
  return { type: 'goodbye' };
}

/** The answer to a ping: the same fields. */
export function pongMessage(ping: { id: number; ts?: number; transaction?: string }): PongMessage {
  return defined({ type: 'pong', id: ping.id, ts: ping.ts, transaction: ping.transaction });
}

export function errorMessage(code: RtmErrorCode, msg: string, replyTo?: number): ErrorMessage {
  return defined({ type: 'error', reply_to: replyTo, error: { code, msg } });
}

/** The caller's new call: its channel and pair hash. */
export function callChannelMessage(f: {
  reply_to: number;
  channel: string;
  hash: string;
  transaction?: string | undefined;
}): ChannelMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_channel',
    reply_to: f.reply_to,
    channel: f.channel,
    hash: f.hash,
    v: webrtcVersion,
    transaction: f.transaction || undefined,
  });
}

/** A call rings on one of the callee's connections. */
export function ringMessage(f: {
  source: string;
  target: string;
  name: string;
  state: string;
  channel: string;
  hash: string;
  pcid?: string | undefined;
}): RingMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_call',
    source: f.source,
    target: f.target,
    profile: { name: f.name },
    initiator: true,
    state: f.state,
    channel: f.channel,
    hash: f.hash,
    v: webrtcVersion,
    pcid: f.pcid || undefined,
  });
}

/** The callee's other devices stop ringing: a call with no target ("cleared", as in kwm). */
export function ringClearedMessage(f: {
  source: string;
  state: string;
  channel: string;
}): RingMessage {
  return {
    type: 'webrtc',
    subtype: 'webrtc_call',
    source: f.source,
    initiator: true,
    state: f.state,
    channel: f.channel,
    v: webrtcVersion,
  };
}

/** The callee's answer, to the caller. */
export function answeredMessage(f: {
  source: string;
  target: string;
  name: string;
  state: string;
  channel: string;
  hash: string;
  data: CallAnswer;
  pcid?: string | undefined;
}): AnsweredMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_call',
    source: f.source,
    target: f.target,
    profile: { name: f.name },
    initiator: false,
    state: f.state,
    channel: f.channel,
    hash: f.hash,
    v: webrtcVersion,
    data: f.data,
    pcid: f.pcid || undefined,
  });
}

/** A signal from one member of a call to the other, its data as the sender gave it. */
export function callSignalMessage(f: {
  source: string;
  target: string;
  channel: string;
  hash: string;
  state: string;
  data: unknown;
  pcid?: string | undefined;
}): SignalMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_signal',
    source: f.source,
    target: f.target,
    channel: f.channel,
    hash: f.hash,
    state: f.state,
    v: webrtcVersion,
    pcid: f.pcid || undefined,
    data: f.data,
  });
}

/** A call ended, from `source`'s side; `callState` is the caller's `state` of the call. */
export function hangupMessage(f: {
  source: string;
  target: string;
  channel: string;
  hash: string;
  state: string;
  reason: string;
  callState: string;
}): HangupMessage {
  return {
    type: 'webrtc',
    subtype: 'webrtc_hangup',
    source: f.source,
    target: f.target,
    channel: f.channel,
    hash: f.hash,
    state: f.state,
    v: webrtcVersion,
    data: { accept: false, reason: f.reason, state: f.callState },
  };
}

/** The reply to a member's `webrtc_group`: the channel, its hash, who is there, the pipeline. */
export function groupJoinedMessage(f: {
  reply_to: number;
  channel: string;
  group: string;
  hash: string;
  state: string;
  transaction?: string | undefined;
  members: GroupChannelData;
  /** The direct pair of a room of two the join made (Confab's addition). */
  p2p?: DirectPair | undefined;
}): ChannelMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_channel',
    reply_to: f.reply_to,
    channel: f.channel,
    group: f.group,
    hash: f.hash,
    state: f.state,
    v: webrtcVersion,
    transaction: f.transaction || undefined,
    data: {
      group: f.members,
      pipeline: { pipeline: pipelinePeerId, mode: pipelineMode },
      ...(f.p2p ? { p2p: f.p2p } : {}),
    },
  });
}

/**
 * The reply to a prejoin (`webrtc_group` with `data.prejoin`): the session held on the bridge,
 * with the hash its pipeline signals carry, and nobody's name.
 */
export function groupPrejoinedMessage(f: {
  reply_to: number;
  channel: string;
  group: string;
  hash: string;
  state: string;
  transaction?: string | undefined;
  session: string;
}): ChannelMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_channel',
    reply_to: f.reply_to,
    channel: f.channel,
    group: f.group,
    hash: f.hash,
    state: f.state,
    v: webrtcVersion,
    transaction: f.transaction || undefined,
    data: { prejoined: { session: f.session } },
  });
}

/**
 * The reply to a `webrtc_group` that is held, without a hash: a guest's before the room
 * started (`{waiting: true}`), or anyone's while the lobby is on (`{asking: true}`).
 */
export function groupWaitingMessage(f: {
  reply_to: number;
  group: string;
  state: string;
  transaction?: string | undefined;
  lobby?: boolean;
}): ChannelMessage {
  return defined({
    type: 'webrtc',
    subtype: 'webrtc_channel',
    reply_to: f.reply_to,
    channel: `@${f.group}`,
    group: f.group,
    state: f.state,
    v: webrtcVersion,
    transaction: f.transaction || undefined,
    data: f.lobby ? { asking: true } : { waiting: true },
  });
}

/**
 * News in a group channel: who is there, a replaced or moderated member, the speaker, a media
 * session restarted or failed.
 */
export function groupChannelMessage(f: {
  channel: string;
  group: string;
  data: GroupChannelPayload;
}): ChannelMessage {
  return {
    type: 'webrtc',
    subtype: 'webrtc_channel',
    channel: f.channel,
    group: f.group,
    v: webrtcVersion,
    data: f.data,
  };
}

/**
 * A signal from the pipeline peer to one member. kwmjs drops one whose `state` is not the
 * pipeline's id, and takes a new `pcid` as a new peer connection: the session is the pcid.
 */
export function pipelineSignalMessage(f: {
  target: string;
  channel: string;
  group: string;
  hash: string;
  session: string;
  data: FromPipelineSignal;
}): SignalMessage {
  return {
    type: 'webrtc',
    subtype: 'webrtc_signal',
    source: pipelinePeerId,
    target: f.target,
    channel: f.channel,
    group: f.group,
    hash: f.hash,
    state: pipelinePeerId,
    pcid: f.session,
    v: webrtcVersion,
    data: f.data,
  };
}

/**
 * A signal from one member of a direct pair to the other, relayed by the focus in the group
 * channel; `state` is the pair's id.
 */
export function directSignalMessage(f: {
  source: string;
  target: string;
  channel: string;
  group: string;
  hash: string;
  data: DirectSignal;
}): SignalMessage {
  return {
    type: 'webrtc',
    subtype: 'webrtc_signal',
    source: f.source,
    target: f.target,
    channel: f.channel,
    group: f.group,
    hash: f.hash,
    state: f.data.p2p,
    v: webrtcVersion,
    data: f.data,
  };
}

/**
 * A chat message in `channel`: to its sender as the reply (`reply_to`), to the others with who
 * said it (`profile`), and to a late joiner as `history`.
 */
export function chatMessage(f: {
  channel: string;
  data: ChatMessage;
  reply_to?: number;
  profile?: ChatProfile;
  history?: boolean;
}): ChatsServerMessage {
  return defined({
    type: 'chats',
    subtype: 'chats_message',
    reply_to: f.reply_to,
    channel: f.channel,
    profile: f.profile,
    v: chatsVersion,
    history: f.history,
    data: f.data,
  });
}

/** kwm's delivery report to the sender: the message `id` went out to the channel. */
export function chatQueuedMessage(f: { channel: string; id: string }): ChatsServerMessage {
  return {
    type: 'chats',
    subtype: 'chats_system',
    channel: f.channel,
    v: chatsVersion,
    data: { id: f.id, kind: 'delivery_queued' },
  };
}

/**
 * The end of the meeting as kwm clients hear it: a hangup from the pipeline peer in the group
 * channel (kwmjs ends its pipeline connection; Confab's web app reads `{ended}`).
 */
export function groupHangupMessage(f: {
  target: string;
  channel: string;
  group: string;
  hash: string;
}): HangupMessage {
  return {
    type: 'webrtc',
    subtype: 'webrtc_hangup',
    source: pipelinePeerId,
    target: f.target,
    channel: f.channel,
    group: f.group,
    hash: f.hash,
    state: pipelinePeerId,
    v: webrtcVersion,
    data: { accept: false, reason: 'hangup', state: pipelinePeerId },
  };
}
