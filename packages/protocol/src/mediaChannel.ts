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
 * Bridge → client: `error` for a message it refused (nothing else changes).
 */
export const mediaChannelLabel = 'confab-media';

/** The longest message either side sends (bytes of UTF-8). */
export const maxMediaChannelMessage = 16_384;
/** The most `view` messages a receiver's bridge applies per second; more are refused. */
export const maxViewsPerSecond = 10;
/** The most tiles one `view` names. */
export const maxViewTiles = 400;

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
  tiles: z
    .record(z.string().min(1).max(64), viewTileSchema)
    .refine((t) => Object.keys(t).length <= maxViewTiles, {
      message: `at most ${maxViewTiles} tiles`,
    }),
});
export type ViewMessage = z.infer<typeof viewMessageSchema>;

export const mediaChannelClientSchema = z.discriminatedUnion('type', [viewMessageSchema]);
export type MediaChannelClientMessage = z.infer<typeof mediaChannelClientSchema>;

/** Why the bridge refused a media channel message (stable codes). */
export const mediaChannelErrorCodes = ['bad_message', 'payload_too_large', 'rate_limited'] as const;
export type MediaChannelErrorCode = (typeof mediaChannelErrorCodes)[number];

export const mediaChannelServerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('error'),
    code: z.enum(mediaChannelErrorCodes),
    msg: z.string().max(512),
  }),
]);
export type MediaChannelServerMessage = z.infer<typeof mediaChannelServerSchema>;
