import { z } from 'zod';
import { rtmErrorCodes } from './errors.js';
import {
  type DirectSignal,
  directSignalSchema,
  fromPipelineSignalSchema,
  groupChannelPayloadSchema,
  pipelinePeerId,
} from './group.js';
import { chatMessageSchema, chatProfileSchema } from './meeting.js';
import { callAnswerSchema } from './rtm.js';

/**
 * What the server sends on the RTM socket, one schema per message kind (docs/protocol.md). The
 * server builds them with `serverMessageBuilders.ts`; clients parse what arrives with
 * `serverMessageSchema` instead of casting. Objects strip fields they do not name, so a field
 * added later does not break an older client. Field names and subtypes are kwm's (kwmjs reads
 * them), with Confab's additions marked.
 */

const selfSchema = z.object({ id: z.string(), name: z.string(), auth: z.string() });

export const helloMessageSchema = z.object({
  type: z.literal('hello'),
  self: selfSchema,
  server_status: z.record(z.string(), z.unknown()).optional(),
});

export const goodbyeMessageSchema = z.object({ type: z.literal('goodbye') });

export const pongMessageSchema = z.object({
  type: z.literal('pong'),
  id: z.number(),
  ts: z.number().optional(),
  transaction: z.string().optional(),
});

/**
 * kwm's error frame; `reply_to` when the failed message's id could be read. The server sends
 * only the catalogue's codes (`errorMessage` takes an `RtmErrorCode`), but a client takes any
 * code: one a newer server added must still end what the client was waiting for (as a failure
 * it has no better word for), not be dropped and leave it waiting.
 */
export const errorMessageSchema = z.object({
  type: z.literal('error'),
  reply_to: z.number().optional(),
  error: z.object({ code: z.union([z.enum(rtmErrorCodes), z.string().max(128)]), msg: z.string() }),
});

const webrtc = { type: z.literal('webrtc'), v: z.number().optional() } as const;

/**
 * The reply to a `webrtc_call` that starts a call (its channel and pair hash) or to a
 * `webrtc_group` (the group channel); and, in a group, news about it with `data`.
 */
export const channelMessageSchema = z.object({
  ...webrtc,
  subtype: z.literal('webrtc_channel'),
  reply_to: z.number().optional(),
  channel: z.string(),
  /** Group channels only: the room, `group/<name>`. */
  group: z.string().optional(),
  /** The pair hash to present in this channel; none for a guest held waiting. */
  hash: z.string().optional(),
  state: z.string().optional(),
  transaction: z.string().optional(),
  data: groupChannelPayloadSchema.optional(),
});

/**
 * A call rings (`initiator: true` with a target), stops ringing because another device of the
 * callee answered (`initiator: true` without target, kwm's "cleared"), or is answered
 * (`initiator: false`, `data` the callee's answer).
 */
const ringMessageSchema = z.object({
  ...webrtc,
  subtype: z.literal('webrtc_call'),
  initiator: z.literal(true),
  source: z.string(),
  /** Absent when the call was answered elsewhere: stop ringing. */
  target: z.string().optional(),
  profile: z.object({ name: z.string() }).optional(),
  state: z.string(),
  channel: z.string(),
  hash: z.string().optional(),
  pcid: z.string().optional(),
});
const answeredMessageSchema = z.object({
  ...webrtc,
  subtype: z.literal('webrtc_call'),
  initiator: z.literal(false),
  source: z.string(),
  target: z.string(),
  profile: z.object({ name: z.string() }).optional(),
  state: z.string(),
  channel: z.string(),
  hash: z.string(),
  pcid: z.string().optional(),
  data: callAnswerSchema,
});
export const callMessageSchema = z.discriminatedUnion('initiator', [
  ringMessageSchema,
  answeredMessageSchema,
]);

/**
 * A signal: from the other member of a call (its `data` is the peers' own, opaque to the server;
 * `callSignalDataSchema` is the web app's) or from the pipeline peer in a group.
 */
export const signalMessageSchema = z.object({
  ...webrtc,
  subtype: z.literal('webrtc_signal'),
  source: z.string(),
  target: z.string(),
  channel: z.string(),
  /** Group signals only (from the pipeline peer, or the other member of a direct pair). */
  group: z.string().optional(),
  hash: z.string(),
  state: z.string(),
  pcid: z.string().optional(),
  data: z.unknown(),
});

