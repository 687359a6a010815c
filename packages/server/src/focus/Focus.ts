import {
  type ChatsClientMessage,
  gestureRateLimit,
  groupChannelMessage,
  isGroupId,
  type ModeratedBy,
  pipelinePeerId,
  type WebrtcClientMessage,
} from '@confab/protocol';
import { Gauge, type Registry } from 'prom-client';
import { type ChatArchive, type ChatHistory, MemoryChatHistory } from '../chat/index.js';
import { MemoryRateLimiter, TokenBuckets } from '../common/index.js';
import type { Logger } from '../logging/index.js';
import {
  type PairHash,
  Refusal,
  type SignalingSession,
  type SignalingState,
} from '../signaling/index.js';
import type { BridgeEvents, BridgeHub, BridgeLink, EndpointMessage } from './BridgeHub.js';
import { Conference, type ConferenceOptions, joinDataOf } from './Conference.js';
import { ConferenceIndex } from './ConferenceIndex.js';

export interface FocusOptions {
  state: SignalingState;
  hash: PairHash;
  hub: BridgeHub;
  maxParticipants: number;
  /** `p2p`: rooms of two run peer to peer (docs/protocol.md "Peer-to-peer rooms of two"). */
  p2p: boolean;
  /** How long a room back to two waits before it goes direct again (default 3 s). */
  p2pSettleMs?: number;
  /** `prejoin_timeout`: how long a prejoin's session waits for its join (0: no prejoins). */
  prejoinTimeoutMs?: number;
  emptyTimeoutMs: number;
  /**
   * `call_reconnect_grace`: how long a member whose signaling connection dropped stays in the
   * conference (its media goes on through the bridge) for its client to come back; 0 = leaves
   * at once.
   */
  reconnectGraceMs: number;
  /** `allow_guest_only_channels`: a guest may start a conference rather than wait. */
  allowGuestOnlyChannels: boolean;
  /**
   * `max_conferences_per_connection`, `max_conferences_per_user` and `group_join_rate` (joins
   * per user and minute): each bridge endpoint costs a peer connection, so nobody may make
   * them without bound.
   */
  joinLimits: { perConnection: number; perUser: number; perMinute: number };
  /** Where rooms' chat is kept for `chat_retention` (ms; 0 or no archive: the meeting only). */
  chatArchive?: ChatArchive;
  chatRetentionMs?: number;
  /** Where meetings' chat is kept while they last (default: in memory). */
  chatHistory?: ChatHistory;
  registry: Registry;
  logger: Logger;
}

/**
 * How long the sessions of a meeting its owner ended are remembered: a client that comes back
 * with one (its signaling dropped meanwhile) hears that it ended instead of starting a new one.
 */
export const endedMemoryMs = 10 * 60_000;

/** How often chat kept past `chat_retention` is deleted (and once at start). */
export const chatPurgeIntervalMs = 3600_000;

/**
 * Screen-share starts and stops, and renegotiations, a member may ask for: 10 at once, then
 * one every 3 s. Each start gives every other member's session an m-line (docs/bridge.md), so a
 * loop of them must not be free.
 */
export const sessionChangeLimit = { burst: 10, perSecond: 1 / 3 };

/**
 * A room back to two after it was larger waits this long before it goes direct again, so that
 * someone leaving and joining again (a reload) does not move everyone twice. A room that
 * reaches two from one goes direct at once.
 */
export const p2pSettleMs = 3000;

/**
 * `prejoin_timeout`'s default: a prejoin's session on the bridge is held this long for its join
 * (the landing page left open); then it ends (`{prejoined: null}`) and the join goes the
 * ordinary way.
 */
export const prejoinTimeoutMs = 5 * 60_000;

/**
 * The conference focus (Jicofo's role), as a thin manager of `Conference`s: one per group room,
 * started by the first registered user to join (secure domain). It decides who may join (the
 * room name, the limits, guests waiting for a registered user), routes members' messages and
 * the bridges' events to their conference, and moves conferences off lost bridges. It never
 * touches media.
 */
