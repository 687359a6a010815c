import { randomBytes } from 'node:crypto';
import {
  type BridgeOffer,
  type GroupChannelData,
  type GroupParticipant,
  isGroupId,
  pipelineMode,
  pipelinePeerId,
  pipelineSignalSchema,
  type ServerWebrtcMessage,
  type WebrtcClientMessage,
  webrtcVersion,
} from '@confab/protocol';
import { Gauge, type Registry } from 'prom-client';
import { MemoryRateLimiter } from '../common/RateLimiter.js';
import { TokenBucket } from '../common/TokenBucket.js';
import type { Logger } from '../logging/index.js';
import type { Connection } from '../signaling/Connection.js';
import type { PairHash } from '../signaling/pairHash.js';
import { Refusal } from '../signaling/Refusal.js';
import type { SignalingState } from '../signaling/SignalingState.js';
import type { BridgeEvents, BridgeHub, BridgeLink } from './BridgeHub.js';

interface Member {
  user: string;
  name: string;
  conn: string;
  endpoint: string;
  joinedAt: number;
  guest: boolean;
  /** Muted by the owner: the bridge drops its audio until it unmutes itself. */
  muted: boolean;
  /** When its endpoint was last replaced after failing (`bridgeEndpointState`). */
  restarts: number[];
  /** Its signaling connection dropped: it leaves when this fires, unless it comes back. */
  away: NodeJS.Timeout | undefined;
  /** The bridge's last offer to it, until its answer came: sent again when it comes back. */
  offer: Record<string, unknown> | undefined;
  /** Its endpoint is on the conference's bridge (allocated and not yet released). */
  allocated: boolean;
  /**
   * The `pcid` its client's signals carry (kwmjs names its peer connections), and those of its
   * connections before the current session, whose late signals are dropped.
   */
  clientPcid: string | undefined;
  stalePcids: string[];
}

interface Conference {
  /** The id the bridge knows it by: new for every conference of the same room. */
  id: string;
  group: string;
  channel: string;
  bridge: BridgeLink | undefined;
  members: Map<string, Member>;
  owner: string | undefined;
  emptyTimer: NodeJS.Timeout | undefined;
  /** The user the bridge last named the dominant speaker. */
  speaker: string | undefined;
}

export interface FocusOptions {
  state: SignalingState;
  hash: PairHash;
  hub: BridgeHub;
  maxParticipants: number;
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
  registry: Registry;
  logger: Logger;
}

/** A guest's join held back: its connection and the `webrtc_group` message, answered later. */
interface Waiting {
  conn: Connection;
  msg: WebrtcClientMessage;
}

const newId = () => randomBytes(9).toString('base64url');
/** The session (endpoint) a rejoining client says it still holds: `webrtc_group`'s `data.session`. */
const sessionOf = (msg: WebrtcClientMessage): unknown =>
  (msg.data as { session?: unknown } | undefined)?.session;
/** Adds `conf` to the set under `key` (or takes it out, dropping a set left empty). */
function setIndexed(
  index: Map<string, Set<Conference>>,
  key: string,
  conf: Conference,
  present: boolean,
): void {
  let set = index.get(key);
  if (present) {
    if (!set) index.set(key, (set = new Set()));
    set.add(conf);
  } else if (set?.delete(conf) && set.size === 0) index.delete(key);
}

/** New endpoints per member and minute after its connection to the bridge failed. */
const endpointRestartLimit = 3;
/**
 * Screen-share starts and stops, and renegotiations, a member may ask for: 10 at once, then
 * one every 3 s. Each start gives every other member's session an m-line (docs/bridge.md), so a
 * loop of them must not be free.
 */
export const sessionChangeLimit = { burst: 10, perSecond: 1 / 3 };

/**
 * The conference focus (Jicofo's role): one conference per group room, created by the first
 * registered user to join (secure domain), owned by the registered member present longest;
 * places the conference on a bridge, has the bridge make an endpoint for each participant, and
 * relays the session descriptions between participant and bridge over the group's signaling
 * channel, the bridge appearing as kwm's pipeline peer. It never touches media.
 */
