import {
  type AnsweredMessage,
  type CallSignalData,
  type ChannelMessage,
  callSignalDataSchema,
  type HangupMessage,
  type RingMessage,
  type ServerMessage,
  type SignalMessage,
  type TurnCredentials,
  type WebrtcClientDraft,
  type WebrtcSubtype,
  webrtcVersion,
} from '@confab/protocol';
import { browserRtc, PeerLink, type Rtc } from './PeerLink.js';

export interface Peer {
  id: string;
  name: string;
}

export type EndReason = 'declined' | 'busy' | 'no_answer' | 'unreachable' | 'hangup' | 'failed';

/** How the media path of an answered call is doing. */
export type MediaStatus = 'connecting' | 'connected' | 'interrupted';

export type CallState =
  | { phase: 'idle' }
  | {
      phase: 'outgoing';
      peer: Peer;
      audioOnly: boolean;
      channel?: string;
      hash?: string;
      state: string;
    }
  | { phase: 'incoming'; peer: Peer; channel: string; hash: string; state: string }
  | {
      phase: 'active';
      peer: Peer;
      audioOnly: boolean;
      channel: string;
      hash: string;
      state: string;
      /** The other side's camera and microphone. */
      remote: MediaStream | undefined;
      /** The other side's shared screen, while it shares. */
      screen: MediaStream | undefined;
      /** Whether this side shares its screen. */
      sharing: boolean;
      media: MediaStatus;
      direction: 'outgoing' | 'incoming';
    }
  | { phase: 'ended'; peer: Peer; reason: EndReason };

type ActiveCall = Extract<CallState, { phase: 'active' }>;
/** What a webrtc message to the server carries besides its type and subtype. */
type WebrtcFields = Omit<WebrtcClientDraft, 'type' | 'subtype' | 'v'>;

export interface CallControllerOptions {
  /** Sends over signaling; undefined when the socket is down (the message is kept for later). */
  send(message: WebrtcClientDraft): number | undefined;
  localStream(): MediaStream | undefined;
  /** RTCPeerConnection settings merged from `kwm.webrtc.config`. */
  rtcConfig(): RTCConfiguration;
  /** Cap for each sent camera video stream, in bits per second. */
  videoMaxBitrate(): number;
  /** Cap for a shared screen, in bits per second. */
  screenMaxBitrate(): number;
  /** The "Audio only" setting: no video sent or received. */
  audioOnly(): boolean;
  /** The browser's WebRTC (a fake in unit tests). */
  rtc?: Rtc;
  /** A call finished (or was missed): for the recent calls list. */
  onFinished?(call: {
    peer: Peer;
    direction: 'outgoing' | 'incoming';
    audioOnly: boolean;
    outcome: EndReason | 'answered' | 'missed';
  }): void;
}

/** Messages kept while the signaling socket is down, at most this many. */
const outboxLimit = 200;
/** How long ICE may stay "disconnected" before it is restarted. */
const iceGraceMs = 3000;

/**
 * One-to-one calls over kwm signaling and one RTCPeerConnection per call.
 *
 * Negotiation is the W3C "perfect negotiation" pattern (the callee is the polite side), so
 * either side may renegotiate at any time: screen sharing, audio only, ICE restarts. The caller
 * makes the first offer once the callee accepts; the callee adds its tracks when that offer
 * arrives. A lost signaling socket does not end the call: messages wait in an outbox, and on
 * reconnection a `{noop: true}` signal re-attaches this side to the call on the server first.
 */
export class CallController {
  #state: CallState = { phase: 'idle' };
  #listeners = new Set<() => void>();
  /** The call's peer connection, its listeners, timers and transceivers. */
  #link: PeerLink | undefined;
  #pendingCandidates: RTCIceCandidateInit[] = [];
  #turn: TurnCredentials | undefined;
  #polite = false;
  #makingOffer = false;
  #ignoreOffer = false;
  #tracksAdded = false;
  #screenTrack: MediaStreamTrack | undefined;
  #screenAnnounced = false;
  #remoteScreenMid: string | undefined;
  #remoteCamera: MediaStream | undefined;
  #outbox: WebrtcClientDraft[] = [];
  #noopId: number | undefined;
  /** The id of the `webrtc_call` that started the outgoing call, for the server's refusal. */
  #callId: number | undefined;

