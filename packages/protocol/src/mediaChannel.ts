import { z } from 'zod';

/**
 * The media channel: a WebRTC data channel on each participant's bundled peer connection to the
 * bridge (the bridge opens it in its first offer, labelled `mediaChannelLabel`). Each side
 * sends JSON text messages (docs/bridge.md "Media channel").
 *
 * Client → bridge: `view`, what the receiver shows of each forwarded video (by the m-line's
 * mid the offer's `streams` names), so that it gets the layer that fits and nothing for what it
 * does not show. Sent when the layout, the window or what is forwarded changes; each `view`
 * replaces the last whole. A receiver that never sends one gets the bridge's own choice: the
 * on-stage source (screen share, else dominant speaker) at its best layer, the others at their
 * lowest.
 *
 * Bridge → client:
 * - `forwarded`: the video mids it forwards to this receiver now; a video slot not named has no
 *   picture (not shown, past the receiver's last-N, or paused on a congested link), and its
 *   tile shows the participant's name. Sent once the channel opens and whenever the set changes.
 * - `publish` (dynacast): which of its own encodings a publisher keeps sending, lowest first,
 *   per source; one nobody receives is paused (`RTCRtpSender.setParameters` with
 *   `active: false`) and resumed when someone needs it again. A source it does not name is
 *   unchanged; an encoding past the end of a list stays as it is.
 * - `error` for a message it refused (nothing else changes).
 */
export const mediaChannelLabel = 'confab-media';

/** The longest message either side sends (bytes of UTF-8). */
export const maxMediaChannelMessage = 16_384;
/** The most `view` messages a receiver's bridge applies per second; more are refused. */
export const maxViewsPerSecond = 10;
/** The most tiles one `view` names. */
export const maxViewTiles = 400;

const mid = z.string().min(1).max(64);
const dimension = z.number().int().min(0).max(16_384);

/** One forwarded video as the receiver shows it, in CSS pixels times the device pixel ratio. */
export const viewTileSchema = z.strictObject({
  width: dimension,
  height: dimension,
  /** The receiver's stage (large) tile: it comes first when bandwidth is short. */
  stage: z.boolean().optional(),
});
export type ViewTile = z.infer<typeof viewTileSchema>;

export const viewMessageSchema = z.strictObject({
  type: z.literal('view'),
  /** By mid; a forwarded video whose mid is missing (or 0×0) is not shown: not sent. */
  tiles: z.record(mid, viewTileSchema).refine((t) => Object.keys(t).length <= maxViewTiles, {
    message: `at most ${maxViewTiles} tiles`,
  }),
});
export type ViewMessage = z.infer<typeof viewMessageSchema>;

export const mediaChannelClientSchema = z.discriminatedUnion('type', [viewMessageSchema]);
export type MediaChannelClientMessage = z.infer<typeof mediaChannelClientSchema>;

/** Why the bridge refused a media channel message (stable codes). */
export const mediaChannelErrorCodes = ['bad_message', 'payload_too_large', 'rate_limited'] as const;
export type MediaChannelErrorCode = (typeof mediaChannelErrorCodes)[number];

/** The most encodings of one source a `publish` names (the camera's three simulcast layers). */
export const maxPublishEncodings = 3;

export const forwardedMessageSchema = z.strictObject({
  type: z.literal('forwarded'),
  video: z.array(mid).max(maxViewTiles),
});
export type ForwardedMessage = z.infer<typeof forwardedMessageSchema>;

export const publishMessageSchema = z.strictObject({
  type: z.literal('publish'),
  camera: z.array(z.boolean()).max(maxPublishEncodings).optional(),
  screen: z.array(z.boolean()).max(1).optional(),
});
export type PublishMessage = z.infer<typeof publishMessageSchema>;

export const mediaChannelServerSchema = z.discriminatedUnion('type', [
  forwardedMessageSchema,
  publishMessageSchema,
  z.strictObject({
    type: z.literal('error'),
    code: z.enum(mediaChannelErrorCodes),
    msg: z.string().max(512),
  }),
]);
export type MediaChannelServerMessage = z.infer<typeof mediaChannelServerSchema>;
