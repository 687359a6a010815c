import {
  type BridgeOffer,
  type ChannelMessage,
  type ChatsClientMessage,
  type DirectPair as DirectPairData,
  directSignalMessage,
  directSignalSchema,
  type EndpointState,
  type FromPipelineSignal,
  type GroupChannelData,
  type GroupChannelPayload,
  type GroupParticipant,
  groupChannelMessage,
  groupHangupMessage,
  groupJoinDataSchema,
  groupJoinedMessage,
  groupPrejoinedMessage,
  groupWaitingMessage,
  type ModeratedBy,
  type PipelineOffer,
  type PipelineSignal,
  pipelinePeerId,
  pipelineSignalMessage,
  pipelineSignalSchema,
  type Reaction,
  type WebrtcClientMessage,
} from '@confab/protocol';
import { type ChatArchive, type ChatHistory, ChatLog } from '../chat/index.js';
import { ReconnectGrace } from '../common/index.js';
import type { Logger } from '../logging/index.js';
import {
  type PairHash,
  Refusal,
  type SignalingSession,
  type SignalingState,
} from '../signaling/index.js';
import type { BridgeHub, BridgeLink, EndpointMessage } from './BridgeHub.js';
import type { ConferenceIndex } from './ConferenceIndex.js';
import { Lobby } from './Lobby.js';
import { newId, Participant } from './Participant.js';

export interface ConferenceOptions {
  state: SignalingState;
  hash: PairHash;
  hub: BridgeHub;
  /** The focus's index: told of every member and connection that comes and goes. */
  index: ConferenceIndex;
  maxParticipants: number;
  /** `p2p`: a room of two whose members' clients can runs peer to peer. */
  p2p: boolean;
  /** How long a room back to two after it was larger waits before it goes direct again. */
  p2pSettleMs: number;
  emptyTimeoutMs: number;
  /** `call_reconnect_grace` (ms), for members whose signaling dropped. */
  reconnectGraceMs: number;
  /** How long a prejoin's session is held for a join that does not come. */
  prejoinTimeoutMs: number;
  /** Takes one screen-share change or renegotiation from the user's budget; false when spent. */
  takeChange(group: string, user: string): boolean;
  /** Takes one hand or reaction from the user's budget (`gestureRateLimit`); false when spent. */
  takeGesture(group: string, user: string): boolean;
  /** Where meetings' chat is kept while they last. */
  chatHistory: ChatHistory;
  /** Where rooms' chat is kept past their meetings, and for how long (`chat_retention`). */
  chatArchive?: ChatArchive | undefined;
  chatRetentionMs: number;
  /** Someone the owner let in from the lobby joins (the focus checks its limits again). */
  admit(conn: SignalingSession, msg: WebrtcClientMessage): void;
  /** The owner ended the meeting: its members and their sessions, which must not start a new one. */
  ended(group: string, members: { user: string; session: string }[], by: ModeratedBy): void;
  logger: Logger;
}

/** A guest's join held back: its connection and the `webrtc_group` message, answered later. */
export interface Waiting {
  conn: SignalingSession;
  msg: WebrtcClientMessage;
}

/**
 * `webrtc_group`'s `data`: the session (endpoint) a rejoining client says it still holds, and
 * whether it can go peer to peer. Read leniently (kwm's clients send no data at all there).
 */
export const joinDataOf = (msg: WebrtcClientMessage) =>
  groupJoinDataSchema.safeParse(msg.data).data;

/**
 * A prejoin: a connection on the room's landing page holding a session on the bridge ahead of
 * its join (docs/protocol.md "Prejoin"). Not a member: not listed, forwarded nothing, and what
 * its client sends starts no stream, until the join that names its session.
 */
interface Prejoin {
  conn: string;
  user: string;
  endpoint: string;
  /** The bridge's last offer, until its answer came: taken on by the member it becomes. */
  offer: PipelineOffer | undefined;
  timer: NodeJS.Timeout;
}

/** The direct pair of a room of two: its id (in its signals) and its two members. */
interface DirectPair {
  id: string;
  a: Participant;
  b: Participant;
  /** The members whose client said its direct connection is up. */
  connected: Set<string>;
}

/** A client's ICE candidate, passed to the bridge for its endpoint. */
function relayCandidate(
  bridge: BridgeLink,
  ids: { conference: string; endpoint: string },
  candidate: { candidate: string; sdpMid?: string | null | undefined },
): void {
  bridge.send({
    type: 'candidate',
    ...ids,
    candidate: candidate.candidate,
    mid: candidate.sdpMid ?? '',
  });
}

/** The key of two users' pair, the same either way round. */
const pairKey = (a: string, b: string): string => (a < b ? `${a}\n${b}` : `${b}\n${a}`);

/**
 * One group room's conference (the focus's room): its members, the guests waiting for it to
 * start, its owner, its bridge and its members' endpoints there. It relays session
 * descriptions between its members and the bridge and carries out the owner's orders; the
 * focus decides who may join (limits, secure domain) and routes messages to it.
 *
 * It closes itself when it has been empty for `conference_empty_timeout`; `close()` ends it at
 * once with everything it holds (docs/architecture.md "Closures").
 */
export class Conference {
  /** The id the bridge knows it by: new for every conference of the same room. */
  readonly id = newId();
  readonly channel: string;
  #bridge: BridgeLink | undefined;
  readonly #members = new Map<string, Participant>();
  /** Guests held until a registered user starts the room, by connection, in the order they came. */
  readonly #waiting = new Map<string, Waiting>();
  /** Members whose signaling dropped, waited for until they come back or leave. */
  readonly #away: ReconnectGrace<Participant>;
  /** Prejoins by connection id. */
  readonly #prejoins = new Map<string, Prejoin>();
  readonly #lobby: Lobby;
  /** Who was last told who asks to join, and how many asked then. */
  #toldKnocking: { owner: string; count: number } | undefined;
  /** Connections let in from the lobby, while their join runs. */
  readonly #passes = new Set<string>();
  readonly #chat: ChatLog;
  #owner: string | undefined;
  /** The user the bridge last named the dominant speaker. */
  #speaker: string | undefined;
  #emptyTimer: NodeJS.Timeout | undefined;
  /** The room of two's direct pair, from the focus's word to connect until it ends. */
  #direct: DirectPair | undefined;
  /** Pairs of users whose direct connection failed here: they stay on the bridge. */
  readonly #directFailed = new Set<string>();
  /** Waits before a room back to two goes direct again (`p2pSettleMs`). */
  #directTimer: NodeJS.Timeout | undefined;
  /** The room had more than two members since it was last direct. */
  #wasLarger = false;
  /** Someone joined (guests only waiting do not start it). */
  #started = false;
  #closed = false;
  readonly #log: Logger;