  readonly #rtc: Rtc;

  constructor(private readonly opts: CallControllerOptions) {
    this.#rtc = opts.rtc ?? browserRtc;
  }

  get #pc(): RTCPeerConnection | undefined {
    return this.#link?.pc;
  }

  get state(): CallState {
    return this.#state;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): CallState => this.#state;

  /** New TURN credentials: used by the next peer connection, and by the open one from now on. */
  setTurn(turn: TurnCredentials | undefined): void {
    this.#turn = turn;
    const pc = this.#pc;
    if (pc && pc.connectionState !== 'closed') {
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: this.#iceServers() });
      } catch {
        // A browser that refuses a changed configuration keeps the old credentials.
      }
    }
  }

  /** The one setter of the state: no-ops ignored, listeners told once. */
  #set(next: CallState): void {
    const prev = this.#state;
    if (next === prev) return;
    this.#state = next;
    // Every way out of a call passes here: report it once for the recent calls.
    if (prev.phase === 'active' && next.phase !== 'active') {
      this.opts.onFinished?.({
        peer: prev.peer,
        direction: prev.direction,
        audioOnly: prev.audioOnly,
        outcome: 'answered',
      });
    } else if (prev.phase === 'outgoing' && next.phase === 'ended') {
      this.opts.onFinished?.({
        peer: prev.peer,
        direction: 'outgoing',
        audioOnly: prev.audioOnly,
        outcome: next.reason,
      });
    }
    for (const l of this.#listeners) l();
  }

  /** Changes fields of the answered call, if there is one. */
  #patch(fields: Partial<ActiveCall>): void {
    const s = this.#state;
    if (s.phase !== 'active') return;
    if (Object.entries(fields).every(([k, v]) => s[k as keyof ActiveCall] === v)) return;
    this.#set({ ...s, ...fields });
  }

  #finishIncoming(s: { peer: Peer }, outcome: 'declined' | 'missed'): void {
    this.opts.onFinished?.({ peer: s.peer, direction: 'incoming', audioOnly: false, outcome });
  }

  call(peer: Peer, audioOnly: boolean): void {
    if (this.#state.phase !== 'idle' && this.#state.phase !== 'ended') return;
    const state = crypto.randomUUID();
    this.#set({ phase: 'outgoing', peer, audioOnly, state });
    this.#callId = this.#webrtc('webrtc_call', { target: peer.id, initiator: true, state });
  }

  accept(): void {
    const s = this.#state;
    if (s.phase !== 'incoming') return;
    this.#answer(s, { accept: true, state: s.state });
    this.#set(this.#activeCall(s, this.opts.audioOnly(), 'incoming'));
    this.#createPeerConnection(true);
  }

  decline(): void {
    const s = this.#state;
    if (s.phase !== 'incoming') return;
    this.#answer(s, { accept: false, state: s.state, reason: 'reject' });
    this.#finishIncoming(s, 'declined');
    this.#set({ phase: 'idle' });
  }

  /** Ignore: stop showing the call and tell nobody; the caller hears "No answer" in time. */
  ignore(): void {
    const s = this.#state;
    if (s.phase !== 'incoming') return;
    this.#finishIncoming(s, 'missed');
    this.#set({ phase: 'idle' });
  }

  hangUp(): void {
    const s = this.#state;
    if (s.phase === 'outgoing' || s.phase === 'active') {
      if (s.channel && s.hash) {
        this.#webrtc('webrtc_hangup', {
          target: s.peer.id,
          channel: s.channel,
          hash: s.hash,
          state: s.state,
          data: { accept: false, reason: 'hangup', state: s.state },
        });
      }
      this.#closePeer();
      this.#set({ phase: 'ended', peer: s.peer, reason: 'hangup' });
    }
  }

  dismiss(): void {
    if (this.#state.phase === 'ended') this.#set({ phase: 'idle' });
  }

  /**
   * The signaling socket is back (after a drop or a server restart): re-attach to the call with
   * a noop, then send what waited. Without a call, only a waiting hangup is still worth sending.
   */
  reconnected(): void {
    const waiting = this.#outbox.splice(0);
    const s = this.#state;
    if (s.phase === 'active') {
      this.#noopId = this.opts.send({
        type: 'webrtc',
        subtype: 'webrtc_signal',
        v: webrtcVersion,
        ...this.#signalFields(s, { noop: true }),
      });
      for (const m of waiting) this.opts.send(m);
    } else {
      for (const m of waiting) if (m.subtype === 'webrtc_hangup') this.opts.send(m);
    }
  }

  /**
   * The local camera or microphone changed (Settings): the senders switch tracks in place, with
   * no renegotiation.
   */
  updateLocalStream(stream: MediaStream | undefined): void {
    for (const kind of ['audio', 'video'] as const) {
      const sender = this.#link?.senders[kind];
      const track =
        (kind === 'audio' ? stream?.getAudioTracks() : stream?.getVideoTracks())?.[0] ?? null;
      if (!sender || sender.track === track) continue;
      if (kind === 'video' && this.#videoOff()) continue;
      sender.replaceTrack(track).catch(() => {});
    }
  }

  /** "Audio only" switched during a call: stop (or resume) sending and receiving video. */
  setAudioOnly(on: boolean): void {
    const s = this.#state;
    const pc = this.#pc;
    if (s.phase !== 'active' || !pc || s.audioOnly === on) return;
    if (on) this.stopScreenShare();
    this.#patch({ audioOnly: on });
    const video = this.#link?.senders.video;
    if (video) {
      const track = on ? null : (this.opts.localStream()?.getVideoTracks()[0] ?? null);
      video.replaceTrack(track).catch(() => {});
    }
    this.#applyVideoDirections(pc);
  }

  /** Shares a screen, window or tab (the browser asks which) as a second video stream. */
  async startScreenShare(): Promise<void> {
    const s = this.#state;
    const link = this.#link;
    if (s.phase !== 'active' || s.sharing || s.audioOnly || !link) return;
    let stream: MediaStream;
    try {
      stream = await this.#rtc.getDisplayMedia();
    } catch {
      return; // The user cancelled the browser's picker.
    }
    const track = stream.getVideoTracks()[0];
    if (!track || this.#link !== link || this.#state.phase !== 'active') {
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    track.contentHint = 'detail';
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener('ended', () => this.stopScreenShare());
    link.own(track);
    this.#screenTrack = track;
    this.#screenAnnounced = false;
    if (link.screenTx && link.screenTx.currentDirection !== 'stopped') {
      link.screenTx.direction = 'sendonly';
      await link.screenTx.sender.replaceTrack(track);
    } else {
      link.screenTx = link.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    this.#patch({ sharing: true });
  }

  stopScreenShare(): void {
    const track = this.#screenTrack;
    if (!track) return;
    this.#screenTrack = undefined;
    if (this.#link) this.#link.release(track);
    else track.stop();
    const tx = this.#link?.screenTx;
    if (tx && this.#pc?.connectionState !== 'closed') {
      tx.sender.replaceTrack(null).catch(() => {});
      tx.direction = 'inactive';
    }
    const s = this.#state;
    if (s.phase === 'active') {
      this.#signal({ screenshare: null });
      this.#patch({ sharing: false });
    }
  }

  handle(message: ServerMessage): void {
    if (message.type === 'error') {
      // The server no longer knows the call we tried to re-attach to: it has ended.
      if (message.reply_to !== undefined && message.reply_to === this.#noopId) this.#remoteEnded();
      // The call was refused before it rang: the callee is being rung by too many at once
      // (`rate_limited`) is what a busy line is to the caller; anything else failed.
      const s = this.#state;
      if (message.reply_to !== undefined && message.reply_to === this.#callId) {
        this.#callId = undefined;
        if (s.phase === 'outgoing')
          this.#set({
            phase: 'ended',
            peer: s.peer,
            reason: message.error.code === 'rate_limited' ? 'busy' : 'failed',
          });
      }
      return;
    }
    if (message.type !== 'webrtc') return;
    switch (message.subtype) {
      case 'webrtc_channel':
        return this.#onChannel(message);
      case 'webrtc_call':
        return message.initiator ? this.#onRing(message) : this.#onAnswer(message);
      case 'webrtc_signal':
        return void this.#onSignal(message);
      case 'webrtc_hangup':
        return this.#onHangup(message);
    }
  }

  /** Sends (or, while disconnected, queues) a webrtc message; its id when it went out now. */
  #webrtc(subtype: WebrtcSubtype, fields: WebrtcFields): number | undefined {
    const message: WebrtcClientDraft = { type: 'webrtc', subtype, v: webrtcVersion, ...fields };
    const id = this.opts.send(message);
    if (id === undefined && this.#outbox.length < outboxLimit) this.#outbox.push(message);
    return id;
  }

  #answer(
    s: { peer: Peer; channel: string; hash: string; state: string },
    data: Record<string, unknown>,
  ): void {
    this.#webrtc('webrtc_call', {
      target: s.peer.id,
      initiator: false,
      channel: s.channel,
      hash: s.hash,
      state: s.state,
      data,
    });
  }

  #activeCall(
    s: { peer: Peer; channel?: string; hash?: string; state: string },
    audioOnly: boolean,
    direction: 'outgoing' | 'incoming',
  ): ActiveCall {
    return {
      phase: 'active',
      peer: s.peer,
      audioOnly,
      channel: s.channel ?? '',
      hash: s.hash ?? '',
      state: s.state,
      remote: undefined,
      screen: undefined,
      sharing: false,
      media: 'connecting',
      direction,
    };
  }

  #onChannel(m: ChannelMessage): void {
    const s = this.#state;
    if (s.phase === 'outgoing' && !s.channel && m.channel && m.hash)
      this.#set({ ...s, channel: m.channel, hash: m.hash });
  }

  #onRing(m: RingMessage): void {
    const s = this.#state;
    if (!m.channel || !m.source) return;
    // A call without target: answered on another of our devices, stop ringing here.
    if (m.target === undefined) {
      if (s.phase === 'incoming' && s.channel === m.channel) this.#set({ phase: 'idle' });
      return;
    }
    if (s.phase === 'idle' || s.phase === 'ended') {
      this.#set({
        phase: 'incoming',
        peer: { id: m.source, name: m.profile?.name ?? m.source },
        channel: m.channel,
        hash: m.hash ?? '',
        state: m.state,
      });
      return;
    }
    // Already in (or ringing for) a call: busy.
    this.#webrtc('webrtc_call', {
      target: m.source,
      initiator: false,
      channel: m.channel,
      hash: m.hash,
      state: m.state,
      data: { accept: false, state: m.state, reason: 'reject_busy' },
    });
  }

  #onAnswer(m: AnsweredMessage): void {
    const s = this.#state;
    if (s.phase !== 'outgoing' || !s.channel || m.channel !== s.channel) return;
    const data = m.data;
    if (data.accept) {
      const peer = { ...s.peer, name: m.profile?.name ?? s.peer.name };
      this.#set(this.#activeCall({ ...s, peer }, s.audioOnly || this.opts.audioOnly(), 'outgoing'));
      // Adding the tracks makes the first offer (negotiationneeded).
      const pc = this.#createPeerConnection(false);
      this.#addLocalTracks(pc);
      return;
    }
    this.#set({
      phase: 'ended',
      peer: s.peer,
      reason: data.reason === 'reject_busy' ? 'busy' : 'declined',
    });
  }

  #onHangup(m: HangupMessage): void {
    const s = this.#state;
    if (s.phase === 'idle' || s.phase === 'ended' || ('channel' in s && s.channel !== m.channel))
      return;
    const reason = m.data.reason;
    this.#closePeer();
    if (s.phase === 'incoming') {
      this.#finishIncoming(s, 'missed');
      return this.#set({ phase: 'idle' });
    }
    const mapped: EndReason =
      reason === 'unreachable'
        ? 'unreachable'
        : reason === 'no_answer'
          ? 'no_answer'
          : reason === 'reject'
            ? 'declined'
            : 'hangup';
    this.#set({ phase: 'ended', peer: s.peer, reason: mapped });
  }

  #remoteEnded(): void {
    const s = this.#state;
    if (s.phase !== 'active') return;
    this.#closePeer();
    this.#set({ phase: 'ended', peer: s.peer, reason: 'hangup' });
  }

  #iceServers(): RTCIceServer[] {
    const turn = this.#turn;
    return [
      ...(this.opts.rtcConfig().iceServers ?? []),
      ...(turn ? [{ urls: turn.uris, username: turn.username, credential: turn.password }] : []),
    ];
  }

  /** Video is neither sent nor received: an audio call, or the "Audio only" setting. */
  #videoOff(): boolean {
    const s = this.#state;
    return s.phase === 'active' && s.audioOnly;
  }

  #createPeerConnection(polite: boolean): RTCPeerConnection {
    this.#closePeer();
    const config = { ...this.opts.rtcConfig(), iceServers: this.#iceServers() };
    const link: PeerLink = new PeerLink(this.#rtc, config, {
      negotiationneeded: () => void this.#offer(link.pc),
      icecandidate: (c) => this.#signal({ candidate: c ? c.toJSON() : null }),
      track: (e) => {
        const stream = e.streams[0] ?? this.#rtc.createMediaStream([e.track]);
        // The first stream is the camera and microphone; a screen is announced by its mid.
        this.#remoteCamera ??= stream;
        this.#updateRemote();
      },
      signalingstatechange: () => {
        if (link.pc.signalingState === 'stable') void this.#negotiated(link);
      },
      iceconnectionstatechange: () => this.#onIceState(link),
    });
    this.#link = link;
    this.#polite = polite;
    this.#tracksAdded = false;
    return link.pc;
  }

  async #offer(pc: RTCPeerConnection): Promise<void> {
    try {
      this.#makingOffer = true;
      await pc.setLocalDescription();
      if (this.#pc === pc) this.#signal({ type: 'offer', sdp: pc.localDescription?.sdp ?? '' });
    } catch {
      // A failed offer is retried by the next negotiationneeded or ICE restart.
    } finally {
      this.#makingOffer = false;
    }
  }

  /** The caller's tracks before its first offer, or the callee's when that offer arrives. */
  #addLocalTracks(pc: RTCPeerConnection): void {
    const link = this.#link;
    if (this.#tracksAdded || !link) return;
    this.#tracksAdded = true;
    const local = this.opts.localStream();
    const audio = local?.getAudioTracks()[0];
    const video = local?.getVideoTracks()[0];
    if (audio) link.senders.audio = pc.addTrack(audio, local as MediaStream);
    if (video && !this.#videoOff()) link.senders.video = pc.addTrack(video, local as MediaStream);
    // Nothing to send (no devices): still receive.
    if (!audio) pc.addTransceiver('audio', { direction: 'recvonly' });
    this.#applyVideoDirections(pc);
  }

  /**
   * Audio only refuses video both ways (as Kopano Meet does): every video transceiver but this
   * side's screen goes inactive; otherwise the camera sends and receives, the other's screen is
   * received.
   */
  #applyVideoDirections(pc: RTCPeerConnection): void {
    const off = this.#videoOff();
    for (const tx of pc.getTransceivers()) {
      if (tx === this.#link?.screenTx || tx.receiver.track.kind !== 'video') continue;
      if (tx.currentDirection === 'stopped') continue;
      const own = tx.sender === this.#link?.senders.video;
      const want: RTCRtpTransceiverDirection = off ? 'inactive' : own ? 'sendrecv' : 'recvonly';
      if (tx.direction !== want) tx.direction = want;
    }
  }

  async #onSignal(m: SignalMessage): Promise<void> {
    const s = this.#state;
    const pc = this.#pc;
    if (s.phase !== 'active' || m.channel !== s.channel || !pc) return;
    // What another client signals in its own shapes is not for this one.
    const parsed = callSignalDataSchema.safeParse(m.data);
    if (!parsed.success) return;
    const data = parsed.data;
    try {
      if ('type' in data) {
        if (data.sdp) await this.#onDescription(pc, { type: data.type, sdp: data.sdp });
      } else if ('candidate' in data) {
        const candidate = data.candidate;
        if (!candidate) return;
        if (pc.remoteDescription) {
          await pc.addIceCandidate(candidate).catch((err: unknown) => {
            if (!this.#ignoreOffer) throw err;
          });
        } else this.#pendingCandidates.push(candidate);
      } else if ('noop' in data) {
        this.#peerIsBack(pc);
      } else {
        this.#remoteScreenMid = data.screenshare?.mid;
        this.#updateRemote();
      }
    } catch {
      // A signal that does not apply (a stale candidate) changes nothing.
    }
  }

  /** Perfect negotiation: the impolite side (the caller) ignores a colliding offer. */
  async #onDescription(pc: RTCPeerConnection, desc: RTCSessionDescriptionInit): Promise<void> {
    const collision =
      desc.type === 'offer' && (this.#makingOffer || pc.signalingState !== 'stable');
    this.#ignoreOffer = !this.#polite && collision;
    if (this.#ignoreOffer) return;
    await pc.setRemoteDescription(desc);
    await this.#flushCandidates(pc);
    if (desc.type !== 'offer') return;
    if (!this.#tracksAdded && !pc.getTransceivers().some((t) => t.receiver.track.kind === 'video'))
      this.#patch({ audioOnly: true }); // an "Audio call": no video either way
    this.#addLocalTracks(pc);
    this.#applyVideoDirections(pc);
    await pc.setLocalDescription();
    this.#signal({ type: 'answer', sdp: pc.localDescription?.sdp ?? '' });
  }

  /** The other side re-attached after losing its signaling: resend or restart what was lost. */
  #peerIsBack(pc: RTCPeerConnection): void {
    if (pc.signalingState === 'have-local-offer' && pc.localDescription) {
      this.#signal({ type: 'offer', sdp: pc.localDescription.sdp });
    } else if (!['connected', 'completed'].includes(pc.iceConnectionState)) {
      pc.restartIce();
    }
    const screenMid = this.#link?.screenTx?.mid;
    if (this.#screenTrack && screenMid) this.#signal({ screenshare: { mid: screenMid } });
  }

  #onIceState(link: PeerLink): void {
    const pc = link.pc;
    const ice = pc.iceConnectionState;
    link.clearTimer('ice');
    if (ice === 'connected' || ice === 'completed') {
      this.#patch({ media: 'connected' });
    } else if (ice === 'failed') {
      this.#patch({ media: 'interrupted' });
      pc.restartIce();
    } else if (ice === 'disconnected') {
      this.#patch({ media: 'interrupted' });
      link.setTimer(
        'ice',
        () => {
          if (pc.iceConnectionState === 'disconnected') pc.restartIce();
        },
        iceGraceMs,
      );
    }
  }

  /** After each completed negotiation: bit rate caps, and a new screen's announcement. */
  async #negotiated(link: PeerLink): Promise<void> {
    const screenMid = link.screenTx?.mid;
    if (this.#screenTrack && !this.#screenAnnounced && screenMid) {
      this.#screenAnnounced = true;
      this.#signal({ screenshare: { mid: screenMid } });
    }
    this.#updateRemote();
    for (const sender of link.pc.getSenders()) {
      if (sender.track?.kind !== 'video') continue;
      const cap =
        sender === link.screenTx?.sender
          ? this.opts.screenMaxBitrate()
          : this.opts.videoMaxBitrate();
      const params = sender.getParameters();
      if (!params.encodings?.length) continue;
      if (params.encodings.every((e) => e.maxBitrate === cap)) continue;
      for (const e of params.encodings) e.maxBitrate = cap;
      await sender.setParameters(params).catch(() => {});
    }
  }

  /** The remote camera stream and, if the other side announced one, its screen. */
  #updateRemote(): void {
    const pc = this.#pc;
    const s = this.#state;
    if (!pc || s.phase !== 'active') return;
    const mid = this.#remoteScreenMid;
    const tx = mid ? pc.getTransceivers().find((t) => t.mid === mid) : undefined;
    const track = tx?.receiver.track;
    let screen = s.screen;
    if (!track || s.audioOnly) screen = undefined;
    else if (screen?.getVideoTracks()[0] !== track) screen = this.#rtc.createMediaStream([track]);
    this.#patch({ remote: this.#remoteCamera, screen });
  }

  async #flushCandidates(pc: RTCPeerConnection): Promise<void> {
    for (const c of this.#pendingCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => {});
  }

  #signalFields(s: ActiveCall, data: CallSignalData): WebrtcFields {
    return { target: s.peer.id, channel: s.channel, hash: s.hash, state: s.state, data };
  }

  #signal(data: CallSignalData): void {
    const s = this.#state;
    if (s.phase === 'active') this.#webrtc('webrtc_signal', this.#signalFields(s, data));
  }

  /** Closes the call's connection (its listeners, timers and screen with it). */
  #closePeer(): void {
    this.#link?.close();
    this.#link = undefined;
    this.#screenTrack = undefined;
    this.#screenAnnounced = false;
    this.#remoteScreenMid = undefined;
    this.#remoteCamera = undefined;
    this.#pendingCandidates = [];
    this.#noopId = undefined;
  }
}
