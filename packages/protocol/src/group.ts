import { z } from 'zod';
import { knockSchema, reactionSchema } from './meeting.js';

/**
 * Group rooms: names, the pipeline peer that stands for the bridge in a group channel, and the
 * `data` shapes of Confab's group messages (docs/protocol.md "Group calls").
 */

/**
 * A room name after `group/`: lowercase letters, digits, `-`, `_`, `.`, `/` separators; no
 * segment is `.` or `..` (a room path is not a file path, but it must never read like one).
 */
export const roomNamePattern =
  /^(?!\.{1,2}(?:\/|$))[a-z0-9._-]+(?:\/(?!\.{1,2}(?:\/|$))[a-z0-9._-]+)*$/;
export const roomNameMaxLength = 64;

/** `group/<name>`, as `webrtc_group` names a room in `target` and `group`. */
export function isGroupId(value: string): boolean {
  if (!value.startsWith('group/')) return false;
  const name = value.slice('group/'.length);
  return name.length <= roomNameMaxLength && roomNamePattern.test(name);
}

/** kwm's pipeline mode for an SFU: each client sends its streams to the pipeline peer only. */
export const pipelineMode = 'mcu-forward';
/**
 * The RTM id of the pipeline peer (the bridge) in every group channel. kwmjs makes the peer
 * whose id sorts lower the answerer (`computeInitiator`), and the bridge always offers: the id
 * starts with `~`, which sorts after every id that starts with a letter or digit.
 */
export const pipelinePeerId = '~confab-bridge';

/** The client's own streams go up on these mids of the bridge's offer. */
export const upstreamMids = { audio: 'a', camera: 'v', screen: 's' } as const;

export const streamSourceSchema = z.enum(['microphone', 'camera', 'screen']);
export type StreamSource = z.output<typeof streamSourceSchema>;

/** Who a forwarded stream (an m-line of the bridge's offer, by mid) belongs to. */
export const forwardedStreamSchema = z.object({ user: z.string(), source: streamSourceSchema });
export type ForwardedStream = z.output<typeof forwardedStreamSchema>;

/** A member of a conference as `data.group.participants` lists them (Confab's addition). */
export const groupParticipantSchema = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.boolean(),
  guest: z.boolean(),
  /** The owner muted this participant: the bridge forwards none of its audio until it unmutes. */
  muted: z.boolean(),
  /**
   * When this participant raised its hand (ms since the epoch; Confab's addition): hands are
   * taken in this order. Absent while the hand is down.
   */
  hand: z.number().optional(),
});
export type GroupParticipant = z.output<typeof groupParticipantSchema>;

/** `data.group` of a group `webrtc_channel` (kwm's fields plus `participants`). */
export const groupChannelDataSchema = z.object({
  group: z.string(),
  members: z.array(z.string()),
  reset: z.boolean(),
  participants: z.array(groupParticipantSchema),
  /** The owner turned the lobby on: newcomers ask to join (Confab's addition). */
  lobby: z.boolean().optional(),
});
export type GroupChannelData = z.output<typeof groupChannelDataSchema>;

/** Who did it, as a group `webrtc_channel`'s `data.muted` / `data.removed` tells its target. */
export const moderatedBySchema = z.object({ by: z.string(), name: z.string() });
export type ModeratedBy = z.output<typeof moderatedBySchema>;

const mediaFailed = z.object({ code: z.literal('media_failed') });

/**
 * What a client says it can do in its `webrtc_group` join (Confab's addition to kwm's group
 * messages, docs/protocol.md "Peer-to-peer rooms of two"): `data.p2p: true`, it connects
 * directly to the other member of a room of two when the focus says so. A client that does not
 * say so (kwmjs) keeps its room on the bridge.
 */
export const groupJoinDataSchema = z.object({
  /** The session (endpoint) it still holds, to carry on after a signaling drop. */
  session: z.string().max(64).optional(),
  p2p: z.boolean().optional(),
  /**
   * Not a join yet: the client is on the room's landing page and asks for a bridge session
   * ahead (docs/protocol.md "Prejoin"). It is not listed, gets no media and sends none until it
   * joins naming that session.
   */
  prejoin: z.boolean().optional(),
});
export type GroupJoinData = z.output<typeof groupJoinDataSchema>;

