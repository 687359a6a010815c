import {
  type ChatMessage,
  type ChatsServerMessage,
  type ClientMessageDraft,
  chatHistoryLimit,
  chatMaxLength,
  chatsVersion,
  type ServerMessage,
  textLength,
} from '@confab/protocol';

/** One message as the chat panel shows it. */
export interface ChatLine {
  id: string;
  /** Its author's user id; `self` for this user's own. */
  sender: string;
  self: boolean;
  name: string;
  guest: boolean;
  /** When it was said (ms since the epoch). */
  at: number;
  text: string;
}

export interface ChatState {
  /** The channel shown (a group's `@group/…` or a call's), or none outside a call. */
  channel: string | undefined;
  lines: ChatLine[];
  /** Messages from others since the panel was last open (history excluded). */
  unread: number;
  open: boolean;
  /** Why the last message was not sent (a server code), until the next one is. */
  failed: 'too_long' | 'rate_limited' | 'refused' | undefined;
}

export interface ChatControllerOptions {
  /** Sends over signaling; undefined while the socket is down. */
  send(message: ClientMessageDraft): number | undefined;
  /** This user's id and name (own messages come back without a profile). */
  self(): { id: string; name: string } | undefined;
}

/** Channels whose messages are kept at once (the one shown and the one before). */
const keptChannels = 4;

/**
 * The chat of the call or group the user is in, in kwm's `chats` format (docs/protocol.md
 * "Chat"): messages said in the channel, including what was said before this user joined
 * (`history`), each with its author and time; the unread count while the panel is closed; a
 * message refused by the server says why. Text only: the panel renders no markup.
 */
export class ChatController {
  #state: ChatState = { channel: undefined, lines: [], unread: 0, open: false, failed: undefined };
  readonly #listeners = new Set<() => void>();
  /** Lines by channel, the latest channels last. */
  readonly #byChannel = new Map<string, ChatLine[]>();
  /** Messages sent and not yet answered, by message id. */
  readonly #pending = new Set<number>();

  constructor(private readonly opts: ChatControllerOptions) {}

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): ChatState => this.#state;

  #set(fields: Partial<ChatState>): void {
    this.#state = { ...this.#state, ...fields };
    for (const l of this.#listeners) l();
  }

  /**
   * The call or group shown now (undefined: none); another one starts with its own chat. The
   * one left is forgotten: a meeting left or ended takes its chat along (joining again, the
   * server sends what this user may see of it).
   */
  setChannel(channel: string | undefined): void {
    if (channel === this.#state.channel) return;
    if (this.#state.channel) this.#byChannel.delete(this.#state.channel);
    this.#set({
      channel,
      lines: channel ? (this.#byChannel.get(channel) ?? []) : [],
      unread: 0,
      open: channel ? this.#state.open : false,
      failed: undefined,
    });
  }

  setOpen(open: boolean): void {
    if (open === this.#state.open) return;
    this.#set({ open, unread: open ? 0 : this.#state.unread });
  }

  /** Whether a server message is the chat's: a `chats` message, or the refusal of one sent. */
  handles(message: ServerMessage): boolean {
    if (message.type === 'chats') return true;
    return (
      message.type === 'error' &&
      message.reply_to !== undefined &&
      this.#pending.has(message.reply_to)
    );
  }

  handle(message: ServerMessage): void {
    if (message.type === 'error') {
      if (message.reply_to !== undefined) this.#pending.delete(message.reply_to);
      const code = message.error.code;
      this.#set({
        failed:
          code === 'payload_too_large'
            ? 'too_long'
            : code === 'rate_limited'
              ? 'rate_limited'
              : 'refused',
      });
      return;
    }
    if (message.type !== 'chats' || message.subtype !== 'chats_message') return;
    if (!('text' in message.data)) return;
    if (message.reply_to !== undefined) this.#pending.delete(message.reply_to);
    this.#add(message, message.data);
  }

  #add(message: ChatsServerMessage, data: ChatMessage): void {
    const me = this.opts.self();
    const self = message.reply_to !== undefined || data.sender === me?.id;
    const line: ChatLine = {
      id: data.id,
      sender: data.sender,
      self,
      name: self ? (me?.name ?? '') : (message.profile?.name ?? ''),
      guest: !self && message.profile?.guest === true,
      at: data.ts * 1000,
      text: data.text,
    };
    const channel = message.channel;
    const lines = this.#byChannel.get(channel) ?? [];
    // History comes again after a reconnection: each message once.
    if (lines.some((l) => l.id === line.id)) return;
    const next = [...lines, line].slice(-chatHistoryLimit);
    this.#byChannel.delete(channel);
    this.#byChannel.set(channel, next);
    for (const old of this.#byChannel.keys()) {
      if (this.#byChannel.size <= keptChannels) break;
      this.#byChannel.delete(old);
    }
    if (channel !== this.#state.channel) return;
    const counts = !self && !message.history && !this.#state.open;
    this.#set({ lines: next, unread: this.#state.unread + (counts ? 1 : 0) });
  }

  /** Sends `text` in the channel shown; false when there is nothing to send or no channel. */
  send(text: string): boolean {
    const channel = this.#state.channel;
    const trimmed = text.trim();
    if (!channel || !trimmed) return false;
    if (textLength(trimmed) > chatMaxLength) {
      this.#set({ failed: 'too_long' });
      return false;
    }
    const id = this.opts.send({
      type: 'chats',
      subtype: 'chats_message',
      channel,
      v: chatsVersion,
      data: { kind: '', sender: '', target: '', id: '', text: trimmed },
    });
    if (id === undefined) {
      this.#set({ failed: 'refused' });
      return false;
    }
    this.#pending.add(id);
    this.#set({ failed: undefined });
    return true;
  }
}
