import { z } from 'zod';

/**
 * In the meeting (docs/protocol.md "In the meeting"): chat in kwm's `chats` format, raised
 * hands, reactions, the lobby and the host's controls. The limits here are the server's and
 * the web app's both.
 */

/** The longest chat message, in characters (Unicode code points; kwm allows 16,384 bytes). */
export const chatMaxLength = 4096;

/**
 * A sender's chat budget in one channel: 10 at once, then one a second (`rate_limited`
 * past it).
 */
export const chatRateLimit = { burst: 10, perSecond: 1 } as const;

/** The messages a meeting keeps for those who join late (the oldest go first). */
export const chatHistoryLimit = 500;

/**
 * Hands raised and lowered, and reactions, a member may send: 8 at once, then one a second.
 * Each one reaches everyone in the room.
 */
export const gestureRateLimit = { burst: 8, perSecond: 1 } as const;

/** How long a denied person waits before asking to join again ("Ask again"). */
export const lobbyRetryMs = 10_000;

export const reactions = ['thumbs_up', 'clap', 'laugh', 'heart'] as const;
export const reactionSchema = z.enum(reactions);
export type Reaction = z.output<typeof reactionSchema>;

/** How many characters a text has, as people count them (code points, not UTF-16 units). */
export function textLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * `data` of a client's `chats_message` as kwmjs 1.3.1 sends it (`doSendChatMessage`): a user
 * text (`kind: ""`), `sender` and `target` empty (everyone in the channel), `id` its own (the
 * server assigns the real one). `richText` is taken and dropped: Confab shows text only.
 * Unknown fields are refused.
 */
export const chatMessageInSchema = z.strictObject({
  kind: z.string().max(64).default(''),
  sender: z.string().max(256).default(''),
  target: z.string().max(256).default(''),
  id: z.string().max(64).optional(),
  ts: z.number().optional(),
  text: z.string(),
  richText: z.string().optional(),
  extra: z.unknown().optional(),
});
export type ChatMessageIn = z.output<typeof chatMessageInSchema>;

/** A chat message as the server sends it: its id and time (unix seconds, kwm's `ts`). */
export const chatMessageSchema = z.object({
  kind: z.string(),
  id: z.string(),
  ts: z.number(),
  sender: z.string(),
  target: z.string(),
  text: z.string(),
});
export type ChatMessage = z.output<typeof chatMessageSchema>;

/** Who said it: kwm's `profile.name`, and (Confab's addition) `guest: true` for a guest. */
export const chatProfileSchema = z.object({
  name: z.string().optional(),
  guest: z.boolean().optional(),
});
export type ChatProfile = z.output<typeof chatProfileSchema>;

/** Someone asking to join while the lobby is on, as the owner is told of them. */
export const knockSchema = z.object({ id: z.string(), name: z.string(), guest: z.boolean() });
export type Knock = z.output<typeof knockSchema>;
