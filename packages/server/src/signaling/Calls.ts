import { randomBytes } from 'node:crypto';
import {
  callAnswerSchema,
  type ServerWebrtcMessage,
  type WebrtcClientMessage,
  webrtcVersion,
} from '@confab/protocol';
import type { Logger } from '../logging/index.js';
import type { Connection } from './Connection.js';
import type { PairHash } from './pairHash.js';
import type { CallChannel, SignalingState } from './SignalingState.js';

/** A reason the request cannot be done; the connection answers it as an RTM error. */
class Refusal extends Error {
  constructor(
    readonly code: 'bad_message' | 'access_restricted' | 'create_restricted',
    message: string,
  ) {
    super(message);
  }
}

const channelAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** kwm's one-to-one channel name: `*` and 24 random characters. */
function newChannelId(): string {
  const bytes = randomBytes(24);
  let id = '*';
  for (const b of bytes) id += channelAlphabet[b % channelAlphabet.length];
  return id;
}

/**
 * One-to-one calls, as kwmserver does them: a call rings every connection of the callee, the
 * first to accept joins the channel (the others stop ringing), signals pass only between the two
 * members of a channel whose pair hash they present, and either hangs up. Calls nobody answers
 * end after `call_timeout`.
 */
export class Calls {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly state: SignalingState,
    private readonly hash: PairHash,
    private readonly callTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  handle(conn: Connection, msg: WebrtcClientMessage): void {
    try {
      switch (msg.subtype) {
        case 'webrtc_call':
          return msg.initiator ? this.#start(conn, msg) : this.#answer(conn, msg);
        case 'webrtc_signal':
          return this.#signal(conn, msg);
        case 'webrtc_hangup':
          return this.#hangup(conn, msg);
        case 'webrtc_group':
          throw new Refusal('bad_message', 'group calls are not available on this server yet');
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      conn.error(err.code, err.message, msg.id);
    }
  }

  /** A connection went away: its calls end for the other side. */
  connectionClosed(conn: Connection): void {
    for (const ch of this.state.channelsOfConnection(conn.id)) {
      const other = ch.callerConn === conn.id ? ch.callee : ch.caller;
      this.#end(ch, conn.userId, other, 'hangup');
    }
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  #start(conn: Connection, msg: WebrtcClientMessage): void {
    if (!msg.target) throw new Refusal('bad_message', 'webrtc_call needs a target');
    if (!msg.state) throw new Refusal('bad_message', 'webrtc_call needs a state');
    if (msg.channel || msg.hash || msg.data !== undefined)
      throw new Refusal('bad_message', 'a new webrtc_call carries no channel, hash or data');
    if (msg.target === conn.userId) throw new Refusal('bad_message', 'you cannot call yourself');
    const channel: CallChannel = {
      id: newChannelId(),
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
    conn.send({
      type: 'webrtc',
      subtype: 'webrtc_channel',
      reply_to: msg.id,
      channel: channel.id,
      hash,
      v: webrtcVersion,
      ...(msg.transaction ? { transaction: msg.transaction } : {}),
    });

    const targets = this.state.connectionsOf(msg.target);
    if (targets.length === 0) {
      this.log.debug(
        { caller: conn.userId, callee: msg.target },
        'call to a user with no connection',
      );
      this.#end(channel, msg.target, conn.userId, 'unreachable');
      return;
    }
    const ring: ServerWebrtcMessage = {
      type: 'webrtc',
      subtype: 'webrtc_call',
      source: conn.userId,
      target: msg.target,
      profile: { name: conn.session.name },
      initiator: true,
      state: msg.state,
      channel: channel.id,
      hash,
      v: webrtcVersion,
      ...(msg.pcid ? { pcid: msg.pcid } : {}),
    };
    for (const t of targets) this.state.deliver(t.id, ring);
    this.#timers.set(
      channel.id,
      setTimeout(() => {
        const ch = this.state.getChannel(channel.id);
        if (ch?.status === 'ringing') this.#end(ch, ch.callee, ch.caller, 'no_answer');
      }, this.callTimeoutMs).unref(),
    );
  }

  /** The channel a message names, if the sender may act in it towards its target. */
  #channelFor(conn: Connection, msg: WebrtcClientMessage): CallChannel {
    const ch = msg.channel ? this.state.getChannel(msg.channel) : undefined;
    if (!ch) throw new Refusal('access_restricted', 'no such call');
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

  #answer(conn: Connection, msg: WebrtcClientMessage): void {
    const ch = this.#channelFor(conn, msg);
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
    const toCaller: ServerWebrtcMessage = {
      type: 'webrtc',
      subtype: 'webrtc_call',
      source: ch.callee,
      target: ch.caller,
      profile: { name: conn.session.name },
      initiator: false,
      state: msg.state,
      channel: ch.id,
      hash: msg.hash,
      v: webrtcVersion,
      data: answer.data,
      ...(msg.pcid ? { pcid: msg.pcid } : {}),
    };
    this.#stopTimer(ch.id);
    // The callee's other devices stop ringing: a call with no target ("cleared", as in kwm).
    const cleared: ServerWebrtcMessage = {
      type: 'webrtc',
      subtype: 'webrtc_call',
      source: ch.caller,
      initiator: true,
      state: ch.state,
      channel: ch.id,
      v: webrtcVersion,
    };
    for (const o of others) this.state.deliver(o.id, cleared);
    if (answer.data.accept) {
      this.state.putChannel({ ...ch, status: 'active', calleeConn: conn.id });
    } else {
      this.state.deleteChannel(ch.id);
    }
    this.state.deliver(ch.callerConn, toCaller);
  }