/**
 * The focus tells both members of a room of two to connect directly: `pair` names this direct
 * connection (its signals carry it), `initiator` makes the offer (kwm's rule: the greater user
 * id). `null`: the room goes (back) to the bridge.
 */
export const directPairSchema = z.object({
  pair: z.string(),
  peer: z.string(),
  initiator: z.boolean(),
});
export type DirectPair = z.output<typeof directPairSchema>;

/**
 * Every `data` of a group `webrtc_channel` from the server (docs/protocol.md "Group calls"),
 * each told apart by its one key. Parsed in this order: the join reply (members and pipeline)
 * first.
 */
export const groupChannelPayloadSchema = z.union([
  /**
   * The join reply: who is there and the pipeline peer to signal to, and (Confab's addition)
   * the direct pair when the join made a room of one two.
   */
  z.object({
    group: groupChannelDataSchema,
    pipeline: z.object({ pipeline: z.string(), mode: z.string() }),
    p2p: directPairSchema.optional(),
  }),
  /** Someone joined, left, was muted or unmuted: who is there now. */
  z.object({ group: groupChannelDataSchema }),
  /** A guest held until a registered user starts the room. */
  z.object({ waiting: z.literal(true) }),
  /**
   * The reply to a prejoin: the bridge session held for this connection (its offer follows), or
   * `null`: it ended (expired, the conference closed or moved, the connection to the bridge
   * failed); the join then goes the ordinary way.
   */
  z.object({ prejoined: z.union([z.object({ session: z.string() }), z.null()]) }),
  /**
   * The lobby is on: this join waits for the owner (the reply to `webrtc_group`); the join
   * reply follows once admitted.
   */
  z.object({ asking: z.literal(true) }),
  /** The owner did not let this one in; it may ask again after `lobbyRetryMs`. */
  z.object({ denied: moderatedBySchema }),
  /** To the owner: who asks to join now, in the order they came (empty: nobody). */
  z.object({ knocking: z.array(knockSchema) }),
  /** Someone sent a reaction: shown over their tile for a moment. */
  z.object({ reaction: z.object({ user: z.string(), reaction: reactionSchema }) }),
  /** The owner ended the meeting for everyone: it is over (a new join starts a new one). */
  z.object({ ended: moderatedBySchema }),
  /** The same user joined from another connection: this one is out. */
  z.object({ replaced: z.literal(true) }),
  z.object({ muted: moderatedBySchema }),
  z.object({ removed: moderatedBySchema }),
  /** Connect directly to the other member (a room of two), or `null`: back to the bridge. */
  z.object({ p2p: z.union([directPairSchema, z.null()]) }),
  /** The bridge's dominant speaker changed. */
  z.object({ speaker: z.string() }),
  /** The bridge failed this member's session; a new one (a new offer) follows. */
  z.object({ restarted: mediaFailed }),
  /** The member's media failed too often: it is out of the conference. */
  z.object({ failed: mediaFailed }),
  /** The conference closed with the member in it (the server shuts down): it is out. */
  z.object({ closed: z.object({ code: z.literal('unavailable') }) }),
]);
export type GroupChannelPayload = z.output<typeof groupChannelPayloadSchema>;

/** The bridge's offer to one member, relayed by the focus as the pipeline peer's signal. */
export const pipelineOfferSchema = z.object({
  type: z.literal('offer'),
  sdp: z.string(),
  /** Whose each forwarded mid is (Confab's addition). */
  streams: z.record(z.string(), forwardedStreamSchema),
  /** The bridge endpoint: a new one is a new peer connection. */
  session: z.string(),
});
export type PipelineOffer = z.output<typeof pipelineOfferSchema>;

/** One of the bridge's own ICE candidates, sent once the member's answer is in. */
export const pipelineCandidateSchema = z.object({
  candidate: z.object({ candidate: z.string(), sdpMid: z.string() }),
  session: z.string(),
});
export type PipelineCandidate = z.output<typeof pipelineCandidateSchema>;