export class Focus implements BridgeEvents {
  readonly #index = new ConferenceIndex();
  /**
   * Each user's budget of screen-share changes per room, kept when it leaves, so that leaving
   * and joining again does not refill it; dropped once idle long enough to be full anyway.
   */
  readonly #changes = new TokenBuckets(sessionChangeLimit.burst, sessionChangeLimit.perSecond);
  /** Each user's budget of hands and reactions per room, kept the same way. */
  readonly #gestures = new TokenBuckets(gestureRateLimit.burst, gestureRateLimit.perSecond);
  readonly #joinRate: MemoryRateLimiter;
  /**
   * Prejoins have a budget of their own, as large: they are made by the app, not asked for, and
   * must never cost a user the join they do ask for.
   */
  readonly #prejoinRate: MemoryRateLimiter;
  /** The conference each connection's prejoin is in (one per connection). */
  readonly #prejoined = new Map<string, Conference>();
  /** The conference each connection last asked to join at its lobby. */
  readonly #knocks = new Map<string, Conference>();
  /** Sessions of meetings their owner ended, with who ended it and when. */
  readonly #ended = new Map<string, { by: ModeratedBy; at: number }>();
  readonly #conference: ConferenceOptions;
  #purgeTimer: NodeJS.Timeout | undefined;
  readonly #log: Logger;
  #closed = false;

