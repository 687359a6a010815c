import { z } from 'zod';

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

export type StreamSource = 'microphone' | 'camera' | 'screen';

/** Who a forwarded stream (an m-line of the bridge's offer, by mid) belongs to. */
export interface ForwardedStream {
  user: string;
  source: StreamSource;
}

/** A member of a conference as `data.group.participants` lists them (Confab's addition). */
export interface GroupParticipant {
  id: string;
  name: string;
  owner: boolean;
  guest: boolean;
  /** The owner muted this participant: the bridge forwards none of its audio until it unmutes. */
  muted: boolean;
}

/** `data.group` of a group `webrtc_channel` (kwm's fields plus `participants`). */
export interface GroupChannelData {
  group: string;
  members: string[];
  reset: boolean;
  participants: GroupParticipant[];
}

/** What a client may signal to the pipeline peer (`webrtc_signal` data). */
export const pipelineSignalSchema = z.union([
  z.strictObject({ type: z.literal('answer'), sdp: z.string().min(1).max(200_000) }),
  z.strictObject({
    candidate: z.strictObject({
      candidate: z.string().max(1024),
      sdpMid: z.string().max(64).nullish(),
      sdpMLineIndex: z.number().int().min(0).max(1024).nullish(),
      usernameFragment: z.string().max(256).nullish(),
    }),
  }),
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
]);

/** Who did it, as a group `webrtc_channel`'s `data.muted` / `data.removed` tells its target. */
export interface ModeratedBy {
  by: string;
  name: string;
}
export type PipelineSignal = z.output<typeof pipelineSignalSchema>;