/** What the pipeline peer signals to a member (`webrtc_signal` data from `~confab-bridge`). */
export const fromPipelineSignalSchema = z.union([pipelineOfferSchema, pipelineCandidateSchema]);
export type FromPipelineSignal = z.output<typeof fromPipelineSignalSchema>;

const iceCandidateSchema = z.strictObject({
  candidate: z.string().max(1024),
  sdpMid: z.string().max(64).nullish(),
  sdpMLineIndex: z.number().int().min(0).max(1024).nullish(),
  usernameFragment: z.string().max(256).nullish(),
});

/** The id of a direct pair, as the focus names it. */
const pairIdSchema = z.string().min(1).max(64);

/**
 * What a member of a direct pair signals to the other (`webrtc_signal` with `target` the other
 * member's id, in the group channel), relayed by the focus as it is: the direct connection's
 * descriptions and candidates (null at the end of gathering), and its own media: whether it
 * shares its screen (on the direct connection's third m-line) and whether it takes video.
 */
export const directSignalSchema = z.union([
  z.strictObject({
    p2p: pairIdSchema,
    type: z.enum(['offer', 'answer']),
    sdp: z.string().min(1).max(200_000),
  }),
  z.strictObject({ p2p: pairIdSchema, candidate: iceCandidateSchema.nullable() }),
  z.strictObject({
    p2p: pairIdSchema,
    media: z.strictObject({ screen: z.boolean(), video: z.boolean() }),
  }),
]);
export type DirectSignal = z.output<typeof directSignalSchema>;

/** What a client may signal to the pipeline peer (`webrtc_signal` data). */
export const pipelineSignalSchema = z.union([
  z.strictObject({ type: z.literal('answer'), sdp: z.string().min(1).max(200_000) }),
  z.strictObject({ candidate: iceCandidateSchema }),
  z.strictObject({ renegotiate: z.literal(true) }),
  // kwmjs's answerer announces itself so when its peer connection is made (simple-peer).
  z.strictObject({ renegotiate: z.literal(true), noop: z.literal(true) }),
  z.strictObject({ screenshare: z.union([z.strictObject({ mid: z.string().max(64) }), z.null()]) }),
  z.strictObject({ noop: z.literal(true) }),
  // Owner powers (Confab's addition): mute or remove another participant, by user id.
  z.strictObject({ mute: z.strictObject({ user: z.string().min(1).max(256) }) }),
  z.strictObject({ remove: z.strictObject({ user: z.string().min(1).max(256) }) }),
  // A participant the owner muted turns its microphone on again.
  z.strictObject({ unmute: z.literal(true) }),
  // In the meeting (docs/protocol.md "In the meeting"): one's own hand up or down, a reaction.
  z.strictObject({ hand: z.boolean() }),
  z.strictObject({ reaction: reactionSchema }),
  // The owner's: lower someone's hand, the lobby on or off, let in or turn away who asks,
  // everyone in or one, hand the meeting over, mute everyone, end the meeting.
  z.strictObject({ lowerHand: z.strictObject({ user: z.string().min(1).max(256) }) }),
  z.strictObject({ lobby: z.boolean() }),
  z.strictObject({ admit: z.strictObject({ user: z.string().min(1).max(256) }) }),
  z.strictObject({ admitAll: z.literal(true) }),
  z.strictObject({ deny: z.strictObject({ user: z.string().min(1).max(256) }) }),
  z.strictObject({ makeOwner: z.strictObject({ user: z.string().min(1).max(256) }) }),
  z.strictObject({ muteAll: z.literal(true) }),
  z.strictObject({ end: z.literal(true) }),
  // How this member's direct connection of a room of two is doing.
  z.strictObject({
    p2p: z.strictObject({ pair: pairIdSchema, state: z.enum(['connected', 'failed']) }),
  }),
]);
export type PipelineSignal = z.output<typeof pipelineSignalSchema>;
