import { z } from 'zod';

/**
 * The control protocol between the focus and its bridges: one WebSocket per bridge, opened by
 * the bridge to `bridgeControlPath` with `Authorization: Bearer <shared secret>`, JSON text
 * frames both ways (docs/bridge.md).
 */
export const bridgeControlPath = '/api/confab/v1/bridge';
export const bridgeProtocolVersion = 1;

/** The longest session description either side sends (characters). */
export const maxSdpLength = 200_000;
/** The most m-lines a bridge gives one endpoint when the focus does not say (`welcome`). */
export const defaultMaxMlines = 128;

const id = z.string().min(1).max(128);
const sdp = z.string().min(1).max(maxSdpLength);
const counter = z.number().int().min(0);

/** The states of an endpoint's peer connection the bridge reports (`endpoint_state`). */
export const endpointStates = [
  'connecting',
  'connected',
  'disconnected',
  'failed',
  'closed',
] as const;
export type EndpointState = (typeof endpointStates)[number];
/** An ICE candidate of an endpoint: the client's (focus → bridge) or the bridge's own. */
const candidateMessage = z.strictObject({
  type: z.literal('candidate'),
  conference: id,
  endpoint: id,
  candidate: z.string().max(1024),
  mid: z.string().max(64),
});

/** Bridge → focus. */
export const bridgeMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    version: z.literal(bridgeProtocolVersion),
    name: z.string().min(1).max(128),
    ice: z.strictObject({ address: z.string().max(256), port: z.number().int().min(1).max(65535) }),
  }),
  z.strictObject({
    type: z.literal('load'),
    conferences: counter,
    endpoints: counter,
    forwardedPackets: counter,
    forwardedBytes: counter,
    retransmittedPackets: counter,
  }),
  z.strictObject({
    type: z.literal('offer'),
    conference: id,
    endpoint: id,
    sdp,
    streams: z.record(
      z.string().max(64),
      z.strictObject({
        user: z.string().max(256),
        source: z.enum(['microphone', 'camera', 'screen']),
      }),
    ),
  }),
  // The bridge's own ICE candidate for an endpoint, once its first answer is set.
  candidateMessage,
  z.strictObject({
    type: z.literal('endpoint_state'),
    conference: id,
    endpoint: id,
    state: z.enum(endpointStates),
  }),
  z.strictObject({
    type: z.literal('speaker'),
    conference: id,
    endpoint: id,
  }),
  // The endpoint's session holds as many m-lines as it may (freed ones are never reused): it
  // needs a new session to take more streams.
  z.strictObject({
    type: z.literal('endpoint_full'),
    conference: id,
    endpoint: id,
  }),
  z.strictObject({
    type: z.literal('error'),
    code: z.enum(['bad_message', 'unknown_endpoint', 'negotiation_failed']),
    message: z.string().max(1024),
    conference: id.optional(),
    endpoint: id.optional(),
  }),
]);
export type BridgeMessage = z.output<typeof bridgeMessageSchema>;
/** A bridge message of one `type`. */
export type BridgeMessageOf<T extends BridgeMessage['type']> = Extract<BridgeMessage, { type: T }>;
/** The bridge's (re)negotiation offer for one endpoint, passed whole from bridge to focus. */
export type BridgeOffer = BridgeMessageOf<'offer'>;

/** Focus → bridge. */
export const focusMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    videoMaxBitrate: z.number().int().positive(),
    screenMaxBitrate: z.number().int().positive(),
    /** The most m-lines one endpoint's session may hold (its own four included: three sources and the media channel). */
    maxMlines: z.number().int().min(8).max(4096).optional(),
    /** The most cameras forwarded to one receiver (`last_n`; -1: all of them). */
    lastN: z.number().int().min(-1).max(4096).optional(),
  }),
  /**
   * `held`: a prejoin's endpoint, negotiated with the others' streams but forwarded nothing and
   * publishing nothing until `admit`.
   */
  z.strictObject({
    type: z.literal('allocate'),
    conference: id,
    endpoint: id,
    user: id,
    held: z.boolean().optional(),
  }),
  /** A held endpoint's user joined: it receives and publishes from now on. */
  z.strictObject({ type: z.literal('admit'), conference: id, endpoint: id }),
  z.strictObject({ type: z.literal('answer'), conference: id, endpoint: id, sdp }),
  candidateMessage,
  z.strictObject({ type: z.literal('renegotiate'), conference: id, endpoint: id }),
  z.strictObject({
    type: z.literal('screenshare'),
    conference: id,
    endpoint: id,
    active: z.boolean(),
  }),
  z.strictObject({
    type: z.literal('mute'),
    conference: id,
    endpoint: id,
    muted: z.boolean(),
  }),
  z.strictObject({ type: z.literal('release'), conference: id, endpoint: id }),
  z.strictObject({ type: z.literal('expire'), conference: id }),
]);
export type FocusMessage = z.output<typeof focusMessageSchema>;
