import {
  type ChannelMessage,
  type DirectPair,
  directSignalOf,
  type ForwardedStream,
  type GroupParticipant,
  type Knock,
  mediaChannelLabel,
  type PipelineOffer,
  pipelinePeerId,
  pipelineSignalOf,
  type Reaction,
  type ServerMessage,
  type TurnCredentials,
  upstreamMids,
  webrtcVersion,
} from '@confab/protocol';
import {
  layerBitrates,
  layersForCapture,
  mungeSimulcast,
  type SimulcastSsrcs,
} from '../media/simulcast.js';
import type { CallControllerOptions } from './CallController.js';
import { DirectPeer, type DirectSignalBody, type DirectTracks } from './DirectPeer.js';
import { browserRtc, PeerLink, type Rtc } from './PeerLink.js';
import { type BridgeMediaMessage, ViewSender, type ViewTiles } from './ViewSender.js';

/** A participant's media as it arrives from the bridge. */
export interface RemoteMedia {
  /** Camera and microphone, in one stream (for one <video> element). */
  camera: MediaStream | undefined;
  screen: MediaStream | undefined;
  /**
   * Whether each video's picture arrives now: it has a video track and the bridge forwards
   * its mid (media channel `forwarded`; every slot until the bridge first says). One not
   * forwarded is past this receiver's last-N, not shown, or paused on a congested link: its
   * tile shows the participant's name instead of a frozen picture.
   */
  forwarded: { camera: boolean; screen: boolean };
}

/** The sources whose encodings the bridge may pause (dynacast). */
type PublishedSource = 'camera' | 'screen';

export type GroupState =
  | { phase: 'idle' }
  | {
      phase: 'joining' | 'joined';
      group: string;
      participants: GroupParticipant[];
      /** By user id: what the bridge forwards of them. */
      media: Record<string, RemoteMedia>;
      sharing: boolean;
      connection: 'connecting' | 'connected' | 'interrupted';
      /** Dominant speakers, latest first (user ids). */
      speakers: string[];
      /** The owner muted this participant (the owner's name), until it unmutes itself. */
      mutedBy: string | undefined;
      /** A guest held by the server until a registered user starts the room. */
      waiting: boolean;
      /** Held at the lobby until the owner lets this user in ("Asking to join…"). */
      asking: boolean;
      /** The owner has the lobby on. */
      lobby: boolean;
      /** To the owner: who asks to join, in the order they came. */
      knocking: Knock[];
      /** Reactions shown now over their sender's tile, oldest first. */
      reactions: ShownReaction[];
      /**
       * A room of two that runs peer to peer: the other member's media comes over the direct
       * connection, and this side sends nothing to the bridge.
       */
      direct: boolean;
    }
  | {
      phase: 'failed';
      group: string;
      reason: 'replaced' | 'refused' | 'full' | 'removed' | 'media' | 'denied' | 'ended';
      /** The refusal's text, or who removed, denied or ended. */
      message?: string;
      /** When it happened (ms): "Ask again" waits `lobbyRetryMs` after a denial. */
      at?: number;
    };

/** A reaction over its sender's tile, for `reactionShownMs`. */
export interface ShownReaction {
  key: number;
  user: string;
  reaction: Reaction;
}

/** How long a reaction floats over its sender's tile. */
export const reactionShownMs = 4000;

type Joined = Extract<GroupState, { phase: 'joining' | 'joined' }>;

/** How large one video is shown, in device pixels (CSS pixels × devicePixelRatio). */
export interface ShownSize {
  width: number;
  height: number;
  /** On this receiver's stage (the large tile). */
  stage?: boolean;
}

/** What the group screen shows, by user id: a participant not named is not shown at all. */
export type GroupView = Record<string, { camera?: ShownSize; screen?: ShownSize }>;

/** Whether the page is hidden (minimized, another tab), and when that changes. */
export interface PageVisibility {
  hidden(): boolean;
  subscribe(listener: () => void): () => void;
}

const documentVisibility: PageVisibility = {
  hidden: () => typeof document !== 'undefined' && document.visibilityState === 'hidden',
  subscribe: (listener) => {
    if (typeof document === 'undefined') return () => {};
    document.addEventListener('visibilitychange', listener);
    return () => document.removeEventListener('visibilitychange', listener);
  },
};

/** As for one-to-one calls; "Audio only" refuses incoming video (the stream then has none). */
export type GroupControllerOptions = Pick<
  CallControllerOptions,
  | 'send'
  | 'localStream'
  | 'rtcConfig'
  | 'videoMaxBitrate'
  | 'screenMaxBitrate'
  | 'audioOnly'
  | 'rtc'
> & {
  /** The owner muted this participant: turn the microphone off. */
  onMutedByOwner(): void;
  /** The page's visibility (default: the document's); a hidden page shows no video. */
  visibility?: PageVisibility;
};

/**
 * A group call through the bridge (SPEC §1 "Media topology"): `webrtc_group` joins the
 * conference, the bridge (the pipeline peer) offers one bundled peer connection, this side
 * answers with its microphone and camera on the offered upstream mids (`a`, `v`) and its screen
 * on `s` while sharing. Every forwarded stream's mid is named in the offer's `streams`, so
 * tiles know whose stream is whose. Each new offer with another `session` is a new connection
 * (a rejoin, or the conference moved to another bridge).
 *
 * The camera goes up in simulcast (`media/simulcast.ts`); the bridge chooses each receiver's
 * layer from the `view` this side sends on the media channel: which of the offered videos the
 * screen shows, and how large (`setView`). The bridge says on the same channel which videos it
 * forwards here (`forwarded`, the others' tiles show names) and which of this side's own
 * encodings anyone takes (`publish`, dynacast: the others are paused at the sender).
 *
 * A camera or microphone that is off (its track disabled) is not put on its sender at all:
 * Chromium sends black frames and silence for a disabled track, and a participant who joins
 * with both off should publish nothing (the bridge gives a source a slot at the others only at
 * its first packet).
 */