  constructor(private readonly opts: FocusOptions) {
    this.#log = opts.logger.child({ module: 'focus' });
    this.#joinRate = new MemoryRateLimiter(opts.joinLimits.perMinute, 60_000);
    this.#prejoinRate = new MemoryRateLimiter(opts.joinLimits.perMinute, 60_000);
    this.#conference = {
      state: opts.state,
      hash: opts.hash,
      hub: opts.hub,
      index: this.#index,
      maxParticipants: opts.maxParticipants,
      p2p: opts.p2p,
      p2pSettleMs: opts.p2pSettleMs ?? p2pSettleMs,
      emptyTimeoutMs: opts.emptyTimeoutMs,
      reconnectGraceMs: opts.reconnectGraceMs,
      prejoinTimeoutMs: opts.prejoinTimeoutMs ?? prejoinTimeoutMs,
      takeChange: (group, user) => this.#changes.take(`${group}\n${user}`),
      takeGesture: (group, user) => this.#gestures.take(`${group}\n${user}`),
      chatHistory: opts.chatHistory ?? new MemoryChatHistory(),
      chatArchive: opts.chatArchive,
      chatRetentionMs: opts.chatRetentionMs ?? 0,
      admit: (conn, msg) => this.#admit(conn, msg),
      ended: (group, members, by) => this.#meetingEnded(group, members, by),
      logger: this.#log,
    };
    opts.hub.setEvents(this);
    // Kept chat past its retention goes at start and every hour after (all of it with 0).
    const archive = opts.chatArchive;
    if (archive) {
      const retention = opts.chatRetentionMs ?? 0;
      const purge = () => archive.purge(retention > 0 ? Date.now() - retention : Infinity);
      purge();
      this.#purgeTimer = setInterval(purge, chatPurgeIntervalMs);
      this.#purgeTimer.unref();
    }
    const index = this.#index;
    new Gauge({
      name: 'confab_conferences',
      help: 'Group conferences open',
      registers: [opts.registry],
      collect() {
        let n = 0;
        for (const c of index.all()) if (c.started) n++;
        this.set(n);
      },
    });
    new Gauge({
      name: 'confab_conferences_p2p',
      help: 'Group conferences of two running peer to peer (their media not on any bridge)',
      registers: [opts.registry],
      collect() {
        let n = 0;
        for (const c of index.all()) if (c.direct) n++;
        this.set(n);
      },
    });
    new Gauge({
      name: 'confab_conference_participants',
      help: 'Participants in group conferences',
      registers: [opts.registry],
      collect() {
        let n = 0;
        for (const c of index.all()) n += c.size;
        this.set(n);
      },
    });
  }

  handle(conn: SignalingSession, msg: WebrtcClientMessage): void {
    try {
      switch (msg.subtype) {
        case 'webrtc_group':
          return this.#join(conn, msg);
        case 'webrtc_signal': {
          const prejoined = this.#index.byGroup(msg.group);
          if (prejoined?.prejoinSession(conn.id)) return prejoined.prejoinSignal(conn, msg);
          const [conf, member] = this.#memberOf(conn, msg);
          return conf.signal(member, msg);
        }
        case 'webrtc_hangup':
          return this.#hangup(conn, msg);
        case 'webrtc_call':
          return this.#meshCall(conn, msg);
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      // A join refused ends the connection's prejoin for that room: its client will not take
      // it on.
      if (msg.subtype === 'webrtc_group' && joinDataOf(msg)?.prejoin !== true)
        this.#index.byGroup(msg.group || msg.target || '')?.endPrejoin(conn.id, false);
      conn.error(err.code, err.message, msg.id);
    }
  }

  /**
   * A chat message in a group channel (`@group/<name>`): to everyone in that conference, from
   * a member of it (docs/protocol.md "Chat"); throws a `Refusal` when refused.
   */
  chat(conn: SignalingSession, msg: ChatsClientMessage): void {
    const conf = this.#index.byGroup(msg.channel.slice(1));
    if (!msg.channel.startsWith('@') || !conf)
      throw new Refusal('bad_message', 'channel not found');
    conf.chat(conn, msg);
  }

  /**
   * A connection closed: it stops waiting and asking, and its members are away from their
   * conferences for the reconnect grace (then leave), or leave at once without one.
   */
  connectionClosed(conn: SignalingSession): void {
    this.#prejoined.get(conn.id)?.endPrejoin(conn.id, false);
    this.#prejoined.delete(conn.id);
    this.#knocks.get(conn.id)?.stopKnocking(conn.id);
    this.#knocks.delete(conn.id);
    if (conn.guestPath !== undefined) this.#index.byGroup(conn.guestPath)?.stopWaiting(conn.id);
    for (const conf of this.#index.ofConnection(conn.id)) conf.connectionClosed(conn);
  }

  /** The conference of a group room, if one is open (or guests wait for it). */
  conference(group: string): Conference | undefined {
    return this.#index.byGroup(group);
  }

  /** Timers its conferences run (away members' graces, empty timeouts). */
  get activeTimers(): number {
    let n = 0;
    for (const c of this.#index.all()) n += c.activeTimers;
    return n;
  }

  /** Users' screen-share change budgets it keeps (one per user and room). */
  get changeBudgets(): number {
    return this.#changes.size;
  }

  /** Entries in its indexes (by group, by id, by connection, by user). */
  get indexSizes(): ConferenceIndex['sizes'] {
    return this.#index.sizes;
  }

  /**
   * Closes every conference (each tells its members and waiting guests, and releases its
   * endpoints on its bridge); joins after this are refused.
   */
  close(): void {
    this.#closed = true;
    clearInterval(this.#purgeTimer);
    for (const conf of [...this.#index.all()]) conf.close();
    this.#changes.clear();
    this.#gestures.clear();
  }

  /**
   * A connection joining one more conference (a user too, when `newForUser`) stays within
   * `max_conferences_per_connection` and `max_conferences_per_user`. (A guest waiting is not
   * counted: its token names one room, so it can wait for one only.)
   */
  #checkJoinCounts(conn: SignalingSession, newForUser: boolean): void {
    const { perConnection, perUser } = this.opts.joinLimits;
    if (this.#index.countOfConnection(conn.id) >= perConnection)
      throw new Refusal(
        'too_many_conferences',
        `a connection may be in at most ${perConnection} group conferences at once`,
      );
    if (newForUser && this.#index.countOfUser(conn.userId) >= perUser)
      throw new Refusal(
        'too_many_conferences',
        `a user may be in at most ${perUser} group conferences at once`,
      );
  }

  /** `admitted`: a held guest's join, already counted when it came. */
  #join(conn: SignalingSession, msg: WebrtcClientMessage, admitted = false): void {
    const group = msg.group || msg.target;
    if (!isGroupId(group) || (msg.target && msg.target !== group))
      throw new Refusal(
        'bad_message',
        'webrtc_group needs target and group "group/<name>" (lowercase letters, digits, - _ . and /, up to 64)',
      );
    if (!msg.state) throw new Refusal('bad_message', 'webrtc_group needs a state');
    if (this.#closed) throw new Refusal('server_error', 'the server is shutting down');
    const data = joinDataOf(msg);
    if (data?.prejoin === true) return this.#prejoin(conn, msg, group);
    // A client back with a session of a meeting that ended does not start a new one by itself.
    const ended = this.#endedFor(conn, msg, group);
    if (ended) {
      conn.send(groupChannelMessage({ channel: `@${group}`, group, data: { ended } }));
      return;
    }
    let conf = this.#index.byGroup(group);
    const existing = conf?.member(conn.userId);
    if (conf && existing && conf.mayResume(existing, msg)) return conf.resume(conn, msg, existing);
    // A join taking on its prejoin's session was counted at the prejoin.
    const adopting = data?.session !== undefined && conf?.prejoinSession(conn.id) === data.session;
    if (!admitted && !adopting && !this.#joinRate.hit(conn.userId).allowed)
      throw new Refusal(
        'too_many_conferences',
        `at most ${this.opts.joinLimits.perMinute} group joins a minute`,
      );
    const guest = conn.guestPath !== undefined;
    // Jicofo's secure domain: only a registered user starts a conference; guests wait for one.
    if (guest && !conf?.size && !this.opts.allowGuestOnlyChannels)
      return (conf ?? new Conference(group, this.#conference)).hold(conn, msg);
    if (conf && !existing && conf.size >= this.opts.maxParticipants)
      throw new Refusal('conference_full', 'the conference is full');
    if (existing?.conn !== conn.id) this.#checkJoinCounts(conn, !existing);
    if (!conf?.started && !this.opts.hub.pick())
      throw new Refusal('server_error', 'no media bridge is available');
    if (conf?.lobbyHolds(conn)) {
      // kwmjs takes the first reply to its join as the answer (and drops a later one): it
      // cannot wait to be let in.
      if (msg.data === undefined)
        throw new Refusal(
          'access_restricted',
          'the lobby is on: this client cannot wait to be let in (join from the web app)',
        );
      // One ask per connection: asking in another room ends the one before.
      const earlier = this.#knocks.get(conn.id);
      if (earlier && earlier !== conf) earlier.stopKnocking(conn.id);
      conf.knock(conn, msg);
      this.#knocks.set(conn.id, conf);
      return;
    }
    conf ??= new Conference(group, this.#conference);
    conf.join(conn, msg);
    if (!guest) this.#admitWaiting(conf);
  }

  /**
   * A prejoin (docs/protocol.md "Prejoin"): whoever may join the room now may hold a session on
   * its bridge ahead, one per connection (another, here or in another room, replaces it), at
   * most `group_join_rate` a minute per user (a budget apart from the joins': the join that
   * takes a prejoin on is not counted). A guest only once the room has started (before, it
   * would wait anyway), and nobody in a full room or one they are in.
   */
  #prejoin(conn: SignalingSession, msg: WebrtcClientMessage, group: string): void {
    if (this.#conference.prejoinTimeoutMs <= 0)
      throw new Refusal('create_restricted', 'prejoins are turned off (prejoin_timeout: 0)');
    let conf = this.#index.byGroup(group);
    if (conf?.member(conn.userId)?.conn === conn.id)
      throw new Refusal('bad_message', 'this connection is in that conference already');
    if (conn.guestPath !== undefined && !conf?.size && !this.opts.allowGuestOnlyChannels)
      throw new Refusal('create_restricted', 'a guest prejoins only a room that has started');
    if (conf && conf.size >= this.opts.maxParticipants)
      throw new Refusal('conference_full', 'the conference is full');
    if (conf && conf.prejoinCount >= this.opts.maxParticipants && !conf.prejoinSession(conn.id))
      throw new Refusal('conference_full', 'as many are about to join this room as may');
    if (!conf?.bridge && !this.opts.hub.pick())
      throw new Refusal('server_error', 'no media bridge is available');
    if (conf?.lobbyHolds(conn))
      throw new Refusal('access_restricted', 'the lobby is on: ask to join first');
    if (!this.#prejoinRate.hit(conn.userId).allowed)
      throw new Refusal(
        'too_many_conferences',
        `at most ${this.opts.joinLimits.perMinute} prejoins a minute`,
      );
    const earlier = this.#prejoined.get(conn.id);
    if (earlier && earlier !== conf) earlier.endPrejoin(conn.id, false);
    conf ??= new Conference(group, this.#conference);
    this.#prejoined.set(conn.id, conf);
    conf.prejoin(conn, msg);
  }

  /** Someone the owner let in from the lobby joins, its limits checked again. */
  #admit(conn: SignalingSession, msg: WebrtcClientMessage): void {
    this.#knocks.delete(conn.id);
    try {
      this.#join(conn, msg, true);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      conn.error(err.code, err.message, msg.id);
    }
  }

  /**
   * The owner ended `group`'s meeting with these members in it: a client that comes back with
   * one of their sessions (the web app) or with its group hash (kwmjs's refreshGroup) within
   * `endedMemoryMs` is told so, once.
   */
  #meetingEnded(
    group: string,
    members: { user: string; session: string }[],
    by: ModeratedBy,
  ): void {
    const now = Date.now();
    for (const [s, e] of this.#ended) if (now - e.at > endedMemoryMs) this.#ended.delete(s);
    for (const m of members) {
      this.#ended.set(`session\n${m.session}`, { by, at: now });
      this.#ended.set(`hash\n${group}\n${m.user}`, { by, at: now });
    }
  }

  #endedFor(
    conn: SignalingSession,
    msg: WebrtcClientMessage,
    group: string,
  ): ModeratedBy | undefined {
    const session = joinDataOf(msg)?.session;
    const keys = [
      ...(session !== undefined ? [`session\n${session}`] : []),
      ...(msg.hash !== '' &&
      this.opts.hash.verify(msg.hash, conn.userId, pipelinePeerId, `@${group}`)
        ? [`hash\n${group}\n${conn.userId}`]
        : []),
    ];
    for (const key of keys) {
      const e = this.#ended.get(key);
      if (!e) continue;
      for (const k of keys) this.#ended.delete(k);
      if (Date.now() - e.at <= endedMemoryMs) return e.by;
    }
    return undefined;
  }

  /** A registered user is in: the guests waiting for this room join, in the order they came. */
  #admitWaiting(conf: Conference): void {
    for (const { conn, msg } of conf.takeWaiting()) {
      if (conn.closed) continue;
      try {
        this.#join(conn, msg, true);
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        conn.error(err.code, err.message, msg.id);
      }
    }
  }

  #memberOf(
    conn: SignalingSession,
    msg: WebrtcClientMessage,
  ): [Conference, ReturnType<Conference['memberOf']>] {
    const conf = this.#index.byGroup(msg.group);
    if (!conf) throw new Refusal('access_restricted', 'this connection is not in that group');
    return [conf, conf.memberOf(conn, msg)];
  }

  /**
   * kwmjs's mesh habit: in a group it "answers" every other member with a `webrtc_call` (group
   * set, `data.accept`), even with a pipeline. Media goes through the pipeline here, so such a
   * call from a member is taken without a reply and forwarded to nobody (as nothing would build
   * a mesh connection from it); from anyone else it is refused.
   */
  #meshCall(conn: SignalingSession, msg: WebrtcClientMessage): void {
    this.#memberOf(conn, msg);
  }

  /**
   * A hangup in a group: a held guest stops waiting; to the group or the pipeline, the member
   * leaves. kwmjs leaves with a hangup to the group, then one to the pipeline and one to each
   * member: those after the first, and any from a connection no longer in the group, are taken
   * without an error (kwmserver answers none of them either).
   */
  #hangup(conn: SignalingSession, msg: WebrtcClientMessage): void {
    const conf = this.#index.byGroup(msg.group);
    if (conf?.stopWaiting(conn.id) || conf?.stopKnocking(conn.id)) return;
    // Leaving the landing page: the prejoin's session goes.
    if (conf?.endPrejoin(conn.id, false)) return;
    conf?.hangup(conn, msg);
  }

  /** The conference a bridge's event is about, if it is on that bridge. */
  #on(bridge: BridgeLink, conference: string): Conference | undefined {
    const conf = this.#index.byId(conference);
    return conf?.bridge === bridge ? conf : undefined;
  }

  /** @internal A bridge's message about one endpoint: its conference there handles it. */
  bridgeEndpoint(bridge: BridgeLink, message: EndpointMessage): void {
    this.#on(bridge, message.conference)?.bridgeMessage(message);
  }

  /**
   * @internal The bridge said something about this endpoint that breaks the control protocol:
   * that member pays (a new session, or out past the restart limit); the bridge and its other
   * conferences go on.
   */
  bridgeEndpointBroken(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
    why: string,
  ): void {
    this.#on(bridge, conference)?.bridgeEndpointBroken(endpoint, why);
  }

  /**
   * @internal A bridge went away (its process died or it stopped answering): its conferences
   * move to another bridge, each participant getting a new endpoint (and so a new offer, which
   * the client takes as a new session). With no bridge left they wait for the next one.
   */
  bridgeGone(bridge: BridgeLink): void {
    for (const conf of this.#index.all()) {
      if (conf.bridge !== bridge) continue;
      const to = this.opts.hub.pick();
      conf.place(to);
      this.#log.warn(
        { group: conf.group, to: to?.name ?? null },
        'moving conference off a lost bridge',
      );
    }
  }

  /** @internal A bridge said hello: conferences left without one move onto it. */
  bridgeJoined(_bridge: BridgeLink): void {
    for (const conf of this.#index.all()) {
      if (conf.bridge || conf.size === 0) continue;
      const to = this.opts.hub.pick();
      conf.place(to);
      if (to) this.#log.info({ group: conf.group, to: to.name }, 'conference placed on a bridge');
    }
  }
}
