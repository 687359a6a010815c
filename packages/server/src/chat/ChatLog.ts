import { randomBytes } from 'node:crypto';
import {
  type ChatMessage,
  type ChatProfile,
  type ChatsClientMessage,
  chatHistoryLimit,
  chatMaxLength,
  chatMessage,
  chatMessageInSchema,
  chatQueuedMessage,
  chatRateLimit,
  type ServerMessage,
  textLength,
} from '@confab/protocol';
import { TokenBucket } from '../common/index.js';
import type { Logger } from '../logging/index.js';
import { Refusal } from '../signaling/index.js';
import type { ChatArchive, ChatEntry, ChatHistory } from './ChatArchive.js';

/** Who says something in a chat, and on which connection. */
export interface ChatAuthor {
  user: string;
  name: string;
  guest: boolean;
  conn: string;
}

/** kwm's 12-character message ids. */
const messageId = (): string => randomBytes(9).toString('base64url');

/**
 * The text of a `chats_message` as kwmjs sends it, checked as kwmserver checks it (sender and
 * target empty, a user text, no extra data), trimmed; refused when empty or longer than
 * `chatMaxLength` characters. Rich text is dropped: the web app shows text only.
 */
export function chatTextOf(msg: ChatsClientMessage): string {
  if (msg.subtype !== 'chats_message')
    throw new Refusal('bad_message', 'chats messages have the subtype chats_message');
  const parsed = chatMessageInSchema.safeParse(msg.data);
  if (!parsed.success)
    throw new Refusal(
      'bad_message',
      'chats_message data is {kind: "", sender: "", target: "", id, text} (kwm)',
    );
  const data = parsed.data;
  if (data.sender !== '') throw new Refusal('bad_message', 'message sender must be empty');
  if (data.target !== '') throw new Refusal('bad_message', 'message target must be empty');
  if (data.kind !== '') throw new Refusal('bad_message', 'unknown message kind');
  if (data.extra !== undefined)
    throw new Refusal('bad_message', 'message contains unexpected extra data');
  const text = data.text.trim();
  if (text === '') throw new Refusal('bad_message', 'message text is empty');
  if (textLength(text) > chatMaxLength)
    throw new Refusal(
      'payload_too_large',
      `a chat message has at most ${chatMaxLength} characters`,
    );
  return text;
}

export interface ChatLogOptions {
  /** The channel its messages name (`@group/<name>`, or a call's `*…`). */
  channel: string;
  /** Where the meeting's chat is kept while it lasts, under which key (new for each meeting). */
  history: ChatHistory;
  meeting: string;
  /** Where a room's chat is kept past the meeting (`chat_retention`), and under which key. */
  archive?: { store: ChatArchive; room: string; retentionMs: number } | undefined;
  deliver(conn: string, message: ServerMessage): void;
  logger: Logger;
}

/**
 * One channel's chat (a group's meeting or a one-to-one call): the messages said in it since
 * it began, up to `chatHistoryLimit` (and, with `chat_retention`, those of the room's earlier
 * meetings still kept), each sender's budget, and the fan-out kwmserver does: the reply to
 * the sender, the message with its author's profile to everyone else, then the sender's
 * delivery report.
 */
export class ChatLog {
  /**
   * What earlier meetings of the room said within `chat_retention` (registered users see it),
   * once the archive has answered.
   */
  #earlier: readonly ChatEntry[] = [];
  /** Settles when `#earlier` is loaded (or could not be). */
  readonly #loaded: Promise<void>;
  #isLoaded = false;
  /**
   * Connections whose history waits for the archive, with what was said to them meanwhile: it
   * reaches them after the history, in the order said.
   */
  readonly #replaying = new Map<string, ServerMessage[]>();
  /** Senders' budgets, by user: leaving and coming back does not refill one. */
  readonly #budgets = new Map<string, TokenBucket>();

  constructor(private readonly opts: ChatLogOptions) {
    const a = opts.archive;
    this.#loaded =
      a && a.retentionMs > 0
        ? a.store.recent(a.room, Date.now() - a.retentionMs, chatHistoryLimit).then((e) => {
            this.#earlier = e;
          })
        : Promise.resolve();
    if (!(a && a.retentionMs > 0)) this.#isLoaded = true;
    const loaded = () => {
      this.#isLoaded = true;
    };
    void this.#loaded.then(loaded, loaded);
  }

  #deliver(conn: string, message: ServerMessage): void {
    const held = this.#replaying.get(conn);
    if (held) held.push(message);
    else this.opts.deliver(conn, message);
  }

  /** The meeting is over: its chat goes (the archive keeps what `chat_retention` asks). */
  close(): void {
    this.opts.history.drop(this.opts.meeting);
  }

  /**
   * `author` says `msg` to everyone in `recipients` (its own connection among them or not):
   * refused (nothing sent to anyone) when malformed, too long, or past its budget.
   */
  post(author: ChatAuthor, msg: ChatsClientMessage, recipients: Iterable<string>): void {
    const text = chatTextOf(msg);
    let budget = this.#budgets.get(author.user);
    if (!budget) {
      budget = new TokenBucket(chatRateLimit.burst, chatRateLimit.perSecond);
      this.#budgets.set(author.user, budget);
    }
    if (!budget.take())
      throw new Refusal(
        'rate_limited',
        `too many chat messages: ${chatRateLimit.burst} at once, then one a second`,
      );
    const at = Date.now();
    const data: ChatMessage = {
      kind: '',
      id: messageId(),
      ts: Math.floor(at / 1000),
      sender: author.user,
      target: '',
      text,
    };
    const profile: ChatProfile = author.guest
      ? { name: author.name, guest: true }
      : { name: author.name };
    const entry: ChatEntry = { at, data, profile };
    this.opts.history.append(this.opts.meeting, entry, chatHistoryLimit);
    const a = this.opts.archive;
    if (a && a.retentionMs > 0) a.store.append(a.room, entry, at - a.retentionMs);

    const channel = this.opts.channel;
    this.#deliver(author.conn, chatMessage({ channel, data, reply_to: msg.id }));
    const out = chatMessage({ channel, data, profile });
    for (const conn of recipients) if (conn !== author.conn) this.#deliver(conn, out);
    this.#deliver(author.conn, chatQueuedMessage({ channel, id: data.id }));
  }

  /**
   * What was said before, to one who joins (or comes back): everything kept, or only what was
   * said since `since` (ms): a guest's join (never an earlier meeting's), or what a member back
   * from away missed.
   */
  replay(conn: string, since?: number): void {
    // What this meeting said so far, as of now: what is said while the archive answers is
    // held for this connection and follows the history.
    const current = [...this.opts.history.list(this.opts.meeting)];
    const send = () => {
      for (const e of [...this.#earlier, ...current].slice(-chatHistoryLimit)) {
        if (since !== undefined && e.at < since) continue;
        this.opts.deliver(
          conn,
          chatMessage({
            channel: this.opts.channel,
            data: e.data,
            profile: e.profile,
            history: true,
          }),
        );
      }
    };
    if (this.#isLoaded) return send();
    if (this.#replaying.has(conn)) return;
    this.#replaying.set(conn, []);
    const done = () => {
      const held = this.#replaying.get(conn) ?? [];
      this.#replaying.delete(conn);
      try {
        send();
        for (const m of held) this.opts.deliver(conn, m);
      } catch (err) {
        this.opts.logger.error({ err, conn }, 'chat: the history could not be sent');
      }
    };
    void this.#loaded.then(done, done);
  }
}
