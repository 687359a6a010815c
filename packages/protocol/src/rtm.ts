import { z } from 'zod';

/** kwm v2's API prefix; Confab serves signaling under it. */
export const rtmApiPrefix = '/api/kwm/v2';
export const rtmConnectPath = `${rtmApiPrefix}/rtm/connect`;
/** kwm's guest logon: a signed request object for a guest's sign-in to one public room. */
export const guestLogonPath = `${rtmApiPrefix}/guest/logon`;
/**
 * Authorization parameters a guest logon takes (Confab's addition to kwm's form) and signs into
 * the request object, so that the client's code + PKCE sign-in runs with them.
 */
export const guestLogonAuthorizationFields = [
  'response_type',
  'redirect_uri',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
] as const;
export const rtmTurnPath = `${rtmApiPrefix}/rtm/turn`;
export const rtmWebsocketPath = `${rtmApiPrefix}/rtm/websocket`;

/** The `v` of webrtc payloads (kwm's `20180703`). */
export const webrtcVersion = 20180703;

/** Client heartbeat interval in ms (kwmjs `heartbeatInterval`). */
export const heartbeatInterval = 5000;

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().max(max);

/** `ping` from the client every 5 s; the server answers the same object as `pong`. */
export const pingMessageSchema = z.strictObject({
  type: z.literal('ping'),
  id,
  ts: z.number().optional(),
  transaction: text(128).optional(),
});

export const webrtcSubtypes = [
  'webrtc_call',
  'webrtc_group',
  'webrtc_signal',
  'webrtc_hangup',
] as const;
export type WebrtcSubtype = (typeof webrtcSubtypes)[number];

/**
 * A `webrtc` message from a client (kwm's RTMTypeWebRTC). Clients leave `source` empty and never
 * set `profile`: the server fills both in.
 */
export const webrtcMessageSchema = z.strictObject({
  type: z.literal('webrtc'),
  id,
  subtype: z.enum(webrtcSubtypes),
  target: text(256).default(''),
  source: z.literal('').optional(),
  initiator: z.boolean().default(false),
  state: text(256).default(''),
  channel: text(128).default(''),
  group: text(256).default(''),
  hash: text(128).default(''),
  v: z.number().int().optional(),
  transaction: text(128).optional(),
  pcid: text(128).optional(),
  data: z.unknown().optional(),
});

/** The `v` of chats payloads (kwm's `20201201`). */
export const chatsVersion = 20201201;

/**
 * kwm's chat messages (`type: "chats"`, kwmjs `doSendChatMessage`), as kwmjs sends them: the
 * subtype `chats_message`, the channel of a group or call the sender is in, and `data` as
 * `chatMessageInSchema` reads it (docs/protocol.md "Chat").
 */
export const chatsMessageSchema = z.strictObject({
  type: z.literal('chats'),
  id,
  subtype: text(64),
  channel: text(128).default(''),
  transaction: text(128).optional(),
  v: z.number().int().optional(),
  data: z.unknown().optional(),
});

export const clientMessageSchema = z.discriminatedUnion('type', [
  pingMessageSchema,
  webrtcMessageSchema,
  chatsMessageSchema,
]);
export type ClientMessage = z.output<typeof clientMessageSchema>;
export type WebrtcClientMessage = z.output<typeof webrtcMessageSchema>;
export type ChatsClientMessage = z.output<typeof chatsMessageSchema>;

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/**
 * A client message as a client writes it: the connection numbers it (`id`) as it goes out. The
 * same schema the server parses with, so a misspelt field is a type error in the client, not a
 * `bad_message` at run time.
 */
export type ClientMessageDraft = WithoutId<z.input<typeof clientMessageSchema>>;
export type WebrtcClientDraft = Omit<z.input<typeof webrtcMessageSchema>, 'id'>;

/** `data` of a callee's answer to `webrtc_call` (and of `webrtc_hangup`). */
export const callAnswerSchema = z.looseObject({
  accept: z.boolean(),
  state: text(256).optional(),
  reason: text(64).optional(),
});
export type CallAnswer = z.output<typeof callAnswerSchema>;

/**
 * Why a call ended, in `data.reason` of `webrtc_call` answers and `webrtc_hangup`. kwm's
 * `reject`, `reject_busy` and `hangup`, plus Confab's `unreachable` (the callee has no
 * connection) and `no_answer` (nobody answered within `call_timeout`).
 */
export const callEndReasons = [
  'reject',
  'reject_busy',
  'hangup',
  'unreachable',
  'no_answer',
] as const;
export type CallEndReason = (typeof callEndReasons)[number];

export interface RtmSelf {
  id: string;
  name: string;
  auth: string;
}

export interface TurnCredentials {
  username: string;
  password: string;
  ttl: number;
  uris: string[];
}

/** The answer of `POST /api/kwm/v2/rtm/connect`. */
export interface RtmConnectResponse {
  ok: true;
  url: string;
  self: RtmSelf;
  turn?: TurnCredentials;
}

export interface RtmTurnResponse {
  ok: true;
  turn: TurnCredentials;
}

/** WebSocket close codes the server uses. */
export const rtmCloseCodes = {
  normal: 1000,
  goingAway: 1001,
  /** A client that keeps flooding after being slowed. */
  policyViolation: 1008,
  /** A frame over `rtm_max_message_size`. */
  messageTooBig: 1009,
  /** No message for `rtm_heartbeat_timeout` seconds. */
  heartbeatTimeout: 4000,
  /**
   * The session's user was removed from the directory (or disabled in LDAP), or the sign-in
   * behind it was revoked: reconnecting needs a new sign-in.
   */
  revoked: 4001,
} as const;
