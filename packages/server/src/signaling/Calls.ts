import { randomBytes } from 'node:crypto';
import {
  answeredMessage,
  type ChatsClientMessage,
  callAnswerSchema,
  callChannelMessage,
  callSignalMessage,
  hangupMessage,
  ringClearedMessage,
  ringMessage,
  type ServerMessage,
  type WebrtcClientMessage,
} from '@confab/protocol';
import { ChatLog, MemoryChatHistory } from '../chat/index.js';
import { ReconnectGrace } from '../common/index.js';
import type { Logger } from '../logging/index.js';
import type { AnsweredCalls } from './AnsweredCalls.js';
import type { SignalingSession } from './Connection.js';
import type { PairHash } from './pairHash.js';
import { Refusal } from './Refusal.js';
import type { CallChannel, SignalingState } from './SignalingState.js';

const channelAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * kwm's one-to-one channel name: `*` and 24 random characters; with several nodes the first
 * ones are the routing tag of the node that runs the call.
 */
function newChannelId(tag: string): string {
  const bytes = randomBytes(24 - tag.length);
  let id = `*${tag}`;
  for (const b of bytes) id += channelAlphabet[b % channelAlphabet.length];
  return id;
}

/** A call from before a restart, as its message names it: the sender here, the other away. */
function channelFromBefore(conn: SignalingSession, msg: WebrtcClientMessage): CallChannel {
  return {
    id: msg.channel,
    caller: conn.userId,
    callerConn: conn.id,
    callee: msg.target,
    calleeConn: undefined,
    state: msg.state,
    status: 'active',
    createdAt: Date.now(),
  };
}

/** How long an ended call is remembered, so that a late message cannot take it up again. */
const endedMemoryMs = 10 * 60_000;

export interface CallTimings {
  /** `call_timeout`: how long a call rings unanswered. */
  callTimeoutMs: number;
  /** `call_reconnect_grace`: how long an answered call waits for a member to reconnect. */
  reconnectGraceMs: number;
  /** `max_rings_per_target`: callers that may ring one user at once (one call each). */
  maxRingsPerTarget: number;
  /** Several nodes: this node's routing tag, at the start of its channel ids. */
  channelTag?: string;
}

/**
 * One-to-one calls, as kwmserver does them: a call rings every connection of the callee, the
 * first to accept joins the channel (the others stop ringing), signals pass only between the two
 * members of a channel whose pair hash they present, and either hangs up. Calls nobody answers
 * end after `call_timeout`.
 *
 * Confab's addition: an answered call outlives its members' signaling connections, since the
 * media flows between the browsers. A member whose connection drops is away until it sends any
 * message in the channel from a new connection (the web app sends `{noop: true}`); after
 * `call_reconnect_grace` the call ends for the other side. A call from before a server restart
 * is taken up again on its first message, its pair hash proving membership.
 */
export class Calls {
  /** Calls ringing, by channel: each ends unanswered after `call_timeout`. */
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Answered calls waiting for a member whose connection dropped, by channel. */
  readonly #grace: ReconnectGrace<string>;
  /** The chat of each answered call that has one, by channel (this process's members). */
  readonly #chats = new Map<string, ChatLog>();
  readonly #chatHistory = new MemoryChatHistory();
  #closing = false;

  constructor(
    private readonly state: SignalingState,
    private readonly hash: PairHash,
    private readonly timings: CallTimings,
    private readonly answered: AnsweredCalls,
    private readonly log: Logger,
  ) {
    this.#grace = new ReconnectGrace(timings.reconnectGraceMs);
  }