/** A call ended; `data.reason` says why. */
export const hangupMessageSchema = z.object({
  ...webrtc,
  subtype: z.literal('webrtc_hangup'),
  source: z.string(),
  target: z.string(),
  channel: z.string(),
  /** A group's hangup (the meeting ended): the room. */
  group: z.string().optional(),
  hash: z.string(),
  state: z.string(),
  data: z.object({
    accept: z.literal(false),
    /** One of `callEndReasons`, or what the other client said. */
    reason: z.string(),
    state: z.string(),
  }),
});

export const webrtcServerMessageSchema = z.discriminatedUnion('subtype', [
  channelMessageSchema,
  callMessageSchema,
  signalMessageSchema,
  hangupMessageSchema,
]);

/**
 * kwm's chat (`type: "chats"`): a message in a group or call channel. To its sender the reply
 * (`reply_to`, the message with its id and time) and a `chats_system` of kind
 * `delivery_queued`; to everyone else the message with `profile` (who said it). Confab's
 * addition: `history: true` on what was said before this member joined, sent after the join.
 */
export const chatsServerMessageSchema = z.object({
  type: z.literal('chats'),
  subtype: z.enum(['chats_message', 'chats_system']),
  reply_to: z.number().optional(),
  channel: z.string(),
  profile: chatProfileSchema.optional(),
  v: z.number(),
  history: z.boolean().optional(),
  data: z.union([chatMessageSchema, z.object({ id: z.string(), kind: z.string() })]),
});

/** Every message the server sends. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  helloMessageSchema,
  goodbyeMessageSchema,
  pongMessageSchema,
  errorMessageSchema,
  webrtcServerMessageSchema,
  chatsServerMessageSchema,
]);

export type ServerMessage = z.output<typeof serverMessageSchema>;
export type HelloMessage = z.output<typeof helloMessageSchema>;
export type GoodbyeMessage = z.output<typeof goodbyeMessageSchema>;
export type PongMessage = z.output<typeof pongMessageSchema>;
export type ErrorMessage = z.output<typeof errorMessageSchema>;
export type WebrtcServerMessage = z.output<typeof webrtcServerMessageSchema>;
export type ChannelMessage = z.output<typeof channelMessageSchema>;
export type CallMessage = z.output<typeof callMessageSchema>;
export type RingMessage = z.output<typeof ringMessageSchema>;
export type AnsweredMessage = z.output<typeof answeredMessageSchema>;
export type SignalMessage = z.output<typeof signalMessageSchema>;
export type HangupMessage = z.output<typeof hangupMessageSchema>;
export type ChatsServerMessage = z.output<typeof chatsServerMessageSchema>;

/** A signal from the pipeline peer, with its `data` parsed; undefined for anything else. */
export function pipelineSignalOf(
  message: SignalMessage,
): z.output<typeof fromPipelineSignalSchema> | undefined {
  if (message.source !== pipelinePeerId) return undefined;
  return fromPipelineSignalSchema.safeParse(message.data).data;
}

/** A signal from the other member of this client's direct pair, with its `data` parsed. */
export function directSignalOf(message: SignalMessage): DirectSignal | undefined {
  if (message.source === pipelinePeerId || !message.group) return undefined;
  return directSignalSchema.safeParse(message.data).data;
}

/**
 * `data` of one-to-one call signals as Confab's web app sends and reads them (W3C perfect
 * negotiation over kwm): descriptions, trickled candidates (null at the end), `{noop: true}` on
 * coming back after a signaling drop, and which mid carries a shared screen. Other clients
 * (kwmjs) send other shapes, which the server passes on untouched and the web app ignores.
 */
export const callSignalDataSchema = z.union([
  z.object({ type: z.enum(['offer', 'answer']), sdp: z.string() }),
  z.object({
    candidate: z
      .object({
        candidate: z.string().optional(),
        sdpMid: z.string().nullish(),
        sdpMLineIndex: z.number().nullish(),
        usernameFragment: z.string().nullish(),
      })
      .nullable(),
  }),
  z.object({ noop: z.literal(true) }),
  z.object({ screenshare: z.object({ mid: z.string() }).nullable() }),
]);
export type CallSignalData = z.output<typeof callSignalDataSchema>;