export class Focus implements BridgeEvents {
  readonly #byGroup = new Map<string, Conference>();
  readonly #byId = new Map<string, Conference>();
  /** The conferences each connection is in, so that a closing connection finds them at once. */
  readonly #byConn = new Map<string, Set<Conference>>();
  /** Guests held until a registered user starts their room: by group, then by connection. */
  readonly #waiting = new Map<string, Map<string, Waiting>>();
  /** The conferences each user is a member of, over all their connections. */
  readonly #byUser = new Map<string, Set<Conference>>();
  /**
   * Each user's budget of screen-share changes per room, kept when it leaves, so that leaving
   * and joining again does not refill it; dropped once idle long enough to be full anyway.
   */
  readonly #changes = new Map<string, { bucket: TokenBucket; usedAt: number }>();
  #changesPrunedAt = 0;
  readonly #joinRate: MemoryRateLimiter;
  readonly #log: Logger;

  constructor(private readonly opts: FocusOptions) {
    this.#log = opts.logger.child({ module: 'focus' });
    this.#joinRate = new MemoryRateLimiter(opts.joinLimits.perMinute, 60_000);
    opts.hub.setEvents(this);
    const byGroup = this.#byGroup;
    new Gauge({
      name: 'confab_conferences',
      help: 'Group conferences open',
      registers: [opts.registry],
      collect() {
        this.set(byGroup.size);
      },
    });
    new Gauge({
      name: 'confab_conference_participants',
      help: 'Participants in group conferences',
      registers: [opts.registry],
      collect() {
        let n = 0;
        for (const c of byGroup.values()) n += c.members.size;
        this.set(n);
      },
    });
  }