  handle(conn: SignalingSession, msg: WebrtcClientMessage): void {
    try {
      switch (msg.subtype) {
        case 'webrtc_call':
          return msg.initiator ? this.#start(conn, msg) : this.#answer(conn, msg);
        case 'webrtc_signal':
          return this.#signal(conn, msg);
        case 'webrtc_hangup':
          return this.#hangup(conn, msg);
        case 'webrtc_group':
          throw new Refusal('bad_message', 'webrtc_group goes to the focus');
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      conn.error(err.code, err.message, msg.id);
    }
  }

  /**
   * A chat message in a one-to-one call (docs/protocol.md "Chat"): from one of its two
   * connections to the other. Not kept past the call, and not sent again to a member that was
   * away meanwhile. Throws a `Refusal` when refused.
   */
  chat(conn: SignalingSession, msg: ChatsClientMessage): void {
    const ch = msg.channel.startsWith('*') ? this.state.getChannel(msg.channel) : undefined;
    if (!ch) throw new Refusal('bad_message', 'channel not found');
    if (ch.status !== 'active' || (ch.callerConn !== conn.id && ch.calleeConn !== conn.id))
      throw new Refusal('bad_message', 'connection not in channel');
    let log = this.#chats.get(ch.id);
    if (!log) {
      log = new ChatLog({
        channel: ch.id,
        history: this.#chatHistory,
        meeting: ch.id,
        deliver: (c, m) => this.state.deliver(c, m),
        logger: this.log,
      });
      this.#chats.set(ch.id, log);
    }
    const other = ch.callerConn === conn.id ? ch.calleeConn : ch.callerConn;
    log.post({ user: conn.userId, name: conn.name, guest: false, conn: conn.id }, msg, [
      conn.id,
      ...(other ? [other] : []),
    ]);
  }

  /**
   * A connection went away: a call it still rings ends; in an answered call its member is away
   * until it reconnects, or the grace runs out. Nothing ends while the server shuts down.
   */
  connectionClosed(conn: SignalingSession): void {
    if (this.#closing) return;
    for (const ch of this.state.channelsOfConnection(conn.id)) {
      if (ch.status === 'ringing') {
        this.#end(ch, ch.caller, ch.callee, 'hangup');
        continue;
      }
      if (!this.#grace.waitsFor(conn)) {
        const other = ch.caller === conn.userId ? ch.callee : ch.caller;
        this.#end(ch, conn.userId, other, 'hangup');
        continue;
      }
      const away: CallChannel =
        ch.callerConn === conn.id
          ? { ...ch, callerConn: undefined }
          : { ...ch, calleeConn: undefined };
      this.state.putChannel(away);
      this.#awaitReturn(away);
    }
  }

  /** Stops the timers; connections closing from now on leave their calls to be resumed. */
  close(): void {
    this.#closing = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#grace.close();
  }

  /** Ends the call for the member still there unless the away one comes back in time. */
  #awaitReturn(ch: CallChannel): void {
    const expire = () => {
      const now = this.state.getChannel(ch.id);
      if (now?.status !== 'active' || (now.callerConn && now.calleeConn)) return;
      const [gone, other] = now.callerConn ? [now.callee, now.caller] : [now.caller, now.callee];
      this.log.debug({ channel: ch.id, user: gone }, 'call member did not come back');
      this.#end(now, gone, other, 'hangup');
    };
    this.#stopTimer(ch.id);
    this.#grace.start(ch.id, expire);
  }

  /** The sender's connection takes its place in an answered call it is away from. */
  #attach(ch: CallChannel, conn: SignalingSession): CallChannel {
    const side = conn.userId === ch.caller ? 'callerConn' : 'calleeConn';
    if (ch.status !== 'active' || ch[side] !== undefined) return ch;
    const back: CallChannel = { ...ch, [side]: conn.id };
    this.state.putChannel(back);
    if (back.callerConn && back.calleeConn) this.#stopTimer(ch.id);
    this.log.debug({ channel: ch.id, conn: conn.id }, 'call member is back');
    return back;
  }