  constructor(
    readonly group: string,
    private readonly opts: ConferenceOptions,
  ) {
    this.channel = `@${group}`;
    this.#away = new ReconnectGrace(opts.reconnectGraceMs);
    this.#log = opts.logger;
    this.#lobby = new Lobby(opts.maxParticipants);
    this.#chat = new ChatLog({
      channel: this.channel,
      history: opts.chatHistory,
      meeting: this.id,
      archive: opts.chatArchive && {
        store: opts.chatArchive,
        room: group,
        retentionMs: opts.chatRetentionMs,
      },
      deliver: (conn, message) => this.opts.state.deliver(conn, message),
      logger: opts.logger,
    });
    opts.index.add(this);
  }

  get bridge(): BridgeLink | undefined {
    return this.#bridge;
  }

  get started(): boolean {
    return this.#started;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Members, the away ones included. */
  get size(): number {
    return this.#members.size;
  }

  get waitingCount(): number {
    return this.#waiting.size;
  }

  get prejoinCount(): number {
    return this.#prejoins.size;
  }

  /** The session `conn`'s prejoin holds here, if it has one. */
  prejoinSession(connId: string): string | undefined {
    return this.#prejoins.get(connId)?.endpoint;
  }

  /**
   * Timers running: the away members' graces, the empty timeout, the direct settle, the
   * prejoins' expiries.
   */
  get activeTimers(): number {
    return (
      this.#away.pending +
      (this.#emptyTimer ? 1 : 0) +
      (this.#directTimer ? 1 : 0) +
      this.#prejoins.size
    );
  }

  /** Runs peer to peer: a direct pair whose connection a member said is up. */
  get direct(): boolean {
    return (this.#direct?.connected.size ?? 0) > 0;
  }

  member(user: string): Participant | undefined {
    return this.#members.get(user);
  }

  /**
   * A client back after its signaling dropped, still holding its session, carries on: the web
   * app names its session; kwmjs joins again with the group's hash (its refreshGroup), which
   * only a client that was in this conference as this user holds.
   */
  mayResume(member: Participant, msg: WebrtcClientMessage): boolean {
    return (
      this.#away.isAway(member) &&
      (joinDataOf(msg)?.session === member.endpoint ||
        (msg.hash !== '' &&
          this.opts.hash.verify(msg.hash, member.user, pipelinePeerId, this.channel)))
    );
  }

  /**
   * A member back within the reconnect grace on a new connection: same endpoint, same media
   * (which went on meanwhile); an offer it had not answered comes again.
   */
  resume(conn: SignalingSession, msg: WebrtcClientMessage, member: Participant): void {
    this.#away.cancel(member);
    this.#setConn(member, conn.id);
    // What it missed while away, not again what its client has (kwmjs shows every message).
    const since = member.awayAt;
    member.awayAt = undefined;
    this.#welcome(conn, msg, member, undefined, since);
    if (member.offer) this.#signalMember(member, member.offer);
    this.#log.debug({ group: this.group, user: member.user }, 'member back');
  }

  /**
   * Seats `conn`'s user (the focus checked it may join): a user already in (a second tab, a
   * fresh page after a drop) is replaced. The bridge is asked for the member's endpoint.
   */
  join(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const guest = conn.guestPath !== undefined;
    const existing = this.#members.get(conn.userId);
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = undefined;
    // A conference whose bridge was lost waits for the next one (`place`).
    this.#bridge ??= this.opts.hub.pick();
    // The connection's prejoin: its session carries on when the join names it (and is still on
    // this conference's bridge: `place` ends prejoins), else it is released.
    const pre = this.#takePrejoin(conn.id);
    const adopted =
      pre && this.#bridge && joinDataOf(msg)?.session === pre.endpoint ? pre : undefined;
    if (pre && !adopted) this.#bridge?.release(this.id, pre.endpoint);
    if (!this.#started) {
      this.#started = true;
      this.#log.info(
        { group: this.group, conference: this.id, bridge: this.#bridge?.name ?? null },
        'conference created',
      );
    }

    const wasAway = existing ? this.#away.cancel(existing) : false;
    if (existing) {
      if (existing.conn !== conn.id)
        this.opts.state.deliver(existing.conn, this.#channelMessage({ replaced: true }));
      this.#release(existing);
      this.#setConn(existing, undefined);
    }
    const member = new Participant(
      conn.userId,
      conn.name,
      conn.id,
      guest,
      // A second tab carries on the first's membership; a fresh page after a drop is new.
      existing && !wasAway ? existing.joinedAt : Date.now(),
      adopted?.endpoint,
    );
    member.muted = existing?.muted ?? false;
    member.hand = existing?.hand;
    member.p2p = joinDataOf(msg)?.p2p === true;
    this.#members.set(member.user, member);
    this.opts.index.user(this, member.user, true);
    this.opts.index.connection(this, member.conn, true);
    if (!this.#owner && !guest) this.#owner = member.user;

    // A room of one becoming two goes direct at once: the joiner hears it in its join reply,
    // before it sends anything to the bridge, which it then need not.
    const pair = this.#considerDirect(member);
    this.#welcome(conn, msg, member, pair);
    this.#announce(member.user);
    if (this.#bridge && adopted) this.#admit(this.#bridge, member, adopted.offer);
    else if (this.#bridge) this.#allocate(this.#bridge, member);
    this.#log.debug(
      { group: this.group, user: member.user, endpoint: member.endpoint },
      'joined conference',
    );
  }

  /**
   * A guest came before the room started: held, and told so with a channel message whose data
   * is `{waiting: true}` (Confab's addition; kwm answers `create_restricted`). At most
   * `maxParticipants` wait; more are refused with `create_restricted`.
   */
  hold(conn: SignalingSession, msg: WebrtcClientMessage): void {
    if (!this.#waiting.has(conn.id) && this.#waiting.size >= this.opts.maxParticipants)
      throw new Refusal('create_restricted', 'too many guests are waiting for this room to start');
    this.#waiting.set(conn.id, { conn, msg });
    // A guest whose room emptied between its prejoin and its join waits without the session.
    this.endPrejoin(conn.id, true);
    conn.send(
      groupWaitingMessage({
        reply_to: msg.id,
        group: this.group,
        state: msg.state,
        transaction: msg.transaction,
      }),
    );
    this.#log.debug(
      { group: this.group, user: conn.userId },
      'guest waiting for the room to start',
    );
  }

  /**
   * A prejoin (the focus checked it may join): a session on the bridge held for `conn` while
   * its user is on the room's landing page, allocated `held` so that it is negotiated with
   * everyone's streams but forwarded nothing and publishing nothing; replied to with the
   * session and the hash its pipeline signals carry, and nobody's name. The join that names the
   * session takes it on (`join`), so that the press of "Join call" costs neither a first
   * negotiation nor ICE and DTLS. One per connection here (a second replaces the first), at most
   * `maxParticipants` per conference, each for `prejoinTimeoutMs`.
   */
  prejoin(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const earlier = this.#takePrejoin(conn.id);
    if (earlier) this.#bridge?.release(this.id, earlier.endpoint);
    if (this.#prejoins.size >= this.opts.maxParticipants)
      throw new Refusal('conference_full', 'as many are about to join this room as may');
    // Members waiting for a bridge after theirs was lost are placed by `place`, not here.
    if (!this.#bridge && this.#members.size > 0)
      throw new Refusal('server_error', 'the conference has no bridge at the moment');
    this.#bridge ??= this.opts.hub.pick();
    const bridge = this.#bridge;
    if (!bridge) throw new Refusal('server_error', 'no media bridge is available');
    const p: Prejoin = {
      conn: conn.id,
      user: conn.userId,
      endpoint: newId(),
      offer: undefined,
      timer: setTimeout(() => this.endPrejoin(p.conn, true), this.opts.prejoinTimeoutMs),
    };
    p.timer.unref();
    this.#prejoins.set(conn.id, p);
    conn.send(
      groupPrejoinedMessage({
        reply_to: msg.id,
        channel: this.channel,
        group: this.group,
        hash: this.opts.hash.of(conn.userId, pipelinePeerId, this.channel),
        state: msg.state,
        transaction: msg.transaction,
        session: p.endpoint,
      }),
    );
    bridge.allocate(this.id, p.endpoint, conn.userId, true);
    this.#log.debug({ group: this.group, user: conn.userId, endpoint: p.endpoint }, 'prejoin');
  }

  /**
   * Ends `connId`'s prejoin here (its client left the landing page, hung up, went away, or it
   * expired): its session is released and, with `tell`, its client hears `{prejoined: null}`.
   * False when it had none.
   */
  endPrejoin(connId: string, tell: boolean): boolean {
    const p = this.#takePrejoin(connId);
    if (!p) return false;
    this.#bridge?.release(this.id, p.endpoint);
    if (tell) this.opts.state.deliver(p.conn, this.#channelMessage({ prejoined: null }));
    this.#closeIfIdle();
    return true;
  }

  #takePrejoin(connId: string): Prejoin | undefined {
    const p = this.#prejoins.get(connId);
    if (!p) return undefined;
    this.#prejoins.delete(connId);
    clearTimeout(p.timer);
    return p;
  }

  /**
   * A prejoin's `webrtc_signal` to the pipeline: its answer and candidates reach the bridge;
   * anything else needs the join first.
   */
  prejoinSignal(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const p = this.#prejoins.get(conn.id);
    if (!p) throw new Refusal('access_restricted', 'this connection is not in that group');
    if (!this.opts.hash.verify(msg.hash, p.user, pipelinePeerId, this.channel))
      throw new Refusal('access_restricted', 'wrong hash for this group');
    if (msg.target !== pipelinePeerId)
      throw new Refusal('access_restricted', 'a prejoin signals only to the pipeline');
    const parsed = pipelineSignalSchema.safeParse(msg.data);
    if (!parsed.success)
      throw new Refusal('bad_message', 'a prejoin signals {type: "answer", sdp} or {candidate}');
    const data = parsed.data;
    const bridge = this.#bridge;
    const ids = { conference: this.id, endpoint: p.endpoint };
    if ('noop' in data) return;
    if (!bridge) throw new Refusal('server_error', 'the conference has no bridge at the moment');
    if ('renegotiate' in data) {
      // Its client could not take an offer (it asks again), within the same budget as a member.
      if (!this.opts.takeChange(this.group, p.user))
        throw new Refusal('rate_limited', 'too many renegotiations: at most one every 3 seconds');
      bridge.send({ type: 'renegotiate', ...ids });
    } else if ('type' in data) {
      p.offer = undefined;
      bridge.send({ type: 'answer', ...ids, sdp: data.sdp });
    } else if ('candidate' in data) relayCandidate(bridge, ids, data.candidate);
    else throw new Refusal('access_restricted', 'join the conference first');
  }

  /** The bridge's message about a prejoin's endpoint: relayed to its client, or it ends. */
  #prejoinMessage(p: Prejoin, message: EndpointMessage): void {
    switch (message.type) {
      case 'offer': {
        const offer: PipelineOffer = {
          type: 'offer',
          sdp: message.sdp,
          streams: message.streams,
          session: p.endpoint,
        };
        p.offer = offer;
        return this.#signalTo(p.conn, p.user, p.endpoint, offer);
      }
      case 'candidate':
        return this.#signalTo(p.conn, p.user, p.endpoint, {
          candidate: { candidate: message.candidate, sdpMid: message.mid },
          session: p.endpoint,
        });
      case 'endpoint_state':
        if (message.state === 'failed' || message.state === 'closed') this.endPrejoin(p.conn, true);
        return;
      case 'endpoint_full':
        this.endPrejoin(p.conn, true);
        return;
      case 'speaker':
        return;
    }
  }

  #prejoinByEndpoint(endpoint: string): Prejoin | undefined {
    for (const p of this.#prejoins.values()) if (p.endpoint === endpoint) return p;
    return undefined;
  }

  /** The guests waiting, in the order they came, taken off the list (to be admitted). */
  takeWaiting(): Waiting[] {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    return waiting;
  }

  /** A held guest hung up or went away; false when it was not waiting here. */
  stopWaiting(connId: string): boolean {
    if (!this.#waiting.delete(connId)) return false;
    this.#closeIfIdle();
    return true;
  }

  /**
   * `conn` closed: its member is away for the reconnect grace (then leaves), or leaves at once
   * when the grace does not wait for it.
   */
  connectionClosed(conn: SignalingSession): void {
    const m = this.#members.get(conn.userId);
    if (m?.conn !== conn.id || this.#away.isAway(m)) return;
    if (!this.#away.waitsFor(conn)) return this.#leave(m);
    this.opts.index.connection(this, m.conn, false);
    this.#away.start(m, () => this.#leave(m));
    m.awayAt = Date.now();
    this.#log.debug({ group: this.group, user: m.user }, 'member away');
  }

  /** The member `conn` speaks for, in this conference's channel. */
  memberOf(conn: SignalingSession, msg: WebrtcClientMessage): Participant {
    const member = this.#members.get(conn.userId);
    if (!member || member.conn !== conn.id || this.#away.isAway(member))
      throw new Refusal('access_restricted', 'this connection is not in that group');
    if (msg.channel && msg.channel !== this.channel)
      throw new Refusal('access_restricted', 'wrong channel for that group');
    return member;
  }

  /**
   * A hangup to the group or the pipeline: the member leaves. One to a member, or from a
   * connection not in the conference, leaves nothing (kwmjs sends all of them).
   */
  hangup(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const member = this.#members.get(conn.userId);
    if (!member || member.conn !== conn.id || this.#away.isAway(member)) return;
    if (msg.channel && msg.channel !== this.channel) return;
    if (msg.target && msg.target !== this.group && msg.target !== pipelinePeerId) return;
    this.#leave(member);
  }

  /** A member's `webrtc_signal` to the pipeline: relayed to the bridge, or an owner's order. */
  signal(member: Participant, msg: WebrtcClientMessage): void {
    if (!this.opts.hash.verify(msg.hash, member.user, pipelinePeerId, this.channel))
      throw new Refusal('access_restricted', 'wrong hash for this group');
    if (msg.target !== pipelinePeerId) return this.#directSignal(member, msg);
    const parsed = pipelineSignalSchema.safeParse(msg.data);
    if (!parsed.success)
      throw new Refusal(
        'bad_message',
        'pipeline signals carry {type: "answer", sdp}, {candidate}, {renegotiate: true}, {screenshare}, {mute}, {remove}, {unmute}, {p2p: {pair, state}}, {noop: true}, or a meeting action (docs/protocol.md "In the meeting")',
      );
    const data = parsed.data;
    // The meeting's own actions need no bridge (a room of two may run without its media).
    if (this.#meetingAction(member, data)) return;
    const bridge = this.#bridge;
    if (!bridge) throw new Refusal('server_error', 'the conference has no bridge at the moment');
    // kwmjs names its peer connection (pcid) in its signals: another one means it dropped the old
    // connection (its recover()) and waits for an offer on a new one, which needs a new session.
    // The first pcid after a new session is the client's new connection; one from before it is
    // stale (a late candidate of the old one) and dropped.
    const pcid = member.pcid(msg.pcid);
    if (pcid === 'stale') return;
    if (pcid === 'new' && msg.pcid !== undefined) {
      this.#change(member);
      // kwmjs takes the new session's pcid as yet another connection (its rpcid rules), so
      // the one that asked is stale too: its answer comes from the next.
      const asking = msg.pcid;
      if (this.#renew(bridge, member, 'the client made a new peer connection'))
        member.stale(asking);
      return;
    }
    const ids = { conference: this.id, endpoint: member.endpoint };
    if ('type' in data) {
      member.offer = undefined;
      bridge.send({ type: 'answer', ...ids, sdp: data.sdp });
    } else if ('candidate' in data) relayCandidate(bridge, ids, data.candidate);
    // kwmjs's `{renegotiate, noop}` comes from a new connection (handled above) or means nothing.
    else if ('renegotiate' in data && !('noop' in data)) {
      this.#change(member);
      bridge.send({ type: 'renegotiate', ...ids });
    } else if ('screenshare' in data) {
      this.#change(member);
      bridge.send({ type: 'screenshare', ...ids, active: data.screenshare !== null });
    } else if ('mute' in data) this.#mute(member, data.mute.user);
    else if ('remove' in data) this.#remove(member, data.remove.user);
    else if ('unmute' in data) this.#setMuted(member, false);
    else if ('p2p' in data) this.#directState(member, data.p2p.pair, data.p2p.state);
  }

  /**
   * A signal from a member of the direct pair to the other, relayed as it is. One for a pair
   * that has ended (it crossed the focus's word) is dropped; one to anyone but the other member
   * of this member's pair is refused.
   */
  #directSignal(member: Participant, msg: WebrtcClientMessage): void {
    const d = this.#direct;
    const peer = d?.a === member ? d.b : d?.b === member ? d.a : undefined;
    const current = peer?.user === msg.target;
    if (!current && !this.#members.has(msg.target ?? ''))
      throw new Refusal(
        'access_restricted',
        `in a group, signals go to the pipeline (${pipelinePeerId}) or to the other member of a direct pair`,
      );
    const parsed = directSignalSchema.safeParse(msg.data);
    if (!parsed.success)
      throw new Refusal(
        'bad_message',
        'direct signals carry {p2p: pair, type, sdp}, {p2p: pair, candidate} or {p2p: pair, media: {screen, video}}',
      );
    if (!d || !peer || !current || parsed.data.p2p !== d.id) return;
    this.opts.state.deliver(
      peer.conn,
      directSignalMessage({
        source: member.user,
        target: peer.user,
        channel: this.channel,
        group: this.group,
        hash: this.opts.hash.of(peer.user, pipelinePeerId, this.channel),
        data: parsed.data,
      }),
    );
  }

  /** A member says how its direct connection is doing; a failed one keeps the pair on the bridge. */
  #directState(member: Participant, pair: string, state: 'connected' | 'failed'): void {
    const d = this.#direct;
    if (!d || d.id !== pair || (d.a !== member && d.b !== member)) return;
    if (state === 'connected') {
      if (d.connected.size === 0)
        this.#log.info({ group: this.group, conference: this.id }, 'room of two is peer to peer');
      d.connected.add(member.user);
      return;
    }
    this.#directFailed.add(pairKey(d.a.user, d.b.user));
    this.#log.info(
      { group: this.group, conference: this.id, user: member.user },
      'direct connection failed: the room of two stays on the bridge',
    );
    this.#endDirect();
  }

  /**
   * After every join and leave: a room of exactly two whose clients both can (and whose pair
   * has not failed here) goes direct, at once when it reached two from one, after
   * `p2pSettleMs` when it was larger; any other room ends its direct pair.
   */
  #considerDirect(joiner?: Participant): DirectPairData | undefined {
    clearTimeout(this.#directTimer);
    this.#directTimer = undefined;
    const members = [...this.#members.values()];
    if (members.length > 2) this.#wasLarger = true;
    const [a, b] = members;
    const eligible =
      this.opts.p2p &&
      !this.#closed &&
      members.length === 2 &&
      a?.p2p === true &&
      b?.p2p === true &&
      !this.#directFailed.has(pairKey(a.user, b.user));
    const d = this.#direct;
    if (eligible && d && ((d.a === a && d.b === b) || (d.a === b && d.b === a))) return;
    this.#endDirect();
    if (!eligible || !a || !b) return;
    if (!this.#wasLarger) return this.#startDirect(a, b, joiner);
    this.#directTimer = setTimeout(() => {
      this.#directTimer = undefined;
      if (this.#members.get(a.user) === a && this.#members.get(b.user) === b && this.size === 2)
        this.#startDirect(a, b);
    }, this.opts.p2pSettleMs);
    this.#directTimer.unref();
  }

  /**
   * Tells both members to connect directly; the greater user id offers (kwm's rule). `joiner`
   * (one of them, just joining) is told after its join reply, which carries the same word
   * (returned here): a web app loaded before the reply carried it still hears it.
   */
  #startDirect(a: Participant, b: Participant, joiner?: Participant): DirectPairData | undefined {
    this.#wasLarger = false;
    const d: DirectPair = { id: newId(), a, b, connected: new Set() };
    this.#direct = d;
    let forJoiner: DirectPairData | undefined;
    for (const [m, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const p2p = { pair: d.id, peer: peer.user, initiator: m.user > peer.user };
      if (m === joiner) forJoiner = p2p;
      else this.opts.state.deliver(m.conn, this.#channelMessage({ p2p }));
    }
    if (forJoiner && joiner) {
      const told = this.#channelMessage({ p2p: forJoiner });
      queueMicrotask(() => {
        if (this.#direct === d && this.#members.get(joiner.user) === joiner)
          this.opts.state.deliver(joiner.conn, told);
      });
    }
    this.#log.debug({ group: this.group, pair: d.id }, 'room of two: connect directly');
    return forJoiner;
  }

  /**
   * The direct pair ends (a third joined, one left, or it failed): its members still here are
   * told `{p2p: null}` and send to the bridge again, which still holds each one's mute (told
   * again here, so that a client that ignored the order is not heard through the bridge either).
   */
  #endDirect(): void {
    const d = this.#direct;
    if (!d) return;
    this.#direct = undefined;
    const ended = this.#channelMessage({ p2p: null });
    for (const m of [d.a, d.b]) {
      if (this.#members.get(m.user) !== m) continue;
      this.opts.state.deliver(m.conn, ended);
      if (m.muted)
        this.#bridge?.send({
          type: 'mute',
          conference: this.id,
          endpoint: m.endpoint,
          muted: true,
        });
    }
    if (d.connected.size > 0)
      this.#log.info({ group: this.group, conference: this.id }, 'room back on the bridge');
  }

  /** A screen-share change or renegotiation, within the user's budget. */
  #change(member: Participant): void {
    if (!this.opts.takeChange(this.group, member.user))
      throw new Refusal(
        'rate_limited',
        'too many screen-share changes or renegotiations: at most one every 3 seconds',
      );
  }

  /** The owner's orders: only the owner gives them. */
  #ownerOnly(by: Participant, what: string): Participant {
    if (this.#owner !== by.user)
      throw new Refusal('access_restricted', `only the owner can ${what}`);
    return by;
  }

  /** The owner's orders about someone in the conference. */
  #target(by: Participant, user: string, what = 'mute or remove participants'): Participant {
    this.#ownerOnly(by, what);
    const target = this.#members.get(user);
    if (!target) throw new Refusal('bad_message', 'no such participant in this conference');
    return target;
  }

  #mute(by: Participant, user: string): void {
    const target = this.#target(by, user);
    if (target.muted) return;
    this.#setMuted(target, true);
    this.opts.state.deliver(
      target.conn,
      this.#channelMessage({ muted: { by: by.user, name: by.name } }),
    );
    this.#log.info({ group: this.group, user: target.user, by: by.user }, 'participant muted');
  }

  #setMuted(member: Participant, muted: boolean): void {
    if (member.muted === muted) return;
    member.muted = muted;
    this.#bridge?.send({ type: 'mute', conference: this.id, endpoint: member.endpoint, muted });
    this.#announce(undefined);
  }

  #remove(by: Participant, user: string): void {
    const target = this.#target(by, user);
    if (target === by) throw new Refusal('bad_message', 'the owner leaves by hanging up');
    this.opts.state.deliver(
      target.conn,
      this.#channelMessage({ removed: { by: by.user, name: by.name } }),
    );
    this.#log.info({ group: this.group, user: target.user, by: by.user }, 'participant removed');
    this.#leave(target);
  }

  /**
   * The meeting's actions (docs/protocol.md "In the meeting"); false when `data` is none of
   * them. Anyone's own hand and reactions, within its budget; the owner's lobby, hand-over,
   * others' hands, mute everyone and the end of the meeting, refused from anyone else.
   */
  #meetingAction(member: Participant, data: PipelineSignal): boolean {
    if ('hand' in data) this.#setHand(member, data.hand);
    else if ('reaction' in data) this.#react(member, data.reaction);
    else if ('lowerHand' in data) {
      const target = this.#target(member, data.lowerHand.user, 'lower hands');
      if (target.hand === undefined) return true;
      target.hand = undefined;
      this.#announce(undefined);
    } else if ('lobby' in data)
      this.#setLobby(this.#ownerOnly(member, 'turn the lobby on or off'), data.lobby);
    else if ('admit' in data) {
      this.#ownerOnly(member, 'let anyone in');
      const k = this.#lobby.take(data.admit.user);
      if (!k) throw new Refusal('bad_message', 'nobody of that id asks to join');
      this.#letIn([k]);
    } else if ('admitAll' in data) {
      this.#ownerOnly(member, 'let anyone in');
      this.#letIn(this.#lobby.takeAll());
    } else if ('deny' in data)
      this.#deny(this.#ownerOnly(member, 'turn anyone away'), data.deny.user);
    else if ('makeOwner' in data) this.#makeOwner(member, data.makeOwner.user);
    else if ('muteAll' in data) this.#muteAll(this.#ownerOnly(member, 'mute everyone'));
    else if ('end' in data) this.end(this.#ownerOnly(member, 'end the meeting'));
    else return false;
    return true;
  }

  /** A gesture (a hand, a reaction) within the member's budget. */
  #gesture(member: Participant): void {
    if (!this.opts.takeGesture(this.group, member.user))
      throw new Refusal(
        'rate_limited',
        'too many hands and reactions: 8 at once, then one a second',
      );
  }

  #setHand(member: Participant, up: boolean): void {
    if ((member.hand !== undefined) === up) return;
    this.#gesture(member);
    member.hand = up ? Date.now() : undefined;
    this.#announce(undefined);
  }

  #react(member: Participant, reaction: Reaction): void {
    this.#gesture(member);
    this.#broadcast({ reaction: { user: member.user, reaction } });
  }

  /** A chat message from `conn` in this conference's channel, to every member. */
  chat(conn: SignalingSession, msg: ChatsClientMessage): void {
    const member = this.#members.get(conn.userId);
    if (!member || member.conn !== conn.id || this.#away.isAway(member))
      throw new Refusal('bad_message', 'connection not in channel');
    const conns: string[] = [];
    for (const m of this.#members.values()) if (!this.#away.isAway(m)) conns.push(m.conn);
    this.#chat.post(
      { user: member.user, name: member.name, guest: member.guest, conn: conn.id },
      msg,
      conns,
    );
  }

  /** Whether `conn`'s join waits in the lobby: while it is on, for all but the owner's. */
  lobbyHolds(conn: SignalingSession): boolean {
    if (!this.#lobby.on || this.#passes.has(conn.id) || this.#members.has(conn.userId))
      return false;
    // With no owner, a registered user's join makes it the owner.
    return this.#owner !== undefined || conn.guestPath !== undefined;
  }

  /**
   * `conn` asks to join while the lobby is on: it waits (told `{asking: true}` in reply), and
   * the owner is told who asks. The same user's earlier ask, from another connection, is
   * replaced.
   */
  knock(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const replaced = this.#lobby.add({
      conn,
      msg,
      user: conn.userId,
      name: conn.name,
      guest: conn.guestPath !== undefined,
    });
    this.endPrejoin(conn.id, false);
    if (replaced) replaced.conn.send(this.#channelMessage({ replaced: true }));
    conn.send(
      groupWaitingMessage({
        reply_to: msg.id,
        group: this.group,
        state: msg.state,
        transaction: msg.transaction,
        lobby: true,
      }),
    );
    this.#tellOwnerKnocking();
    this.#log.debug({ group: this.group, user: conn.userId }, 'asking to join');
  }

  /** An ask ends: its connection hung up or went away. False when it had none here. */
  stopKnocking(connId: string): boolean {
    if (!this.#lobby.leave(connId)) return false;
    this.#tellOwnerKnocking();
    return true;
  }

  /** The owner's lobby switch: off lets everyone asking in, in the order they came. */
  #setLobby(owner: Participant, on: boolean): void {
    if (this.#lobby.on === on) return;
    this.#lobby.on = on;
    this.#log.info({ group: this.group, by: owner.user, on }, 'lobby switched');
    if (on) {
      // Sessions held ahead of a join would let their users past it (and learn who is here).
      for (const p of [...this.#prejoins.values()])
        if (p.user !== owner.user) this.endPrejoin(p.conn, true);
    }
    this.#announce(undefined);
    if (!on) this.#letIn(this.#lobby.takeAll());
  }

  /** Those asking, taken off the queue, join now (the focus checks its limits again). */
  #letIn(knocks: ReturnType<Lobby['takeAll']>): void {
    for (const k of knocks) {
      if (k.conn.closed) continue;
      this.#passes.add(k.conn.id);
      try {
        this.opts.admit(k.conn, k.msg);
      } finally {
        this.#passes.delete(k.conn.id);
      }
    }
    this.#tellOwnerKnocking();
  }

  #deny(owner: Participant, user: string): void {
    const k = this.#lobby.take(user);
    if (!k) throw new Refusal('bad_message', 'nobody of that id asks to join');
    this.#lobby.denied(user);
    k.conn.send(this.#channelMessage({ denied: { by: owner.user, name: owner.name } }));
    this.#tellOwnerKnocking();
    this.#log.info({ group: this.group, user, by: owner.user }, 'turned away at the lobby');
  }

  /**
   * Tells the present owner who asks to join (an empty list too: the requests it shows are
   * over, when the lobby was switched off or its last ask ended).
   */
  #tellOwnerKnocking(): void {
    const owner = this.#owner ? this.#members.get(this.#owner) : undefined;
    if (!owner || this.#away.isAway(owner)) return;
    const knocking = this.#lobby.list();
    // With the lobby off and nobody asking, only an owner that was shown requests hears it.
    const shown = this.#toldKnocking?.owner === owner.user && this.#toldKnocking.count > 0;
    if (!this.#lobby.on && knocking.length === 0 && !shown) return;
    this.#toldKnocking = { owner: owner.user, count: knocking.length };
    this.opts.state.deliver(owner.conn, this.#channelMessage({ knocking }));
  }

  /** The owner hands the meeting (and its lobby) to another registered member. */
  #makeOwner(by: Participant, user: string): void {
    const target = this.#target(by, user, 'hand the meeting over');
    if (target.guest) throw new Refusal('bad_message', 'a guest cannot be the owner');
    if (target === by) return;
    this.#setOwner(target.user);
    this.#announce(undefined);
    this.#log.info({ group: this.group, user: target.user, by: by.user }, 'owner handed over');
  }

  #setOwner(user: string | undefined): void {
    this.#owner = user;
    this.#tellOwnerKnocking();
  }

  /** Everyone but the owner is muted (each may unmute itself); told once each. */
  #muteAll(owner: Participant): void {
    const told = this.#channelMessage({ muted: { by: owner.user, name: owner.name } });
    let n = 0;
    for (const m of this.#members.values()) {
      if (m === owner || m.muted) continue;
      m.muted = true;
      n++;
      this.#bridge?.send({ type: 'mute', conference: this.id, endpoint: m.endpoint, muted: true });
      this.opts.state.deliver(m.conn, told);
    }
    if (n > 0) this.#announce(undefined);
    this.#log.info({ group: this.group, by: owner.user, muted: n }, 'everyone muted');
  }

  /**
   * The owner ends the meeting: everyone in it, asking or waiting is told `{ended}` (kwm
   * clients also get the group's hangup from the pipeline peer) and the conference closes. Its
   * members' sessions are remembered by the focus, so that a client coming back with one does
   * not start a new meeting by itself; a join after this starts one.
   */
  end(owner: Participant): void {
    const by: ModeratedBy = { by: owner.user, name: owner.name };
    const members = [...this.#members.values()];
    this.opts.ended(
      this.group,
      members.map((m) => ({ user: m.user, session: m.endpoint })),
      by,
    );
    this.#log.info({ group: this.group, conference: this.id, by: owner.user }, 'meeting ended');
    this.#close(this.#channelMessage({ ended: by }));
    for (const m of members)
      this.opts.state.deliver(
        m.conn,
        groupHangupMessage({
          target: m.user,
          channel: this.channel,
          group: this.group,
          hash: this.opts.hash.of(m.user, pipelinePeerId, this.channel),
        }),
      );
  }

  /** The member's signaling connection: set, or taken out of the index (`undefined`). */
  #setConn(member: Participant, conn: string | undefined): void {
    this.opts.index.connection(this, member.conn, false);
    if (conn === undefined) return;
    member.conn = conn;
    this.opts.index.connection(this, conn, true);
  }

  #leave(member: Participant): void {
    if (this.#members.get(member.user) !== member) return;
    this.#unseat(member);
    if (this.#owner === member.user) {
      this.#setOwner(this.#longestRegistered());
      // Nobody registered is left to let anyone in: the first registered user asking comes in
      // (and owns the meeting, and its lobby).
      const next = this.#owner ? undefined : this.#lobby.takeFirstRegistered();
      if (next) this.#letIn([next]);
    }
    this.#announce(undefined);
    this.#log.debug({ group: this.group, user: member.user }, 'left conference');
    this.#considerDirect();
    if (this.#members.size > 0) return;
    if (this.opts.emptyTimeoutMs <= 0) return this.#closeIfIdle();
    this.#emptyTimer = setTimeout(() => {
      this.#emptyTimer = undefined;
      this.#closeIfIdle();
    }, this.opts.emptyTimeoutMs);
    this.#emptyTimer.unref();
  }

  /**
   * Takes a member out: its wait, its endpoint on the bridge, its index entries. A closing
   * conference does not release endpoints one by one (each release renegotiates with everyone
   * left on the bridge): its one `expire` drops them all.
   */
  #unseat(member: Participant, release = true): void {
    this.#away.cancel(member);
    this.#members.delete(member.user);
    this.opts.index.user(this, member.user, false);
    this.opts.index.connection(this, member.conn, false);
    if (release) this.#release(member);
    else member.allocated = false;
  }

  /**
   * Nobody in, nobody waiting and no empty timeout running: the conference is over. Prejoins
   * keep open only a conference nobody has joined yet (one made for them): a started one ends
   * at its empty timeout as ever, its prejoins with it (their clients ask again, and get a new
   * conference without this one's past: its owner, its speaker, its direct pairs).
   */
  #closeIfIdle(): void {
    if (
      this.#members.size > 0 ||
      this.#waiting.size > 0 ||
      (this.#prejoins.size > 0 && !this.#started) ||
      this.#emptyTimer
    )
      return;
    this.close();
  }

  #longestRegistered(): string | undefined {
    let best: Participant | undefined;
    for (const m of this.#members.values())
      if (!m.guest && (!best || m.joinedAt < best.joinedAt)) best = m;
    return best?.user;
  }

  /** Asks the bridge for the member's endpoint (its offer follows), muted as it was. */
  #allocate(bridge: BridgeLink, member: Participant): void {
    member.allocating();
    bridge.allocate(this.id, member.endpoint, member.user);
    if (member.muted)
      bridge.send({ type: 'mute', conference: this.id, endpoint: member.endpoint, muted: true });
  }

  /**
   * Takes a prejoin's held endpoint on for the member it became: the bridge admits it (it is
   * forwarded the streams it was negotiated with, and its own start), muted as it was; an
   * offer the prejoin had not answered stays the member's.
   */
  #admit(bridge: BridgeLink, member: Participant, offer: PipelineOffer | undefined): void {
    member.allocating();
    member.offer = offer;
    bridge.send({ type: 'admit', conference: this.id, endpoint: member.endpoint });
    if (member.muted)
      bridge.send({ type: 'mute', conference: this.id, endpoint: member.endpoint, muted: true });
  }

  #release(member: Participant): void {
    if (!this.#bridge || !member.allocated) return;
    member.allocated = false;
    this.#bridge.release(this.id, member.endpoint);
  }

  /**
   * Ends the conference with everything it holds, in this order: its timers (the empty
   * timeout, the away members' graces) stop; waiting guests and members still in are told
   * `{closed: {code}}` in the group channel; the bridge is told to expire the conference, which
   * drops every member's endpoint at once (no `release` each, which would renegotiate with all
   * the others); the focus's index forgets it. Members get no
   * leave announcements: everyone is told the same thing at once. Closing twice does nothing.
   */
  close(): void {
    this.#close(this.#channelMessage({ closed: { code: 'unavailable' } }));
  }

  /** Closes with `told` to everyone in, waiting or asking. */
  #close(told: ChannelMessage): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = undefined;
    clearTimeout(this.#directTimer);
    this.#directTimer = undefined;
    this.#direct = undefined;
    this.#away.close();
    // Prejoins end with it (the bridge's `expire` drops their sessions too).
    const ended = this.#channelMessage({ prejoined: null });
    for (const p of this.#prejoins.values()) {
      clearTimeout(p.timer);
      this.opts.state.deliver(p.conn, ended);
    }
    this.#prejoins.clear();
    for (const { conn } of this.#waiting.values()) conn.send(told);
    this.#waiting.clear();
    for (const { conn } of this.#lobby.takeAll()) conn.send(told);
    const members = [...this.#members.values()];
    for (const m of members) this.opts.state.deliver(m.conn, told);
    for (const m of members) this.#unseat(m, false);
    this.#bridge?.expire(this.id);
    this.#chat.close();
    this.opts.index.remove(this);
    if (this.#started)
      this.#log.info(
        { group: this.group, conference: this.id, members: members.length },
        'conference ended',
      );
  }

  /**
   * The reply to a member's `webrtc_group`: the channel, its hash and who is there, and the
   * direct pair it is in from the start (a room of one it made two).
   */
  #welcome(
    conn: SignalingSession,
    msg: WebrtcClientMessage,
    member: Participant,
    p2p?: DirectPairData,
    /** Replay chat said since then only (ms): a member back from away. */
    chatSince?: number,
  ): void {
    conn.send(
      groupJoinedMessage({
        reply_to: msg.id,
        channel: this.channel,
        group: this.group,
        hash: this.opts.hash.of(member.user, pipelinePeerId, this.channel),
        state: msg.state,
        transaction: msg.transaction,
        members: this.#groupData(true),
        p2p,
      }),
    );
    if (this.#speaker) conn.send(this.#channelMessage({ speaker: this.#speaker }));
    // What was said before it came (a guest: since it joined), and, to the owner, who asks.
    const guestSince = member.guest ? member.joinedAt : undefined;
    const since =
      chatSince === undefined ? guestSince : Math.max(chatSince, guestSince ?? chatSince);
    this.#chat.replay(conn.id, since);
    if (member.user === this.#owner && this.#lobby.on) this.#tellOwnerKnocking();
  }

  #channelMessage(data: GroupChannelPayload): ChannelMessage {
    return groupChannelMessage({ channel: this.channel, group: this.group, data });
  }

  #groupData(reset: boolean): GroupChannelData {
    const members = [...this.#members.values()].sort((a, b) => a.joinedAt - b.joinedAt);
    const participants: GroupParticipant[] = members.map((m) => ({
      id: m.user,
      name: m.name,
      owner: m.user === this.#owner,
      guest: m.guest,
      muted: m.muted,
      ...(m.hand !== undefined ? { hand: m.hand } : {}),
    }));
    return {
      group: this.group,
      members: members.map((m) => m.user),
      reset,
      participants,
      lobby: this.#lobby.on,
    };
  }

  /** Tells every member but `except` who is in the conference now. */
  #announce(except: string | undefined): void {
    this.#broadcast({ group: this.#groupData(false) }, except);
  }

  /** A group channel message with `data` to every member but `except`. */
  #broadcast(data: GroupChannelPayload, except?: string): void {
    const message = this.#channelMessage(data);
    for (const m of this.#members.values())
      if (m.user !== except) this.opts.state.deliver(m.conn, message);
  }

  /**
   * A `webrtc_signal` from the pipeline peer to one member. kwmjs drops signals whose `state` is
   * not the pipeline's id, and takes a new `pcid` as a new peer connection: the session (the
   * endpoint) is the pcid, so a new session is a new connection to it as to the web app.
   */
  #signalMember(m: Participant, data: FromPipelineSignal): void {
    this.#signalTo(m.conn, m.user, m.endpoint, data);
  }

  #signalTo(conn: string, user: string, endpoint: string, data: FromPipelineSignal): void {
    this.opts.state.deliver(
      conn,
      pipelineSignalMessage({
        target: user,
        channel: this.channel,
        group: this.group,
        hash: this.opts.hash.of(user, pipelinePeerId, this.channel),
        session: endpoint,
        data,
      }),
    );
  }

  #byEndpoint(endpoint: string): Participant | undefined {
    for (const m of this.#members.values()) if (m.endpoint === endpoint) return m;
    return undefined;
  }

  /** The bridge's message about one member's endpoint; one of another endpoint is stale. */
  bridgeMessage(message: EndpointMessage): void {
    const m = this.#byEndpoint(message.endpoint);
    if (!m) {
      const p = this.#prejoinByEndpoint(message.endpoint);
      if (p) this.#prejoinMessage(p, message);
      return;
    }
    switch (message.type) {
      case 'offer':
        return this.#bridgeOffer(m, message);
      case 'candidate':
        // The bridge's own ICE candidate, sent once the member's answer is in.
        return this.#signalMember(m, {
          candidate: { candidate: message.candidate, sdpMid: message.mid },
          session: m.endpoint,
        });
      case 'endpoint_state':
        return this.#endpointState(m, message.state);
      case 'endpoint_full':
        // The session is full of freed m-lines: the member gets a new one.
        if (this.#bridge) this.#renew(this.#bridge, m, 'session full');
        return;
      case 'speaker':
        return this.#speakerIs(m);
    }
  }

  /** The bridge offers (or re-offers) an endpoint's session: relayed to its client. */
  #bridgeOffer(m: Participant, { sdp, streams }: BridgeOffer): void {
    const offer: PipelineOffer = { type: 'offer', sdp, streams, session: m.endpoint };
    m.offer = offer;
    this.#signalMember(m, offer);
  }

  /**
   * An endpoint's connection changed state. The bridge's connection is gone for good when it
   * failed or closed by itself (DTLS failed, or ICE lost the client for longer than consent
   * allows): the member gets a new endpoint, which its client takes as a new session, within
   * the restart limit.
   */
  #endpointState(m: Participant, state: EndpointState): void {
    if (!this.#bridge) return;
    this.#log.debug({ group: this.group, user: m.user, state }, 'endpoint state');
    if (state !== 'failed' && state !== 'closed') return;
    this.#renew(this.#bridge, m, `connection ${state}`);
  }

  /**
   * The bridge said something about this endpoint that breaks the control protocol (an offer
   * too large, say): the endpoint is released, and its client told with
   * `{restarted: {code: "media_failed"}}` as a new one follows within the restart limit; past it
   * the member leaves the conference with `{failed: {code: "media_failed"}}`.
   */
  bridgeEndpointBroken(endpoint: string, why: string): void {
    const p = this.#prejoinByEndpoint(endpoint);
    if (p) {
      this.#log.info({ group: this.group, user: p.user, why }, 'prejoin session broken');
      this.endPrejoin(p.conn, true);
      return;
    }
    const m = this.#byEndpoint(endpoint);
    if (!m || !this.#bridge) return;
    // Told in the group channel, not as an error frame: kwm clients (Kopano Meet) take an error
    // that answers nothing as fatal and hang up.
    if (this.#renew(this.#bridge, m, `bad message: ${why}`)) {
      this.opts.state.deliver(
        m.conn,
        this.#channelMessage({ restarted: { code: 'media_failed' } }),
      );
      return;
    }
    // Failing again and again: the member is out of the conference, and told why.
    this.opts.state.deliver(m.conn, this.#channelMessage({ failed: { code: 'media_failed' } }));
    this.#leave(m);
  }

  /**
   * Gives a member a new endpoint (which its client takes as a new session), at most
   * `endpointRestartLimit` times a minute; false when that is used up (left as it is).
   */
  #renew(bridge: BridgeLink, m: Participant, why: string): boolean {
    if (!m.mayRestart()) {
      this.#log.warn(
        { group: this.group, user: m.user, why },
        'endpoint keeps failing: left as it is',
      );
      return false;
    }
    this.#log.info({ group: this.group, user: m.user, why }, 'endpoint lost: a new one');
    this.#release(m);
    m.newSession();
    this.#allocate(bridge, m);
    return true;
  }

  /** The bridge heard another participant speaking most: everyone is told. */
  #speakerIs(m: Participant): void {
    if (this.#speaker === m.user) return;
    this.#speaker = m.user;
    this.#broadcast({ speaker: m.user });
  }

  /**
   * Puts the conference on `bridge` (its own was lost) with a new endpoint for every member,
   * and so a new offer, which the client takes as a new session; with none it waits.
   */
  place(bridge: BridgeLink | undefined): void {
    // Prejoins' sessions were on the lost bridge: they end, and those clients join the
    // ordinary way. (Taken off first, so that the new bridge is told to release nothing.)
    const ended = this.#channelMessage({ prejoined: null });
    for (const p of [...this.#prejoins.values()]) {
      this.#takePrejoin(p.conn);
      this.opts.state.deliver(p.conn, ended);
    }
    this.#bridge = bridge;
    if (this.#members.size === 0) return this.#closeIfIdle();
    if (!bridge) return;
    for (const m of this.#members.values()) {
      m.moved();
      this.#allocate(bridge, m);
    }
  }
}