  handle(conn: Connection, msg: WebrtcClientMessage): void {
    try {
      switch (msg.subtype) {
        case 'webrtc_group':
          return this.#join(conn, msg);
        case 'webrtc_signal':
          return this.#signal(conn, msg);
        case 'webrtc_hangup':
          return this.#hangup(conn, msg);
        case 'webrtc_call':
          return this.#meshCall(conn, msg);
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      conn.error(err.code, err.message, msg.id);
    }
  }

  /**
   * A connection closed: it stops waiting, and its members are away from their conferences for
   * the reconnect grace (then leave), or leave at once without one.
   */
  connectionClosed(conn: Connection): void {
    if (conn.guestPath !== undefined) this.#stopWaiting(conn.guestPath, conn.id);
    for (const conf of [...(this.#byConn.get(conn.id) ?? [])]) {
      const m = conf.members.get(conn.userId);
      if (m?.conn !== conn.id) continue;
      // A session that was ended (its user removed, its sign-in revoked) is not waited for.
      if (this.opts.reconnectGraceMs <= 0 || conn.revoked) {
        this.#leave(conf, m);
        continue;
      }
      this.#setConn(m.conn, conf, false);
      m.away = setTimeout(() => {
        m.away = undefined;
        this.#leave(conf, m);
      }, this.opts.reconnectGraceMs).unref();
      this.#log.debug({ group: conf.group, user: m.user }, 'member away');
    }
  }

  /**
   * A connection joining one more conference (a user too, when `newForUser`) stays within
   * `max_conferences_per_connection` and `max_conferences_per_user`. (A guest waiting is not
   * counted: its token names one room, so it can wait for one only.)
   */
  #checkJoinCounts(conn: Connection, newForUser: boolean): void {
    const { perConnection, perUser } = this.opts.joinLimits;
    const ofConn = this.#byConn.get(conn.id)?.size ?? 0;
    if (ofConn >= perConnection)
      throw new Refusal(
        'too_many_conferences',
        `a connection may be in at most ${perConnection} group conferences at once`,
      );
    if (newForUser && (this.#byUser.get(conn.userId)?.size ?? 0) >= perUser)
      throw new Refusal(
        'too_many_conferences',
        `a user may be in at most ${perUser} group conferences at once`,
      );
  }

  #setUser(user: string, conf: Conference, present: boolean): void {
    setIndexed(this.#byUser, user, conf, present);
  }

  #setConn(connId: string, conf: Conference, present: boolean): void {
    setIndexed(this.#byConn, connId, conf, present);
  }

  close(): void {
    for (const conf of this.#byGroup.values()) clearTimeout(conf.emptyTimer);
  }

  /** `admitted`: a held guest's join, already counted when it came. */
  #join(conn: Connection, msg: WebrtcClientMessage, admitted = false): void {
    const group = msg.group || msg.target;
    if (!isGroupId(group) || (msg.target && msg.target !== group))
      throw new Refusal(
        'bad_message',
        'webrtc_group needs target and group "group/<name>" (lowercase letters, digits, - _ . and /, up to 64)',
      );
    if (!msg.state) throw new Refusal('bad_message', 'webrtc_group needs a state');
    let conf = this.#byGroup.get(group);
    const existing = conf?.members.get(conn.userId);
    // A client back after its signaling dropped, still holding its session, carries on: the web
    // app names its session; kwmjs joins again with the group's hash (its refreshGroup), which
    // only a client that was in this conference as this user holds.
    if (
      conf &&
      existing?.away &&
      (sessionOf(msg) === existing.endpoint ||
        (msg.hash !== '' &&
          this.opts.hash.verify(msg.hash, existing.user, pipelinePeerId, conf.channel)))
    )
      return this.#resume(conn, msg, conf, existing);
    if (!admitted && !this.#joinRate.hit(conn.userId).allowed)
      throw new Refusal(
        'too_many_conferences',
        `at most ${this.opts.joinLimits.perMinute} group joins a minute`,
      );
    const guest = conn.guestPath !== undefined;
    // Jicofo's secure domain: only a registered user starts a conference; guests wait for one.
    if (guest && !conf?.members.size && !this.opts.allowGuestOnlyChannels)
      return this.#hold(conn, msg, group);
    if (conf && !existing && conf.members.size >= this.opts.maxParticipants)
      throw new Refusal('access_restricted', 'the conference is full');
    if (existing?.conn !== conn.id) this.#checkJoinCounts(conn, !existing);
    if (!conf) {
      const bridge = this.opts.hub.pick();
      if (!bridge) throw new Refusal('server_error', 'no media bridge is available');
      conf = {
        id: newId(),
        group,
        channel: `@${group}`,
        bridge,
        members: new Map(),
        owner: undefined,
        emptyTimer: undefined,
        speaker: undefined,
      };
      this.#byGroup.set(group, conf);
      this.#byId.set(conf.id, conf);
      this.#log.info({ group, conference: conf.id, bridge: bridge.name }, 'conference created');
    }
    clearTimeout(conf.emptyTimer);
    conf.emptyTimer = undefined;
    // A conference whose bridge was lost waits for the next one (bridgeJoined).
    conf.bridge ??= this.opts.hub.pick();

    if (existing) {
      if (existing.conn !== conn.id)
        this.opts.state.deliver(existing.conn, {
          type: 'webrtc',
          subtype: 'webrtc_channel',
          channel: conf.channel,
          group,
          v: webrtcVersion,
          data: { replaced: true },
        });
      this.#release(conf, existing);
      this.#setConn(existing.conn, conf, false);
    }
    const member: Member = {
      user: conn.userId,
      name: conn.name,
      conn: conn.id,
      endpoint: newId(),
      // A second tab carries on the first's membership; a fresh page after a drop is new.
      joinedAt: existing && !existing.away ? existing.joinedAt : Date.now(),
      guest,
      muted: existing?.muted ?? false,
      restarts: [],
      away: undefined,
      offer: undefined,
      allocated: false,
      clientPcid: undefined,
      stalePcids: [],
    };
    if (existing) clearTimeout(existing.away);
    conf.members.set(member.user, member);
    this.#setUser(member.user, conf, true);
    this.#setConn(member.conn, conf, true);
    if (!conf.owner && !guest) conf.owner = member.user;

    this.#welcome(conn, msg, conf, member);
    this.#announce(conf, member.user);
    if (conf.bridge) this.#allocate(conf, conf.bridge, member);
    this.#log.debug({ group, user: member.user, endpoint: member.endpoint }, 'joined conference');
    if (!guest) this.#admitWaiting(group);
  }

  /**
   * A member back within the reconnect grace on a new connection: same endpoint, same media
   * (which went on meanwhile); an offer it had not answered comes again.
   */
  #resume(conn: Connection, msg: WebrtcClientMessage, conf: Conference, member: Member): void {
    clearTimeout(member.away);
    member.away = undefined;
    member.conn = conn.id;
    this.#setConn(conn.id, conf, true);
    this.#welcome(conn, msg, conf, member);
    if (member.offer) this.#signalMember(conf, member, member.offer);
    this.#log.debug({ group: conf.group, user: member.user }, 'member back');
  }

  /** The reply to a member's `webrtc_group`: the channel, its hash and who is there. */
  #welcome(conn: Connection, msg: WebrtcClientMessage, conf: Conference, member: Member): void {
    const group = conf.group;
    conn.send({
      type: 'webrtc',
      subtype: 'webrtc_channel',
      reply_to: msg.id,
      channel: conf.channel,
      group,
      hash: this.opts.hash.of(member.user, pipelinePeerId, conf.channel),
      state: msg.state,
      v: webrtcVersion,
      ...(msg.transaction ? { transaction: msg.transaction } : {}),
      data: {
        group: this.#groupData(conf, true),
        pipeline: { pipeline: pipelinePeerId, mode: pipelineMode },
      },
    });
    if (conf.speaker) conn.send(this.#channelMessage(conf, { speaker: conf.speaker }));
  }

  /**
   * A guest came before the room started: held, and told so with a channel message whose data
   * is `{waiting: true}` (Confab's addition; kwm answers `create_restricted`). At most
   * `maxParticipants` wait per room; more are refused with `create_restricted`.
   */
  #hold(conn: Connection, msg: WebrtcClientMessage, group: string): void {
    let waiting = this.#waiting.get(group);
    if (!waiting) this.#waiting.set(group, (waiting = new Map()));
    if (!waiting.has(conn.id) && waiting.size >= this.opts.maxParticipants)
      throw new Refusal('create_restricted', 'too many guests are waiting for this room to start');
    waiting.set(conn.id, { conn, msg });
    conn.send({
      type: 'webrtc',
      subtype: 'webrtc_channel',
      reply_to: msg.id,
      channel: `@${group}`,
      group,
      state: msg.state,
      v: webrtcVersion,
      ...(msg.transaction ? { transaction: msg.transaction } : {}),
      data: { waiting: true },
    });
    this.#log.debug({ group, user: conn.userId }, 'guest waiting for the room to start');
  }

  /** A registered user is in: the guests waiting for this room join, in the order they came. */
  #admitWaiting(group: string): void {
    const waiting = this.#waiting.get(group);
    if (!waiting) return;
    this.#waiting.delete(group);
    for (const { conn, msg } of waiting.values()) {
      if (conn.closed) continue;
      try {
        this.#join(conn, msg, true);
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        conn.error(err.code, err.message, msg.id);
      }
    }
  }

  #stopWaiting(group: string, connId: string): boolean {
    const waiting = this.#waiting.get(group);
    const was = waiting?.delete(connId) ?? false;
    if (waiting?.size === 0) this.#waiting.delete(group);
    return was;
  }

  #memberOf(conn: Connection, msg: WebrtcClientMessage): [Conference, Member] {
    const conf = this.#byGroup.get(msg.group);
    const member = conf?.members.get(conn.userId);
    if (!conf || !member || member.conn !== conn.id)
      throw new Refusal('access_restricted', 'this connection is not in that group');
    if (msg.channel && msg.channel !== conf.channel)
      throw new Refusal('access_restricted', 'wrong channel for that group');
    return [conf, member];
  }