  #start(conn: SignalingSession, msg: WebrtcClientMessage): void {
    if (!msg.target) throw new Refusal('bad_message', 'webrtc_call needs a target');
    if (!msg.state) throw new Refusal('bad_message', 'webrtc_call needs a state');
    if (msg.channel || msg.hash || msg.data !== undefined)
      throw new Refusal('bad_message', 'a new webrtc_call carries no channel, hash or data');
    if (msg.target === conn.userId) throw new Refusal('bad_message', 'you cannot call yourself');
    // One call at a time from one caller to one callee, and at most `max_rings_per_target`
    // callers ringing someone at once: keeping a colleague from being reached takes that many
    // accounts, not one client in a loop.
    const callers = this.state.ringingCallers(msg.target);
    if (callers.includes(conn.userId))
      throw new Refusal('rate_limited', 'a call of yours already rings that user');
    if (new Set(callers).size >= this.timings.maxRingsPerTarget)
      throw new Refusal(
        'rate_limited',
        `that user already has ${this.timings.maxRingsPerTarget} calls ringing; try again later`,
      );
    const channel: CallChannel = {
      id: newChannelId(this.timings.channelTag ?? ''),
      caller: conn.userId,
      callerConn: conn.id,
      callee: msg.target,
      calleeConn: undefined,
      state: msg.state,
      status: 'ringing',
      createdAt: Date.now(),
    };
    const hash = this.hash.of(conn.userId, msg.target, channel.id);
    this.state.putChannel(channel);
    conn.send(
      callChannelMessage({
        reply_to: msg.id,
        channel: channel.id,
        hash,
        transaction: msg.transaction,
      }),
    );