  #signal(conn: Connection, msg: WebrtcClientMessage): void {
    const ch = this.#channelFor(conn, msg);
    if (ch.status !== 'active' || (ch.callerConn !== conn.id && ch.calleeConn !== conn.id)) {
      throw new Refusal(
        'access_restricted',
        'signals flow only in an answered call, from its two connections',
      );
    }
    const to = ch.callerConn === conn.id ? (ch.calleeConn as string) : ch.callerConn;
    this.state.deliver(to, {
      type: 'webrtc',
      subtype: 'webrtc_signal',
      source: conn.userId,
      target: msg.target,
      channel: ch.id,
      hash: msg.hash,
      state: msg.state,
      v: webrtcVersion,
      ...(msg.pcid ? { pcid: msg.pcid } : {}),
      data: msg.data,
    });
  }

  #hangup(conn: Connection, msg: WebrtcClientMessage): void {
    const ch = this.#channelFor(conn, msg);
    if (ch.status === 'active' && ch.callerConn !== conn.id && ch.calleeConn !== conn.id) {
      throw new Refusal('access_restricted', 'this connection is not in the call');
    }
    const reason = callAnswerSchema.safeParse(msg.data).data?.reason ?? 'hangup';
    this.#end(ch, conn.userId, msg.target, reason, msg.state);
  }

  /**
   * Ends a call and tells the other side, as a `webrtc_hangup` from `from`: the caller's
   * connection, or, while it still rings, every connection of the callee.
   */
  #end(ch: CallChannel, from: string, to: string, reason: string, state = ch.state): void {
    this.#stopTimer(ch.id);
    this.state.deleteChannel(ch.id);
    const message: ServerWebrtcMessage = {
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      source: from,
      target: to,
      channel: ch.id,
      hash: this.hash.of(from, to, ch.id),
      state,
      v: webrtcVersion,
      data: { accept: false, reason, state: ch.state },
    };
    if (to === ch.caller) {
      this.state.deliver(ch.callerConn, message);
    } else if (ch.status === 'active' && ch.calleeConn) {
      this.state.deliver(ch.calleeConn, message);
    } else {
      for (const c of this.state.connectionsOf(ch.callee)) this.state.deliver(c.id, message);
    }
    // Nobody answered: the callee's devices stop ringing too.
    if (reason === 'no_answer' && to === ch.caller) {
      const stop = { ...message, source: ch.caller, target: ch.callee };
      for (const c of this.state.connectionsOf(ch.callee)) this.state.deliver(c.id, stop);
    }
  }

  #stopTimer(channelId: string): void {
    const t = this.#timers.get(channelId);
    if (t) clearTimeout(t);
    this.#timers.delete(channelId);
  }
}