  #signal(conn: Connection, msg: WebrtcClientMessage): void {
    const [conf, member] = this.#memberOf(conn, msg);
    if (msg.target !== pipelinePeerId)
      throw new Refusal(
        'access_restricted',
        `in a group, signals go to the pipeline (${pipelinePeerId})`,
      );
    if (!this.opts.hash.verify(msg.hash, member.user, pipelinePeerId, conf.channel))
      throw new Refusal('access_restricted', 'wrong hash for this group');
    const parsed = pipelineSignalSchema.safeParse(msg.data);
    if (!parsed.success)
      throw new Refusal(
        'bad_message',
        'pipeline signals carry {type: "answer", sdp}, {candidate}, {renegotiate: true}, {screenshare}, {mute}, {remove}, {unmute} or {noop: true}',
      );
    const bridge = conf.bridge;
    if (!bridge) throw new Refusal('server_error', 'the conference has no bridge at the moment');
    const data = parsed.data;
    // kwmjs names its peer connection (pcid) in its signals: another one means it dropped the old
    // connection (its recover()) and waits for an offer on a new one, which needs a new session.
    // The first pcid after a new session is the client's new connection; one from before it is
    // stale (a late candidate of the old one) and dropped.
    if (msg.pcid !== undefined) {
      if (member.stalePcids.includes(msg.pcid)) return;
      if (member.clientPcid === undefined) member.clientPcid = msg.pcid;
      else if (member.clientPcid !== msg.pcid) {
        this.#change(conf, member);
        // kwmjs takes the new session's pcid as yet another connection (its rpcid rules), so
        // the one that asked is stale too: its answer comes from the next.
        const asking = msg.pcid;
        if (this.#renew(conf, bridge, member, 'the client made a new peer connection'))
          member.stalePcids.push(asking);
        return;
      }
    }
    const ids = { conference: conf.id, endpoint: member.endpoint };
    if ('type' in data) {
      member.offer = undefined;
      bridge.send({ type: 'answer', ...ids, sdp: data.sdp });
    } else if ('candidate' in data)
      bridge.send({
        type: 'candidate',
        ...ids,
        candidate: data.candidate.candidate,
        mid: data.candidate.sdpMid ?? '',
      });
    // kwmjs's `{renegotiate, noop}` comes from a new connection (handled above) or means nothing.
    else if ('renegotiate' in data && !('noop' in data)) {
      this.#change(conf, member);
      bridge.send({ type: 'renegotiate', ...ids });
    } else if ('screenshare' in data) {
      this.#change(conf, member);
      bridge.send({ type: 'screenshare', ...ids, active: data.screenshare !== null });
    } else if ('mute' in data) this.#mute(conf, member, data.mute.user);
    else if ('remove' in data) this.#remove(conf, member, data.remove.user);
    else if ('unmute' in data) this.#setMuted(conf, member, false);
  }