    const targets = this.state.connectionsOf(msg.target);
    if (targets.length === 0) {
      this.log.debug(
        { caller: conn.userId, callee: msg.target },
        'call to a user with no connection',
      );
      this.#end(channel, msg.target, conn.userId, 'unreachable');
      return;
    }
    const ring = ringMessage({
      source: conn.userId,
      target: msg.target,
      name: conn.session.name,
      state: msg.state,
      channel: channel.id,
      hash,
      pcid: msg.pcid,
    });
    for (const t of targets) this.state.deliver(t.id, ring);
    this.#timers.set(
      channel.id,
      setTimeout(() => {
        const ch = this.state.getChannel(channel.id);
        if (ch?.status === 'ringing') this.#end(ch, ch.callee, ch.caller, 'no_answer');
      }, this.timings.callTimeoutMs).unref(),
    );
  }

  /**
   * The channel a message names, if the sender may act in it towards its target; undefined for
   * a call this server does not know (it restarted) whose pair hash the sender presents.
   */
  #channelFor(conn: SignalingSession, msg: WebrtcClientMessage): CallChannel | undefined {
    const ch = msg.channel ? this.state.getChannel(msg.channel) : undefined;
    if (!ch) {
      if (msg.channel && this.state.channelEnded(msg.channel))
        throw new Refusal('access_restricted', 'the call has ended');
      // Only a call that was answered is taken up again: one that only rang is over.
      if (
        msg.channel.startsWith('*') &&
        msg.target &&
        msg.target !== conn.userId &&
        this.hash.verify(msg.hash, conn.userId, msg.target, msg.channel) &&
        this.answered.has(msg.channel, conn.userId, msg.target)
      )
        return undefined;
      throw new Refusal('access_restricted', 'no such call');
    }
    const member = ch.caller === conn.userId || ch.callee === conn.userId;
    const other = ch.caller === conn.userId ? ch.callee : ch.caller;
    if (
      !member ||
      msg.target !== other ||
      !this.hash.verify(msg.hash, conn.userId, msg.target, ch.id)
    ) {
      throw new Refusal('access_restricted', 'this call is not yours');
    }
    return ch;
  }

  #answer(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const ch = this.#channelFor(conn, msg);
    if (!ch) throw new Refusal('access_restricted', 'the call has ended');
    if (conn.userId !== ch.callee)
      throw new Refusal('access_restricted', 'only the callee answers a call');
    if (ch.status !== 'ringing')
      throw new Refusal('access_restricted', 'the call was already answered or has ended');
    const answer = callAnswerSchema.safeParse(msg.data);
    if (!answer.success)
      throw new Refusal('bad_message', 'an answer needs data: {accept, state, reason}');
    const others = this.state.connectionsOf(ch.callee).filter((c) => c.id !== conn.id);

    if (!answer.data.accept && answer.data.reason === 'reject_busy' && others.length > 0) {
      // Busy on one device, free on another: let the others ring on (kwm does the same).
      return;
    }
    const toCaller = answeredMessage({
      source: ch.callee,
      target: ch.caller,
      name: conn.session.name,
      state: msg.state,
      channel: ch.id,
      hash: msg.hash,
      data: answer.data,
      pcid: msg.pcid,
    });
    this.#stopTimer(ch.id);
    // The callee's other devices stop ringing: a call with no target ("cleared", as in kwm).
    const cleared = ringClearedMessage({ source: ch.caller, state: ch.state, channel: ch.id });
    for (const o of others) this.state.deliver(o.id, cleared);
    if (answer.data.accept) {
      this.state.putChannel({ ...ch, status: 'active', calleeConn: conn.id });
      this.answered.record(ch.id, ch.caller, ch.callee);
    } else {
      this.state.deleteChannel(ch.id);
    }
    if (ch.callerConn) this.state.deliver(ch.callerConn, toCaller);
  }

  #signal(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const ch = this.#attach(this.#channelFor(conn, msg) ?? this.#resume(conn, msg), conn);
    if (ch.status !== 'active' || (ch.callerConn !== conn.id && ch.calleeConn !== conn.id)) {
      throw new Refusal(
        'access_restricted',
        'signals flow only in an answered call, from its two connections',
      );
    }
    const other = ch.callerConn === conn.id ? ch.callee : ch.caller;
    this.#deliverTo(
      ch,
      other,
      callSignalMessage({
        source: conn.userId,
        target: msg.target,
        channel: ch.id,
        hash: msg.hash,
        state: msg.state,
        pcid: msg.pcid,
        data: msg.data,
      }),
    );
  }

  /** A call from before a restart, taken up again with the other member away until it is back. */
  #resume(conn: SignalingSession, msg: WebrtcClientMessage): CallChannel {
    const ch = channelFromBefore(conn, msg);
    this.state.putChannel(ch);
    this.#awaitReturn(ch);
    this.log.debug({ channel: ch.id, user: conn.userId }, 'call resumed after a restart');
    return ch;
  }

  #hangup(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const known = this.#channelFor(conn, msg);
    const reason = callAnswerSchema.safeParse(msg.data).data?.reason ?? 'hangup';
    if (!known) {
      // A call from before a restart: the hangup goes to the other member's devices.
      this.#end(channelFromBefore(conn, msg), conn.userId, msg.target, reason, msg.state);
      return;
    }
    const ch = this.#attach(known, conn);
    if (ch.status === 'active' && ch.callerConn !== conn.id && ch.calleeConn !== conn.id) {
      throw new Refusal('access_restricted', 'this connection is not in the call');
    }
    this.#end(ch, conn.userId, msg.target, reason, msg.state);
  }

  /**
   * Ends a call and tells the other side, as a `webrtc_hangup` from `from`: the caller's
   * connection, or, while it still rings, every connection of the callee.
   */
  #end(ch: CallChannel, from: string, to: string, reason: string, state = ch.state): void {
    this.#stopTimer(ch.id);
    this.#chats.get(ch.id)?.close();
    this.#chats.delete(ch.id);
    this.state.deleteChannel(ch.id, endedMemoryMs);
    // Only an answered call (or one taken up after a restart) was recorded.
    if (ch.status === 'active') this.answered.forget(ch.id);
    const message = hangupMessage({
      source: from,
      target: to,
      channel: ch.id,
      hash: this.hash.of(from, to, ch.id),
      state,
      reason,
      callState: ch.state,
    });
    this.#deliverTo(ch, to, message);
    // Nobody answered: the callee's devices stop ringing too.
    if (reason === 'no_answer' && to === ch.caller) {
      const stop = hangupMessage({
        source: ch.caller,
        target: ch.callee,
        channel: ch.id,
        hash: message.hash,
        state,
        reason,
        callState: ch.state,
      });
      for (const c of this.state.connectionsOf(ch.callee)) this.state.deliver(c.id, stop);
    }
  }

  /**
   * To a member of a call: to its connection in the call, or, while it rings or the member is
   * away, to every connection of that user (clients ignore channels they are not in).
   */
  #deliverTo(ch: CallChannel, user: string, message: ServerMessage): void {
    const conn = user === ch.caller ? ch.callerConn : ch.calleeConn;
    if (conn) this.state.deliver(conn, message);
    else for (const c of this.state.connectionsOf(user)) this.state.deliver(c.id, message);
  }

  #stopTimer(channelId: string): void {
    const t = this.#timers.get(channelId);
    if (t) clearTimeout(t);
    this.#timers.delete(channelId);
    this.#grace.cancel(channelId);
  }
}