export class GroupController {
  #state: GroupState = { phase: 'idle' };
  #listeners = new Set<() => void>();
  /** The session's peer connection with its listeners; a new session gets a new one. */
  #link: PeerLink | undefined;
  #session: string | undefined;
  #channel = '';
  #hash = '';
  #streams: Record<string, ForwardedStream> = {};
  #screenTrack: MediaStreamTrack | undefined;
  #turn: TurnCredentials | undefined;
  #joinId: number | undefined;
  #chain: Promise<void> = Promise.resolve();
  /** "Audio only" as last told, so that the same value again renegotiates nothing. */
  #audioOnly: boolean;
  /**
   * The camera's simulcast SSRCs in this session, named again in every answer; `single`: the
   * session's first answer went without (no camera then, or one too small for two layers).
   */
  #simulcast: SimulcastSsrcs | 'single' | undefined;
  /** What the screen shows; undefined until it says (the bridge's own choice until then). */
  #view: GroupView | undefined;
  /** The same view as JSON, so that the same one again costs nothing. */
  #viewJson = '';
  /** The video mids the bridge forwards here; undefined until it first says (then all are). */
  #forwarded: ReadonlySet<string> | undefined;
  /**
   * Which of this side's own encodings the bridge wants, per source, lowest first (its
   * `publish` messages merged); an encoding never named is wanted.
   */
  #wanted: Partial<Record<PublishedSource, boolean[]>> = {};
  /** Sender parameters change one at a time: each set needs the transaction of its own get. */
  #tuning: Promise<void> = Promise.resolve();
  readonly #views = new ViewSender(
    () => this.#tiles(),
    (m) => this.#onBridgeMessage(m),
  );

  /** The direct connection of a room of two, from the focus's word until it ends. */
  #direct: DirectPeer | undefined;
  /**
   * A direct connection on its way out (the room moved to the bridge): its media is still shown
   * until the bridge's arrives, then it closes.
   */
  #leaving: DirectPeer | undefined;
  /** Counts joins and leaves: work queued for one call is dropped in the next. */
  #call = 0;
  /**
   * The bridge's upstream senders were emptied for a settled direct connection: what the bridge
   * paused meanwhile (dynacast) was nobody's choice, undone when they carry media again.
   */
  #upstreamIdle = false;
  /**
   * The join reply said the room goes direct from the start (a room of one this side made
   * two): nothing goes to the bridge while the direct connection is on its way up
   * (`waiting`, at most `directFirstMs`) and then up (`direct`); `off` once it fails, drops,
   * ends or is late. The other side need not wait for this side's media through the bridge,
   * and this side's browser does not start three simulcast encoders beside the direct one
   * (which, on the bench's two cores, held the other's first direct frame back by 100-200 ms).
   */
  #upstreamHeld: 'off' | 'waiting' | 'direct' = 'off';
  /** Bridge offers waiting for the direct connection to come up first (`#directFirst`). */
  readonly #directWaiters = new Set<() => void>();
  /**
   * The room's landing page holds a session on the bridge ahead of "Join call" (`prepare`):
   * its request's id, and the session once the server said. Nothing goes up on it and the
   * bridge forwards nothing on it until the join that names it.
   */
  #prejoin: { group: string; id: number | undefined; session: string | undefined } | undefined;
  /** Prejoins the server ended that were asked again for this stay on the landing page. */
  #renewals = 0;
  /** Sessions of prejoins that were not taken on: their late offers are not a call's. */
  readonly #dropped = new Set<string>();

  readonly #rtc: Rtc;
  readonly #visibility: PageVisibility;

  constructor(private readonly opts: GroupControllerOptions) {
    this.#rtc = opts.rtc ?? browserRtc;
    this.#audioOnly = opts.audioOnly();
    this.#visibility = opts.visibility ?? documentVisibility;
  }

  get #pc(): RTCPeerConnection | undefined {
    return this.#link?.pc;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): GroupState => this.#state;

  #set(next: GroupState): void {
    if (next === this.#state) return;
    this.#state = next;
    for (const l of this.#listeners) l();
  }

  #patch(fields: Partial<Joined>): void {
    const s = this.#state;
    if (s.phase !== 'joining' && s.phase !== 'joined') return;
    this.#set({ ...s, ...fields });
  }

  setTurn(turn: TurnCredentials | undefined): void {
    this.#turn = turn;
  }

  /** Whether a server message is about a group (this controller's) rather than a call. */
  handles(message: ServerMessage): boolean {
    if (message.type === 'error')
      return (
        message.reply_to !== undefined &&
        (message.reply_to === this.#joinId || message.reply_to === this.#prejoin?.id)
      );
    if (message.type !== 'webrtc') return false;
    return ('group' in message && !!message.group) || message.channel.startsWith('@');
  }

  /**
   * The room's landing page is shown (`group`) or not (undefined): a session on the bridge is
   * made ahead (`webrtc_group` with `data.prejoin`, docs/protocol.md "Prejoin"), so that "Join
   * call" needs neither a first negotiation nor ICE and DTLS. Nobody is told this user is there,
   * nothing is sent on it and nothing is received until `join`. Another room's, or none, ends
   * the one there was; in a call this does nothing.
   */
  prepare(group: string | undefined): void {
    if (this.#state.phase === 'joining' || this.#state.phase === 'joined') return;
    if (this.#prejoin && this.#prejoin.group === group) return;
    this.#endPrejoin(true);
    this.#renewals = 0;
    if (group) this.#ask(group);
  }

  /** Asks the server for a prejoin in `group`. */
  #ask(group: string): void {
    this.#call++;
    this.#prejoin = { group, id: undefined, session: undefined };
    this.#prejoin.id = this.#sendGroup(group, { prejoin: true });
  }

  /** A session not (or no longer) this side's: its late signals are dropped. */
  #drop(session: string): void {
    this.#dropped.add(session);
    for (const old of this.#dropped) {
      if (this.#dropped.size <= 16) break;
      this.#dropped.delete(old);
    }
  }

  /** The prejoin ends: its session is closed, and with `tell` the server hears it too. */
  #endPrejoin(tell: boolean): void {
    const p = this.#prejoin;
    if (!p) return;
    this.#prejoin = undefined;
    if (p.session) this.#drop(p.session);
    if (tell)
      this.opts.send({
        type: 'webrtc',
        subtype: 'webrtc_hangup',
        target: p.group,
        group: p.group,
        channel: this.#channel,
        v: webrtcVersion,
        data: { accept: false, reason: 'hangup' },
      });
    this.#closeAll();
    this.#call++;
  }

  join(group: string): void {
    const p = this.#prejoin;
    // The prejoin's session carries on into the call when it is this room's (its offer may
    // still be on its way, or being answered: that goes on).
    const carried = p?.group === group ? p.session : undefined;
    this.#prejoin = undefined;
    if (!carried) {
      if (p?.session) this.#drop(p.session);
      this.#closeAll();
      this.#call++;
    }
    // A new call's screen says anew what it shows.
    this.#view = undefined;
    this.#viewJson = '';
    this.#set({
      phase: 'joining',
      group,
      participants: [],
      media: {},
      sharing: false,
      connection: 'connecting',
      speakers: [],
      mutedBy: undefined,
      waiting: false,
      asking: false,
      lobby: false,
      knocking: [],
      reactions: [],
      direct: false,
    });
    this.#sendJoin(group, carried);
  }

  /**
   * `session`: the one this client still holds, so that the server lets it carry on. `p2p`:
   * this client connects directly to the other member of a room of two when told to.
   */
  #sendJoin(group: string, session?: string): void {
    this.#joinId = this.#sendGroup(group, { p2p: true, ...(session ? { session } : {}) });
  }

  /** `webrtc_group` for `group` with `data` (a join or a prejoin); its message id. */
  #sendGroup(group: string, data: Record<string, unknown>): number | undefined {
    return this.opts.send({
      type: 'webrtc',
      subtype: 'webrtc_group',
      target: group,
      group,
      state: crypto.randomUUID(),
      v: webrtcVersion,
      data,
    });
  }

  leave(): void {
    const s = this.#state;
    if (s.phase === 'joining' || s.phase === 'joined') {
      this.opts.send({
        type: 'webrtc',
        subtype: 'webrtc_hangup',
        target: s.group,
        group: s.group,
        channel: this.#channel,
        v: webrtcVersion,
        data: { accept: false, reason: 'hangup' },
      });
    }
    this.#endPrejoin(true);
    this.#closeAll();
    this.#call++;
    this.#set({ phase: 'idle' });
  }

  /**
   * Signaling came back on a new connection: join again, naming the session held. Within the
   * server's reconnect grace it carries on (media never stopped); otherwise, or after a server
   * restart, a new session's offer follows.
   */
  reconnected(): void {
    const s = this.#state;
    if (s.phase === 'joining' || s.phase === 'joined') this.#sendJoin(s.group, this.#session);
    // A prejoin ended with the old connection: a new one.
    const p = this.#prejoin;
    if (p) {
      this.#endPrejoin(false);
      this.prepare(p.group);
    }
  }

  handle(message: ServerMessage): void {
    if (message.type === 'error' && message.reply_to === this.#prejoin?.id) {
      // Refused (a full room, a guest before the room started…): "Join call" will say why.
      this.#endPrejoin(false);
      return;
    }
    if (message.type === 'error') {
      const s = this.#state;
      if (s.phase !== 'joining' && s.phase !== 'joined') return;
      this.#closeAll();
      // The code says why; the message is for people (and may change).
      const full = message.error.code === 'conference_full';
      this.#set({
        phase: 'failed',
        group: s.group,
        reason: full ? 'full' : 'refused',
        message: message.error.msg,
      });
      return;
    }
    if (message.type !== 'webrtc') return;
    if (message.subtype === 'webrtc_channel') this.#onChannel(message);
    else if (message.subtype === 'webrtc_signal') {
      const direct = directSignalOf(message);
      if (direct) {
        if (direct.p2p === this.#direct?.pair.pair && message.source === this.#direct.pair.peer)
          this.#direct.handle(direct);
        return;
      }
      const data = pipelineSignalOf(message);
      if (!data || this.#dropped.has(data.session)) return;
      // Before a call, only the prejoin's session.
      if (this.#state.phase === 'idle' || this.#state.phase === 'failed') {
        if (!this.#prejoin?.session || data.session !== this.#prejoin.session) return;
      }
      if ('type' in data) {
        const call = this.#call;
        this.#queue(async () => {
          await this.#directFirst();
          // Not for a call left (or another joined) while it waited.
          if (call === this.#call) await this.#onOffer(data);
        });
      } else {
        // The bridge's candidates come after our answer (offers carry none), for this session.
        const { candidate, session } = data;
        this.#queue(async () => {
          // A candidate refused is no reason to renegotiate: the bridge's checks reach us anyway.
          if (this.#pc && session === this.#session)
            await this.#pc.addIceCandidate(candidate).catch(() => undefined);
        });
      }
    }
  }

  #onChannel(m: ChannelMessage): void {
    const data = m.data;
    if (data && 'prejoined' in data) return this.#onPrejoined(m, data.prejoined);
    const s = this.#state;
    if (s.phase !== 'joining' && s.phase !== 'joined') return;
    if (m.group && m.group !== s.group) return;
    if (!data) return; // every group channel message says something
    if ('waiting' in data) {
      this.#patch({ waiting: true });
      return;
    }
    if ('asking' in data) {
      this.#patch({ asking: true });
      return;
    }
    // Turned away at the lobby, or the owner ended the meeting: out, and no rejoin by itself.
    if ('denied' in data || 'ended' in data) {
      this.#closeAll();
      this.#set({
        phase: 'failed',
        group: s.group,
        reason: 'denied' in data ? 'denied' : 'ended',
        message: 'denied' in data ? data.denied.name : data.ended.name,
        at: Date.now(),
      });
      return;
    }
    if ('knocking' in data) {
      this.#patch({ knocking: data.knocking });
      return;
    }
    if ('reaction' in data) {
      this.#showReaction(data.reaction.user, data.reaction.reaction);
      return;
    }
    // The server took this member out: its media kept failing.
    if ('failed' in data) {
      this.#closeAll();
      this.#set({ phase: 'failed', group: s.group, reason: 'media' });
      return;
    }
    if ('replaced' in data || 'removed' in data) {
      this.#closeAll();
      this.#set({
        phase: 'failed',
        group: s.group,
        reason: 'removed' in data ? 'removed' : 'replaced',
        ...('removed' in data ? { message: data.removed.name } : {}),
      });
      return;
    }
    if ('muted' in data) {
      this.opts.onMutedByOwner();
      this.#patch({ mutedBy: data.muted.name });
    }
    if (m.channel) this.#channel = m.channel;
    if (m.hash) this.#hash = m.hash;
    if ('p2p' in data && data.p2p !== undefined) {
      if ('pipeline' in data && data.p2p && s.phase === 'joining') this.#upstreamHeld = 'waiting';
      this.#onDirect(data.p2p);
    }
    if ('speaker' in data) {
      const speaker = data.speaker;
      this.#patch({ speakers: [speaker, ...s.speakers.filter((u) => u !== speaker)].slice(0, 8) });
    }
    if ('group' in data) {
      const participants = data.group.participants;
      const present = new Set(participants.map((p) => p.id));
      const media = Object.fromEntries(
        Object.entries(s.media).filter(([user]) => present.has(user)),
      );
      this.#patch({
        participants,
        media,
        phase: 'joined',
        waiting: false,
        asking: false,
        lobby: data.group.lobby === true,
      });
      // A session carried on from the prejoin has its streams already, and its senders take
      // the tracks now that the join reply said whether the room goes direct.
      if (s.phase === 'joining') {
        this.#updateMedia();
        this.#applyUpstream();
      }
    }
  }

  /**
   * The server's word on the prejoin: its session (the bridge's offer follows), or `null`: it
   * ended. One that comes after "Join call" did not carry it on is only noted, so that its
   * offers are not taken for the call's; one that ends while the join is on its way drops the
   * session the join named (the server's new one follows).
   */
  #onPrejoined(m: ChannelMessage, prejoined: { session: string } | null): void {
    const p = this.#prejoin;
    const s = this.#state;
    if (prejoined && p && p.group === m.group && m.reply_to === p.id && !p.session) {
      p.session = prejoined.session;
      if (m.channel) this.#channel = m.channel;
      if (m.hash) this.#hash = m.hash;
      return;
    }
    if (prejoined) {
      this.#drop(prejoined.session);
      return;
    }
    if (p && p.group === m.group) {
      // Ended by the server (it expired, its conference closed or moved): another, a bounded
      // number of times for one stay on the landing page.
      this.#endPrejoin(false);
      if (this.#renewals++ < maxPrejoinRenewals) this.#ask(p.group);
    } else if (s.phase === 'joining' && s.group === m.group && this.#session) {
      this.#drop(this.#session);
      this.#closePeer();
    }
  }

  /** Offers are handled one at a time, in order. */
  #queue(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(work).catch(() => this.#signal({ renegotiate: true }));
  }

  async #onOffer(offer: PipelineOffer): Promise<void> {
    if (offer.session !== this.#session) {
      this.#closePeer();
      this.#session = offer.session;
    }
    const pc = this.#pc ?? this.#createPeer();
    this.#streams = offer.streams;
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    const local = this.opts.localStream();
    for (const tx of pc.getTransceivers()) {
      const track = this.#upstreamTrack(tx.mid);
      if (track === undefined) {
        const video = this.#streams[tx.mid ?? '']?.source !== 'microphone';
        tx.direction = video && this.opts.audioOnly() ? 'inactive' : 'recvonly';
        continue;
      }
      tx.direction = 'sendonly';
      if (tx.sender.track !== track) await tx.sender.replaceTrack(track);
      if (local && tx.mid !== upstreamMids.screen) tx.sender.setStreams?.(local);
    }
    const answer = await pc.createAnswer();
    // The camera's capture size decides simulcast even while it is off (its track disabled):
    // the sender's encodings are fixed by this session's first answer.
    const sdp = this.#withSimulcast(answer.sdp ?? '', local?.getVideoTracks()[0]);
    await pc.setLocalDescription({ type: 'answer', sdp });
    this.#signal({ type: 'answer', sdp });
    // "Join call" pressed while a prejoin's offer was being answered: the senders take the
    // tracks now.
    this.#applyUpstream(local);
    await this.#tune();
    this.#updateMedia();
    this.#views.changed(true);
  }

  /**
   * The answer with the camera in simulcast, decided at the session's first answer and kept:
   * Chromium takes SIM layers only in the first description that names the sender (a group
   * added later is accepted and ignored), and every later answer must name the same SSRCs. A
   * camera whose capture fills one layer (or none yet) stays one stream for the session, which
   * the bridge then forwards whole (never paused for a thumbnail's lack of bandwidth).
   */
  #withSimulcast(sdp: string, camera: MediaStreamTrack | undefined): string {
    if (this.#simulcast === 'single') return sdp;
    if (this.#simulcast === undefined) {
      const { width = 0, height = 0 } = camera?.getSettings?.() ?? {};
      if (layersForCapture(width, height) < 2) {
        this.#simulcast = 'single';
        return sdp;
      }
    }
    const munged = mungeSimulcast(sdp, upstreamMids.camera, this.#simulcast);
    this.#simulcast = munged.ssrcs ?? this.#simulcast;
    return munged.sdp;
  }

  /** `kwm.webrtc.config` with the TURN server, for the bridge and for a direct connection. */
  #config(): RTCConfiguration {
    const config: RTCConfiguration = {
      ...this.opts.rtcConfig(),
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    };
    if (this.#turn) {
      config.iceServers = [
        ...(config.iceServers ?? []),
        { urls: this.#turn.uris, username: this.#turn.username, credential: this.#turn.password },
      ];
    }
    return config;
  }

  /**
   * What the bridge's upstream mid carries: the microphone, camera (each only while on) and
   * screen, or nothing at all while the room's direct connection has settled (the bridge then
   * carries nothing of this side). Undefined: not an upstream mid.
   */
  #upstreamTrack(
    mid: string | null,
    local = this.opts.localStream(),
  ): MediaStreamTrack | null | undefined {
    // A prejoin's session carries nothing before "Join call".
    if (this.#state.phase !== 'joining' && this.#state.phase !== 'joined')
      return mid === upstreamMids.audio ||
        mid === upstreamMids.camera ||
        mid === upstreamMids.screen
        ? null
        : undefined;
    let track: MediaStreamTrack | null;
    if (mid === upstreamMids.audio) track = live(local?.getAudioTracks()[0]);
    else if (mid === upstreamMids.camera) track = live(local?.getVideoTracks()[0]);
    else if (mid === upstreamMids.screen) track = this.#screenTrack ?? null;
    else return undefined;
    if (this.#upstreamHeld !== 'off') return null;
    if (!this.#direct?.settled) return track;
    this.#upstreamIdle = true;
    return null;
  }

  /** What the direct connection sends: as to the bridge, no video to a side that takes none. */
  #directTracks(peer: DirectPeer, local = this.opts.localStream()): DirectTracks {
    const video = peer.peerMedia.video;
    return {
      audio: live(local?.getAudioTracks()[0]),
      camera: video ? live(local?.getVideoTracks()[0]) : null,
      screen: video ? (this.#screenTrack ?? null) : null,
    };
  }

  /**
   * The focus's word for a room of two: connect directly to `pair.peer`, or (`null`) back to the
   * bridge. A direct connection that ends goes out gently (`#phaseOut`); the bridge's session
   * stays all along, so that the way back is only a swap of tracks.
   */
  #onDirect(pair: DirectPair | null): void {
    if (pair && this.#direct?.pair.pair === pair.pair) return;
    if (this.#direct) this.#phaseOut(this.#direct);
    this.#direct = undefined;
    if (!pair) return this.#directChanged();
    const s = this.#state;
    if (s.phase !== 'joining' && s.phase !== 'joined') return;
    const peer: DirectPeer = new DirectPeer(
      {
        rtc: this.#rtc,
        config: this.#config(),
        pair,
        signal: (data) => this.#directSignal(peer, data),
        report: (state) => this.#signal({ p2p: { pair: pair.pair, state } }),
        changed: () => {
          if (peer === this.#direct || peer === this.#leaving) this.#directChanged();
        },
        videoMaxBitrate: this.opts.videoMaxBitrate,
        screenMaxBitrate: this.opts.screenMaxBitrate,
      },
      { audio: null, camera: null, screen: null },
    );
    this.#direct = peer;
    peer.setOutgoing(this.#directTracks(peer));
    peer.setMedia(this.#directMedia());
    if (this.#upstreamHeld === 'waiting')
      setTimeout(() => {
        if (this.#direct !== peer || this.#upstreamHeld !== 'waiting') return;
        // Not up in time: the bridge carries this side too, as the fallback.
        this.#upstreamHeld = 'off';
        this.#directChanged();
      }, directFirstMs);
  }

  /**
   * Before a bridge offer is answered: a direct connection on its way up gets there first, or
   * fails, or `directFirstMs` pass. The browser negotiates one connection at a time (measured
   * here: the bridge's answer, with its three simulcast encoders, held the direct offer and
   * answer back by 100-170 ms each, and the first pictures of a room of two with them); the
   * bridge's session is the fallback and its media would only be shown until the direct
   * path's. That holds for a new session (a joiner's first offer) as for a renegotiation (the
   * one there offered the joiner's streams, which start at once when the joiner's prejoin is
   * taken on).
   */
  #directFirst(): Promise<void> {
    const ready = () => {
      const d = this.#direct;
      return !d || d.connected || d.failed || d.closed;
    };
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#directWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (ready()) done();
      };
      const timer = setTimeout(done, directFirstMs);
      this.#directWaiters.add(check);
    });
  }

  #directMedia(): { screen: boolean; video: boolean } {
    return { screen: this.#screenTrack !== undefined, video: !this.#audioOnly };
  }

  #directSignal(peer: DirectPeer, data: DirectSignalBody): void {
    const s = this.#state;
    if (s.phase !== 'joining' && s.phase !== 'joined') return;
    this.opts.send({
      type: 'webrtc',
      subtype: 'webrtc_signal',
      target: peer.pair.peer,
      group: s.group,
      channel: this.#channel,
      hash: this.#hash,
      v: webrtcVersion,
      data: { p2p: peer.pair.pair, ...data },
    });
  }

  /**
   * After anything about the direct connection changed: a failed one is dropped (the bridge
   * carries the room again), the senders on both paths carry what they should, and the tiles
   * show the path that delivers.
   */
  #directChanged(): void {
    const d = this.#direct;
    if (d?.failed) {
      this.#direct = undefined;
      d.close();
    }
    for (const check of [...this.#directWaiters]) check();
    const held = this.#direct;
    if (!held || held.failed || held.closed || (this.#upstreamHeld === 'direct' && !held.connected))
      this.#upstreamHeld = 'off';
    else if (this.#upstreamHeld === 'waiting' && held.connected) this.#upstreamHeld = 'direct';
    if (this.#direct) {
      this.#direct.setOutgoing(this.#directTracks(this.#direct));
      this.#direct.setMedia(this.#directMedia());
    }
    if (this.#upstreamIdle && !this.#direct?.settled) {
      // Back to the bridge (the pair ended, failed or dropped): every camera encoding goes
      // until the bridge says again, so that the others' first pictures through it need no
      // round of `publish` first. One nobody takes is paused again (the bridge tells a source
      // that sends while paused).
      this.#upstreamIdle = false;
      this.#wanted = {};
    }
    this.#applyUpstream();
    this.#updateMedia();
  }

  /** The bridge's upstream senders carry what `#upstreamTrack` says. */
  #applyUpstream(local = this.opts.localStream()): void {
    const pc = this.#pc;
    if (!pc) return;
    for (const tx of pc.getTransceivers()) {
      if (tx.direction !== 'sendonly') continue; // not answered yet: the answer takes it
      const track = this.#upstreamTrack(tx.mid, local);
      if (track === undefined || tx.sender.track === track) continue;
      tx.sender
        .replaceTrack(track)
        .then(() => this.#tune())
        .catch(() => {});
    }
  }

  /**
   * The room moved to the bridge: this side sends there again at once, while the direct
   * connection keeps delivering the other's media until the bridge does (its first frame or
   * packet from that member, or `phaseOutMs`); it closes a moment later, once the other side
   * has had the same chance.
   */
  #phaseOut(peer: DirectPeer): void {
    this.#leaving?.close();
    this.#leaving = peer;
    const user = peer.pair.peer;
    const started = Date.now();
    // The switch waits for what the direct path shows: the other's video when it came that
    // way (its audio through the bridge comes sooner, and would leave the tile without
    // pictures until the video does), else its audio. (A camera the other turned off while
    // direct may still look unmuted here: then the switch comes at `phaseOutMs`, with the
    // direct path's audio going on until then.)
    const camera = peer.remote().camera;
    const video = !this.#audioOnly && camera?.muted === false && camera.readyState === 'live';
    const baseline = this.#bridgeReceived(user, video);
    const check = async () => {
      if (this.#leaving !== peer) return;
      const now = await this.#bridgeReceived(user, video);
      const before = await baseline;
      if (this.#leaving !== peer) return;
      if (now > before || Date.now() - started >= phaseOutMs) {
        this.#leaving = undefined;
        this.#updateMedia();
        setTimeout(() => peer.close(), closeAfterSwitchMs);
        return;
      }
      setTimeout(check, 100);
    };
    setTimeout(check, 100);
  }

  /**
   * Frames decoded (`video`: only those) and audio packets received from `user` through the
   * bridge so far.
   */
  async #bridgeReceived(user: string, video: boolean): Promise<number> {
    const pc = this.#pc;
    if (!pc) return 0;
    let n = 0;
    for (const tx of pc.getTransceivers()) {
      const info = tx.mid ? this.#streams[tx.mid] : undefined;
      if (info?.user !== user || info.source === 'screen') continue;
      if (video && info.source !== 'camera') continue;
      const stats = await tx.receiver.getStats?.().catch(() => undefined);
      stats?.forEach((r: { type: string; framesDecoded?: number; packetsReceived?: number }) => {
        if (r.type === 'inbound-rtp')
          n += info.source === 'camera' ? (r.framesDecoded ?? 0) : (r.packetsReceived ?? 0);
      });
    }
    return n;
  }

  /** The direct connection whose media the tiles show now, if any. */
  #shownDirect(): DirectPeer | undefined {
    if (this.#direct?.flowing) return this.#direct;
    if (this.#leaving && !this.#leaving.closed && this.#leaving.connected) return this.#leaving;
    return undefined;
  }

  #createPeer(): RTCPeerConnection {
    const config = this.#config();
    const link: PeerLink = new PeerLink(this.#rtc, config, {
      icecandidate: (c) => {
        if (c) this.#signal({ candidate: c.toJSON() });
      },
      track: () => this.#updateMedia(),
      datachannel: (e) => {
        if (e.channel.label === mediaChannelLabel) this.#views.attach(e.channel);
      },
      connectionstatechange: () => {
        const st = link.pc.connectionState;
        this.#patch({
          connection:
            st === 'connected'
              ? 'connected'
              : st === 'disconnected' || st === 'failed'
                ? 'interrupted'
                : 'connecting',
        });
      },
    });
    link.defer(this.#visibility.subscribe(() => this.#views.changed(true)));
    this.#link = link;
    return link.pc;
  }

  /**
   * What the screen shows now (the group screen calls this when its tiles change): sent to the
   * bridge as the size of each forwarded video's mid, so that it sends the layer that fits, and
   * nothing of what is not shown.
   */
  setView(view: GroupView): void {
    const json = JSON.stringify(view);
    if (json === this.#viewJson) return;
    this.#view = view;
    this.#viewJson = json;
    this.#views.changed();
  }

  /**
   * The view by mid: each forwarded video the screen shows (none while the page is hidden);
   * undefined before the screen said what it shows, so that a channel that opens first does
   * not stop every video for the moment until it does.
   */
  #tiles(): ViewTiles | undefined {
    const tiles: ViewTiles = {};
    const pc = this.#pc;
    if (this.#visibility.hidden()) return tiles;
    if (!pc || !this.#view) return undefined;
    for (const tx of pc.getTransceivers()) {
      const info = tx.mid ? this.#streams[tx.mid] : undefined;
      if (!tx.mid || !info || info.source === 'microphone' || tx.currentDirection !== 'recvonly')
        continue;
      const shown = this.#view?.[info.user]?.[info.source];
      const width = pixels(shown?.width);
      const height = pixels(shown?.height);
      if (!shown || width === 0 || height === 0) continue;
      tiles[tx.mid] = { width, height, ...(shown.stage ? { stage: true } : {}) };
    }
    return tiles;
  }

  /** Groups the received tracks by participant, as the offer's `streams` names them. */
  #updateMedia(): void {
    const pc = this.#pc;
    const s = this.#state;
    if (s.phase !== 'joining' && s.phase !== 'joined') return;
    interface Tracks {
      camera: MediaStreamTrack[];
      screen: MediaStreamTrack[];
      forwarded: RemoteMedia['forwarded'];
    }
    const tracks: Record<string, Tracks> = {};
    for (const tx of pc?.getTransceivers() ?? []) {
      const info = tx.mid ? this.#streams[tx.mid] : undefined;
      if (
        !tx.mid ||
        !info ||
        tx.currentDirection === 'inactive' ||
        tx.currentDirection === 'stopped'
      )
        continue;
      const entry: Tracks = tracks[info.user] ?? {
        camera: [],
        screen: [],
        forwarded: { camera: false, screen: false },
      };
      tracks[info.user] = entry;
      (info.source === 'screen' ? entry.screen : entry.camera).push(tx.receiver.track);
      if (info.source !== 'microphone' && (this.#forwarded?.has(tx.mid) ?? true))
        entry.forwarded[info.source] = true;
    }
    // A room of two that runs direct: the other member's media comes from there.
    const direct = this.#shownDirect();
    if (direct) {
      const r = direct.remote();
      const video = !this.#audioOnly;
      const screen = video && direct.peerMedia.screen;
      tracks[direct.pair.peer] = {
        camera: [r.audio, video ? r.camera : null].filter((t): t is MediaStreamTrack => !!t),
        screen: screen && r.screen ? [r.screen] : [],
        forwarded: { camera: video, screen },
      };
    }
    const media: Record<string, RemoteMedia> = {};
    for (const [user, t] of Object.entries(tracks)) {
      const old = s.media[user];
      const forwarded =
        old &&
        old.forwarded.camera === t.forwarded.camera &&
        old.forwarded.screen === t.forwarded.screen
          ? old.forwarded
          : t.forwarded;
      media[user] = {
        camera: this.#reuse(old?.camera, t.camera),
        screen: this.#reuse(old?.screen, t.screen),
        forwarded,
      };
    }
    this.#patch({ media, direct: direct !== undefined });
  }

  /** The bridge's word on the media channel (already checked against the schema). */
  #onBridgeMessage(m: BridgeMediaMessage): void {
    if (m.type === 'forwarded') {
      this.#forwarded = new Set(m.video);
      this.#updateMedia();
      return;
    }
    for (const source of ['camera', 'screen'] as const) {
      const wanted = m[source];
      if (!wanted) continue; // a source not named stays as it is
      const merged = [...(this.#wanted[source] ?? [])];
      for (const [i, on] of wanted.entries()) merged[i] = on;
      this.#wanted[source] = merged;
    }
    void this.#tune();
  }

  /** Sets the senders' parameters (`#tuneSenders`) after whatever set them before. */
  #tune(): Promise<void> {
    const pc = this.#pc;
    if (!pc) return this.#tuning;
    this.#tuning = this.#tuning.then(() => this.#tuneSenders(pc)).catch(() => {});
    return this.#tuning;
  }

  /**
   * Each encoding's cap and whether it sends. Caps: the screen one encoding under
   * `screenMaxBitrate`; the camera's simulcast layers each their own (`layerBitrates`: the top
   * layer `videoMaxBitrate`, fixed ones under it), from the capture size, which decides how many
   * layers Chromium fills. Active: what the bridge last wanted (`publish`; every encoding until
   * it says), none while the sender has no track (a camera turned off: Chromium otherwise keeps
   * sending padding on it for a few seconds). Chromium 156 pauses each SSRC of the munged
   * simulcast on its own (docs/architecture.md).
   */
  async #tuneSenders(pc: RTCPeerConnection): Promise<void> {
    for (const tx of pc.getTransceivers()) {
      const source: PublishedSource | undefined =
        tx.mid === upstreamMids.camera
          ? 'camera'
          : tx.mid === upstreamMids.screen
            ? 'screen'
            : undefined;
      if (!source) continue;
      const params = tx.sender.getParameters();
      const count = params.encodings?.length ?? 0;
      if (count === 0) continue;
      const settings = tx.sender.track?.getSettings?.();
      const caps =
        source === 'screen'
          ? params.encodings.map(() => this.opts.screenMaxBitrate())
          : layerBitrates(count, settings, this.opts.videoMaxBitrate());
      const wanted = this.#wanted[source] ?? [];
      const active = params.encodings.map((_, i) => !!tx.sender.track && wanted[i] !== false);
      if (params.encodings.every((e, i) => e.maxBitrate === caps[i] && e.active === active[i]))
        continue;
      for (const [i, e] of params.encodings.entries()) {
        e.maxBitrate = caps[i];
        e.active = active[i] ?? true;
      }
      await tx.sender.setParameters(params).catch((err: unknown) => {
        console.warn(`group call: the ${source}'s encodings were not set`, err);
      });
    }
  }

  /**
   * The camera or microphone changed (Settings, or turned on or off): the senders carry the
   * tracks that are on, swapped in place, and the bridge's last wish for the camera's
   * encodings is applied to the new track.
   */
  updateLocalStream(stream: MediaStream | undefined): void {
    if (this.#direct) this.#direct.setOutgoing(this.#directTracks(this.#direct, stream));
    this.#applyUpstream(stream);
  }

  /** The owner's powers: the focus refuses them from anyone else. */
  mute(user: string): void {
    this.#signal({ mute: { user } });
  }

  /** One's own hand up or down ("Raise hand"). */
  raiseHand(up: boolean): void {
    this.#signal({ hand: up });
  }

  react(reaction: Reaction): void {
    this.#signal({ reaction });
  }

  lowerHand(user: string): void {
    this.#signal({ lowerHand: { user } });
  }

  setLobby(on: boolean): void {
    this.#signal({ lobby: on });
  }

  admit(user: string): void {
    this.#signal({ admit: { user } });
  }

  admitAll(): void {
    this.#signal({ admitAll: true });
  }

  deny(user: string): void {
    this.#signal({ deny: { user } });
  }

  makeOwner(user: string): void {
    this.#signal({ makeOwner: { user } });
  }

  muteAll(): void {
    this.#signal({ muteAll: true });
  }

  endMeeting(): void {
    this.#signal({ end: true });
  }

  #reactionKey = 0;

  /** A reaction floats over its sender's tile for `reactionShownMs`. */
  #showReaction(user: string, reaction: Reaction): void {
    const s = this.#state;
    if (s.phase !== 'joining' && s.phase !== 'joined') return;
    const key = ++this.#reactionKey;
    // A few at a time: the server's budget lets a room send many at once.
    this.#patch({ reactions: [...s.reactions, { key, user, reaction }].slice(-12) });
    setTimeout(() => {
      const now = this.#state;
      if (now.phase === 'joining' || now.phase === 'joined')
        this.#patch({ reactions: now.reactions.filter((r) => r.key !== key) });
    }, reactionShownMs);
  }

  remove(user: string): void {
    this.#signal({ remove: { user } });
  }

  /** The microphone was switched; turned on after the owner muted it, it speaks again. */
  microphoneChanged(on: boolean): void {
    const s = this.#state;
    if (!on || (s.phase !== 'joined' && s.phase !== 'joining') || s.mutedBy === undefined) return;
    this.#patch({ mutedBy: undefined });
    this.#signal({ unmute: true });
  }

  /** "Audio only" changed: a fresh offer, answered with the video m-lines on or off. */
  setAudioOnly(on: boolean): void {
    if (on === this.#audioOnly) return;
    this.#audioOnly = on;
    if (this.#pc) this.#signal({ renegotiate: true });
    // The direct connection needs no new negotiation: the other side stops sending video.
    this.#direct?.setMedia(this.#directMedia());
    this.#updateMedia();
  }

  async startScreenShare(): Promise<void> {
    const s = this.#state;
    if ((s.phase !== 'joined' && s.phase !== 'joining') || s.sharing) return;
    let stream: MediaStream;
    try {
      stream = await this.#rtc.getDisplayMedia();
    } catch {
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    track.contentHint = 'detail';
    track.addEventListener('ended', () => this.stopScreenShare());
    this.#screenTrack = track;
    const tx = this.#pc?.getTransceivers().find((t) => t.mid === upstreamMids.screen);
    if (tx) await tx.sender.replaceTrack(this.#upstreamTrack(tx.mid) ?? null);
    await this.#tune();
    this.#directChanged();
    this.#signal({ screenshare: { mid: upstreamMids.screen } });
    this.#patch({ sharing: true });
  }

  stopScreenShare(): void {
    const track = this.#screenTrack;
    if (!track) return;
    this.#screenTrack = undefined;
    track.stop();
    const tx = this.#pc?.getTransceivers().find((t) => t.mid === upstreamMids.screen);
    tx?.sender
      .replaceTrack(null)
      .then(() => this.#tune())
      .catch(() => {});
    this.#signal({ screenshare: null });
    this.#patch({ sharing: false });
    this.#directChanged();
  }

  #signal(data: Record<string, unknown>): void {
    const s = this.#state;
    const group =
      s.phase === 'joining' || s.phase === 'joined'
        ? s.group
        : this.#prejoin?.session && this.#prejoin.group;
    if (!group) return;
    this.opts.send({
      type: 'webrtc',
      subtype: 'webrtc_signal',
      target: pipelinePeerId,
      group,
      channel: this.#channel,
      hash: this.#hash,
      v: webrtcVersion,
      data,
    });
  }

  /** The same MediaStream while its tracks stay the same, so <video> elements are not reset. */
  /**
   * The same MediaStream while its tracks stay the same, so <video> elements are not reset;
   * other tracks are swapped into it in place (the new ones first), so that a tile whose media
   * moves between the bridge and a direct connection goes on without `emptied` or a reload.
   */
  #reuse(old: MediaStream | undefined, tracks: MediaStreamTrack[]): MediaStream | undefined {
    if (tracks.length === 0) return undefined;
    if (!old) return this.#rtc.createMediaStream(tracks);
    const same = (have: MediaStreamTrack[]) =>
      have.length === tracks.length && tracks.every((t) => have.includes(t));
    const have = old.getTracks();
    if (same(have)) return old;
    for (const t of tracks) if (!have.includes(t)) old.addTrack(t);
    for (const t of have) if (!tracks.includes(t)) old.removeTrack(t);
    // A stream takes no second track of the same id (one path's track named like the other's).
    return same(old.getTracks()) ? old : this.#rtc.createMediaStream(tracks);
  }

  /** Leaves the room's media: the bridge's session and any direct connection. */
  #closeAll(): void {
    this.#closePeer();
    this.#direct?.close();
    this.#direct = undefined;
    this.#leaving?.close();
    this.#leaving = undefined;
    this.#upstreamIdle = false;
    this.#upstreamHeld = 'off';
    for (const check of [...this.#directWaiters]) check();
  }

  /** Closes the bridge's session (a new one follows, or the call ended). */
  #closePeer(): void {
    this.#views.detach();
    this.#link?.close();
    this.#link = undefined;
    this.#session = undefined;
    this.#streams = {};
    this.#simulcast = undefined;
    // The next session's bridge says anew what it forwards and wants.
    this.#forwarded = undefined;
    this.#wanted = {};
    if (this.#screenTrack) {
      // A new session (the bridge moved, or a rejoin) starts without the screen.
      this.#screenTrack.stop();
      this.#screenTrack = undefined;
      this.#patch({ sharing: false });
    }
  }
}

/**
 * How many times a prejoin the server ended is asked again while the landing page stays (an
 * hour at the server's default `prejoin_timeout`); then "Join call" goes the ordinary way.
 */
const maxPrejoinRenewals = 12;

/** How long a direct connection on its way out waits for the bridge's media at most. */
const phaseOutMs = 1500;
/** How long a new bridge session's answer waits for a direct connection on its way up. */
export const directFirstMs = 1000;
/** How long after the tiles switched to the bridge the old direct connection closes. */
const closeAfterSwitchMs = 2000;

/** The track a sender carries: none for one that is off (disabled) or missing. */
function live(track: MediaStreamTrack | undefined): MediaStreamTrack | null {
  return track?.enabled ? track : null;
}

/** A CSS size × devicePixelRatio as the protocol takes it: whole pixels, at most 16384. */
function pixels(n: number | undefined): number {
  return Number.isFinite(n) ? Math.min(16_384, Math.max(0, Math.round(n ?? 0))) : 0;
}