  #changesOf(group: string, user: string): TokenBucket {
    const now = Date.now();
    const idleMs = (sessionChangeLimit.burst / sessionChangeLimit.perSecond) * 1000;
    if (now - this.#changesPrunedAt > idleMs) {
      this.#changesPrunedAt = now;
      for (const [key, c] of this.#changes) if (now - c.usedAt > idleMs) this.#changes.delete(key);
    }
    const key = `${group}\n${user}`;
    let entry = this.#changes.get(key);
    if (!entry) {
      entry = {
        bucket: new TokenBucket(sessionChangeLimit.burst, sessionChangeLimit.perSecond),
        usedAt: now,
      };
      this.#changes.set(key, entry);
    }
    entry.usedAt = now;
    return entry.bucket;
  }

  /** A screen-share change or renegotiation, within `sessionChangeLimit`. */
  #change(conf: Conference, member: Member): void {
    if (!this.#changesOf(conf.group, member.user).take())
      throw new Refusal(
        'rate_limited',
        'too many screen-share changes or renegotiations: at most one every 3 seconds',
      );
  }

  /** The owner's orders: only the owner gives them, about someone in the conference. */
  #target(conf: Conference, by: Member, user: string): Member {
    if (conf.owner !== by.user)
      throw new Refusal('access_restricted', 'only the owner can mute or remove participants');
    const target = conf.members.get(user);
    if (!target) throw new Refusal('bad_message', 'no such participant in this conference');
    return target;
  }

  #mute(conf: Conference, by: Member, user: string): void {
    const target = this.#target(conf, by, user);
    if (target.muted) return;
    this.#setMuted(conf, target, true);
    this.opts.state.deliver(
      target.conn,
      this.#channelMessage(conf, { muted: { by: by.user, name: by.name } }),
    );
    this.#log.info({ group: conf.group, user: target.user, by: by.user }, 'participant muted');
  }

  #setMuted(conf: Conference, member: Member, muted: boolean): void {
    if (member.muted === muted) return;
    member.muted = muted;
    conf.bridge?.send({ type: 'mute', conference: conf.id, endpoint: member.endpoint, muted });
    this.#announce(conf, undefined);
  }

  #remove(conf: Conference, by: Member, user: string): void {
    const target = this.#target(conf, by, user);
    if (target === by) throw new Refusal('bad_message', 'the owner leaves by hanging up');
    this.opts.state.deliver(
      target.conn,
      this.#channelMessage(conf, { removed: { by: by.user, name: by.name } }),
    );
    this.#log.info({ group: conf.group, user: target.user, by: by.user }, 'participant removed');
    this.#leave(conf, target);
  }

  /** Asks the bridge for the member's endpoint (its offer follows), muted as it was. */
  #allocate(conf: Conference, bridge: BridgeLink, member: Member): void {
    member.allocated = true;
    // A new session: the client's next connection names itself afresh.
    if (member.clientPcid !== undefined)
      member.stalePcids = [...member.stalePcids, member.clientPcid].slice(-4);
    member.clientPcid = undefined;
    bridge.endpoints++;
    bridge.send({
      type: 'allocate',
      conference: conf.id,
      endpoint: member.endpoint,
      user: member.user,
    });
    if (member.muted)
      bridge.send({ type: 'mute', conference: conf.id, endpoint: member.endpoint, muted: true });
  }

  #channelMessage(conf: Conference, data: Record<string, unknown>): ServerWebrtcMessage {
    return {
      type: 'webrtc',
      subtype: 'webrtc_channel',
      channel: conf.channel,
      group: conf.group,
      v: webrtcVersion,
      data,
    };
  }

  /**
   * kwmjs's mesh habit: in a group it "answers" every other member with a `webrtc_call` (group
   * set, `data.accept`), even with a pipeline. Media goes through the pipeline here, so such a
   * call from a member is taken without a reply and forwarded to nobody (as nothing would build
   * a mesh connection from it); from anyone else it is refused.
   */
  #meshCall(conn: Connection, msg: WebrtcClientMessage): void {
    this.#memberOf(conn, msg);
  }

  /**
   * A hangup in a group: to the group or the pipeline, the member leaves. kwmjs leaves with a
   * hangup to the group, then one to the pipeline and one to each member: those after the first,
   * and any from a connection no longer in the group, are taken without an error (kwmserver
   * answers none of them either). A hangup to a member leaves nothing.
   */
  #hangup(conn: Connection, msg: WebrtcClientMessage): void {
    if (this.#stopWaiting(msg.group, conn.id)) return;
    const conf = this.#byGroup.get(msg.group);
    const member = conf?.members.get(conn.userId);
    if (!conf || !member || member.conn !== conn.id) return;
    if (msg.channel && msg.channel !== conf.channel) return;
    if (msg.target && msg.target !== conf.group && msg.target !== pipelinePeerId) return;
    this.#leave(conf, member);
  }

  #leave(conf: Conference, member: Member): void {
    if (conf.members.get(member.user) !== member) return;
    clearTimeout(member.away);
    conf.members.delete(member.user);
    this.#setUser(member.user, conf, false);
    this.#setConn(member.conn, conf, false);
    this.#release(conf, member);
    if (conf.owner === member.user) conf.owner = this.#longestRegistered(conf);
    this.#announce(conf, undefined);
    this.#log.debug({ group: conf.group, user: member.user }, 'left conference');
    if (conf.members.size === 0) {
      const end = () => this.#end(conf);
      if (this.opts.emptyTimeoutMs <= 0) end();
      else conf.emptyTimer = setTimeout(end, this.opts.emptyTimeoutMs).unref();
    }
  }

  #longestRegistered(conf: Conference): string | undefined {
    let best: Member | undefined;
    for (const m of conf.members.values())
      if (!m.guest && (!best || m.joinedAt < best.joinedAt)) best = m;
    return best?.user;
  }

  #release(conf: Conference, member: Member): void {
    if (!conf.bridge || !member.allocated) return;
    member.allocated = false;
    conf.bridge.send({ type: 'release', conference: conf.id, endpoint: member.endpoint });
    conf.bridge.endpoints = Math.max(0, conf.bridge.endpoints - 1);
  }

  #end(conf: Conference): void {
    if (conf.members.size > 0 || this.#byGroup.get(conf.group) !== conf) return;
    clearTimeout(conf.emptyTimer);
    this.#byGroup.delete(conf.group);
    this.#byId.delete(conf.id);
    conf.bridge?.send({ type: 'expire', conference: conf.id });
    this.#log.info({ group: conf.group, conference: conf.id }, 'conference ended');
  }

  #groupData(conf: Conference, reset: boolean): GroupChannelData {
    const members = [...conf.members.values()].sort((a, b) => a.joinedAt - b.joinedAt);
    const participants: GroupParticipant[] = members.map((m) => ({
      id: m.user,
      name: m.name,
      owner: m.user === conf.owner,
      guest: m.guest,
      muted: m.muted,
    }));
    return { group: conf.group, members: members.map((m) => m.user), reset, participants };
  }

  /** Tells every member but `except` who is in the conference now. */
  #announce(conf: Conference, except: string | undefined): void {
    this.#broadcast(conf, { group: this.#groupData(conf, false) }, except);
  }

  /** A group channel message with `data` to every member but `except`. */
  #broadcast(conf: Conference, data: Record<string, unknown>, except?: string): void {
    const message = this.#channelMessage(conf, data);
    for (const m of conf.members.values())
      if (m.user !== except) this.opts.state.deliver(m.conn, message);
  }

  #memberByEndpoint(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
  ): [Conference, Member] | undefined {
    const conf = this.#byId.get(conference);
    if (!conf || conf.bridge !== bridge) return undefined;
    for (const m of conf.members.values()) if (m.endpoint === endpoint) return [conf, m];
    return undefined;
  }

  /** @internal The bridge offers (or re-offers) an endpoint's session: relayed to its client. */
  bridgeOffer(bridge: BridgeLink, { conference, endpoint, sdp, streams }: BridgeOffer): void {
    const found = this.#memberByEndpoint(bridge, conference, endpoint);
    if (!found) return;
    const offer = { type: 'offer', sdp, streams, session: found[1].endpoint };
    found[1].offer = offer;
    this.#signalMember(...found, offer);
  }

  /** @internal The bridge's own ICE candidate, sent once the member's answer is in. */
  bridgeCandidate(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
    candidate: string,
    mid: string,
  ): void {
    const found = this.#memberByEndpoint(bridge, conference, endpoint);
    if (found)
      this.#signalMember(...found, {
        candidate: { candidate, sdpMid: mid },
        session: found[1].endpoint,
      });
  }

  /**
   * A `webrtc_signal` from the pipeline peer to one member. kwmjs drops signals whose `state` is
   * not the pipeline's id, and takes a new `pcid` as a new peer connection: the session (the
   * endpoint) is the pcid, so a new session is a new connection to it as to the web app.
   */
  #signalMember(conf: Conference, m: Member, data: Record<string, unknown>): void {
    this.opts.state.deliver(m.conn, {
      type: 'webrtc',
      subtype: 'webrtc_signal',
      source: pipelinePeerId,
      target: m.user,
      channel: conf.channel,
      group: conf.group,
      hash: this.opts.hash.of(m.user, pipelinePeerId, conf.channel),
      state: pipelinePeerId,
      pcid: m.endpoint,
      v: webrtcVersion,
      data,
    });
  }

  /**
   * @internal An endpoint's connection changed state. The bridge's connection is gone for good
   * when it failed or closed by itself (DTLS failed, or ICE lost the client for longer than
   * consent allows): the member gets a new endpoint, which its client takes as a new session,
   * at most `endpointRestartLimit` times a minute.
   */
  bridgeEndpointState(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
    state: string,
  ): void {
    const found = this.#memberByEndpoint(bridge, conference, endpoint);
    if (!found) return;
    const [conf, m] = found;
    this.#log.debug({ group: conf.group, user: m.user, state }, 'endpoint state');
    if (state !== 'failed' && state !== 'closed') return;
    this.#renew(conf, bridge, m, `connection ${state}`);
  }

  /** @internal The endpoint's session is full of freed m-lines: the member gets a new one. */
  bridgeEndpointFull(bridge: BridgeLink, conference: string, endpoint: string): void {
    const found = this.#memberByEndpoint(bridge, conference, endpoint);
    if (found) this.#renew(found[0], bridge, found[1], 'session full');
  }

  /**
   * @internal The bridge said something about this endpoint that breaks the control protocol
   * (an offer too large, say): the endpoint is released, and its client told with
   * `{restarted: {code: "media_failed"}}` as a new one follows within the restart limit; past it
   * the member leaves the conference with `{failed: {code: "media_failed"}}`. The bridge and its
   * other conferences go on.
   */
  bridgeEndpointBroken(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
    why: string,
  ): void {
    const found = this.#memberByEndpoint(bridge, conference, endpoint);
    if (!found) return;
    const [conf, m] = found;
    // Told in the group channel, not as an error frame: kwm clients (Kopano Meet) take an error
    // that answers nothing as fatal and hang up.
    if (this.#renew(conf, bridge, m, `bad message: ${why}`)) {
      this.opts.state.deliver(
        m.conn,
        this.#channelMessage(conf, { restarted: { code: 'media_failed' } }),
      );
      return;
    }
    // Failing again and again: the member is out of the conference, and told why.
    this.opts.state.deliver(
      m.conn,
      this.#channelMessage(conf, { failed: { code: 'media_failed' } }),
    );
    this.#leave(conf, m);
  }

  /**
   * Gives a member a new endpoint (which its client takes as a new session), at most
   * `endpointRestartLimit` times a minute; false when that is used up (left as it is).
   */
  #renew(conf: Conference, bridge: BridgeLink, m: Member, why: string): boolean {
    const now = Date.now();
    m.restarts = m.restarts.filter((t) => now - t < 60_000);
    if (m.restarts.length >= endpointRestartLimit) {
      this.#log.warn(
        { group: conf.group, user: m.user, why },
        'endpoint keeps failing: left as it is',
      );
      return false;
    }
    m.restarts.push(now);
    this.#log.info({ group: conf.group, user: m.user, why }, 'endpoint lost: a new one');
    this.#release(conf, m);
    m.endpoint = newId();
    m.offer = undefined;
    this.#allocate(conf, bridge, m);
    return true;
  }

  /** @internal The bridge heard another participant speaking most: everyone is told. */
  bridgeSpeaker(bridge: BridgeLink, conference: string, endpoint: string): void {
    const found = this.#memberByEndpoint(bridge, conference, endpoint);
    if (!found) return;
    const [conf, m] = found;
    if (conf.speaker === m.user) return;
    conf.speaker = m.user;
    this.#broadcast(conf, { speaker: m.user });
  }

  /**
   * @internal A bridge went away (its process died or it stopped answering): its conferences
   * move to another bridge, each participant getting a new endpoint (and so a new offer, which
   * the client takes as a new session). With no bridge left they wait for the next one.
   */
  bridgeGone(bridge: BridgeLink): void {
    for (const conf of this.#byGroup.values()) {
      if (conf.bridge !== bridge) continue;
      const to = this.#place(conf);
      this.#log.warn(
        { group: conf.group, to: to?.name ?? null },
        'moving conference off a lost bridge',
      );
    }
  }

  /** @internal A bridge said hello: conferences left without one move onto it. */
  bridgeJoined(_bridge: BridgeLink): void {
    for (const conf of this.#byGroup.values()) {
      if (conf.bridge || conf.members.size === 0) continue;
      const to = this.#place(conf);
      if (to) this.#log.info({ group: conf.group, to: to.name }, 'conference placed on a bridge');
    }
  }

  /** Puts a conference on the least loaded bridge with a new endpoint for every member. */
  #place(conf: Conference): BridgeLink | undefined {
    const bridge = this.opts.hub.pick();
    conf.bridge = bridge;
    if (!bridge) return undefined;
    for (const m of conf.members.values()) {
      m.endpoint = newId();
      this.#allocate(conf, bridge, m);
    }
    return bridge;
  }
}
