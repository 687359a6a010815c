import type { ServerMessage, ServerWebrtcMessage, TurnCredentials } from '@confab/protocol';
import { webrtcVersion } from '@confab/protocol';

export interface Peer {
  id: string;
  name: string;
}

export type EndReason = 'declined' | 'busy' | 'no_answer' | 'unreachable' | 'hangup' | 'failed';

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
      remote: MediaStream | undefined;
      direction: 'outgoing' | 'incoming';
    }
  | { phase: 'ended'; peer: Peer; reason: EndReason };

export interface CallControllerOptions {
  send(message: Record<string, unknown>): number | undefined;
  selfId(): string | undefined;
  localStream(): MediaStream | undefined;
  /** RTCPeerConnection settings merged from `kwm.webrtc.config`. */
  rtcConfig(): RTCConfiguration;
  /** Cap for each sent video stream, in bits per second. */
  videoMaxBitrate(): number;
  /** A call finished (or was missed): for the recent calls list. */
  onFinished?(call: {
    peer: Peer;
    direction: 'outgoing' | 'incoming';
    audioOnly: boolean;
    outcome: EndReason | 'answered' | 'missed';
  }): void;
}

type SignalData = {
  type?: 'offer' | 'answer';
  sdp?: string;
  candidate?: RTCIceCandidateInit | null;
};

/**
 * One-to-one calls over kwm signaling and one RTCPeerConnection. The caller makes the offer once
 * the callee accepts; candidates that arrive before the remote description wait for it.
 */
export class CallController {
  #state: CallState = { phase: 'idle' };
  #listeners = new Set<() => void>();
  #pc: RTCPeerConnection | undefined;
  #pendingCandidates: RTCIceCandidateInit[] = [];
  #turn: TurnCredentials | undefined;

  constructor(private readonly opts: CallControllerOptions) {}

  get state(): CallState {
    return this.#state;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): CallState => this.#state;

  setTurn(turn: TurnCredentials | undefined): void {
    this.#turn = turn;
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

  #finishIncoming(s: { peer: Peer }, outcome: 'declined' | 'missed'): void {
    this.opts.onFinished?.({ peer: s.peer, direction: 'incoming', audioOnly: false, outcome });
  }

  call(peer: Peer, audioOnly: boolean): void {
    if (this.#state.phase !== 'idle' && this.#state.phase !== 'ended') return;
    const state = crypto.randomUUID();
    this.#set({ phase: 'outgoing', peer, audioOnly, state });
    this.#webrtc('webrtc_call', { target: peer.id, initiator: true, state });
  }

  accept(): void {
    const s = this.#state;
    if (s.phase !== 'incoming') return;
    this.#answer(s, { accept: true, state: s.state });
    this.#set({
      phase: 'active',
      peer: s.peer,
      audioOnly: false,
      channel: s.channel,
      hash: s.hash,
      state: s.state,
      remote: undefined,
      direction: 'incoming',
    });
    this.#createPeerConnection(false);
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

  /** The local tracks changed (camera or microphone toggled): nothing to renegotiate yet. */
  handle(message: ServerMessage): void {
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

  #webrtc(subtype: string, fields: Record<string, unknown>): void {
    this.opts.send({ type: 'webrtc', subtype, v: webrtcVersion, ...fields });
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

  #onChannel(m: ServerWebrtcMessage): void {
    const s = this.#state;
    if (s.phase === 'outgoing' && !s.channel && m.channel && m.hash)
      this.#set({ ...s, channel: m.channel, hash: m.hash });
  }

  #onRing(m: ServerWebrtcMessage): void {
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
        state: m.state ?? '',
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

  #onAnswer(m: ServerWebrtcMessage): void {
    const s = this.#state;
    if (s.phase !== 'outgoing' || !s.channel || m.channel !== s.channel) return;
    const data = m.data as { accept?: boolean; reason?: string } | undefined;
    if (data?.accept) {
      this.#set({
        phase: 'active',
        peer: { ...s.peer, name: m.profile?.name ?? s.peer.name },
        audioOnly: s.audioOnly,
        channel: s.channel,
        hash: s.hash ?? '',
        state: s.state,
        remote: undefined,
        direction: 'outgoing',
      });
      void this.#offer();
      return;
    }
    this.#set({
      phase: 'ended',
      peer: s.peer,
      reason: data?.reason === 'reject_busy' ? 'busy' : 'declined',
    });
  }

  #onHangup(m: ServerWebrtcMessage): void {
    const s = this.#state;
    if (s.phase === 'idle' || s.phase === 'ended' || ('channel' in s && s.channel !== m.channel))
      return;
    const reason = (m.data as { reason?: string } | undefined)?.reason;
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

  #rtcConfig(): RTCConfiguration {
    const base = this.opts.rtcConfig();
    const turn = this.#turn;
    const iceServers = [
      ...(base.iceServers ?? []),
      ...(turn ? [{ urls: turn.uris, username: turn.username, credential: turn.password }] : []),
    ];
    return { ...base, iceServers };
  }

  #createPeerConnection(audioOnly: boolean): RTCPeerConnection {
    this.#closePeer();
    const pc = new RTCPeerConnection(this.#rtcConfig());
    this.#pc = pc;
    this.#pendingCandidates = [];
    const local = this.opts.localStream();
    for (const track of local?.getTracks() ?? []) {
      if (audioOnly && track.kind === 'video') continue;
      pc.addTrack(track, local as MediaStream);
    }
    pc.onicecandidate = (e) =>
      this.#signal({ candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      const s = this.#state;
      const stream = e.streams[0] ?? new MediaStream([e.track]);
      if (s.phase === 'active') this.#set({ ...s, remote: stream });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') void this.#capBitrate(pc);
    };
    return pc;
  }

  async #capBitrate(pc: RTCPeerConnection): Promise<void> {
    for (const sender of pc.getSenders()) {
      if (sender.track?.kind !== 'video') continue;
      const params = sender.getParameters();
      params.encodings = params.encodings?.length ? params.encodings : [{}];
      for (const e of params.encodings) e.maxBitrate = this.opts.videoMaxBitrate();
      await sender.setParameters(params).catch(() => {});
    }
  }

  async #offer(): Promise<void> {
    const s = this.#state;
    if (s.phase !== 'active') return;
    const pc = this.#createPeerConnection(s.audioOnly);
    if (s.audioOnly) pc.addTransceiver('video', { direction: 'inactive' });
    await pc.setLocalDescription(await pc.createOffer());
    this.#signal({ type: 'offer', sdp: pc.localDescription?.sdp ?? '' });
  }

  async #onSignal(m: ServerWebrtcMessage): Promise<void> {
    const s = this.#state;
    const pc = this.#pc;
    if (s.phase !== 'active' || m.channel !== s.channel || !pc) return;
    const data = (m.data ?? {}) as SignalData;
    if (data.type === 'offer' && data.sdp) {
      await pc.setRemoteDescription({ type: 'offer', sdp: data.sdp });
      await this.#flushCandidates(pc);
      await pc.setLocalDescription(await pc.createAnswer());
      this.#signal({ type: 'answer', sdp: pc.localDescription?.sdp ?? '' });
    } else if (data.type === 'answer' && data.sdp) {
      await pc.setRemoteDescription({ type: 'answer', sdp: data.sdp });
      await this.#flushCandidates(pc);
    } else if (data.candidate) {
      if (pc.remoteDescription) await pc.addIceCandidate(data.candidate).catch(() => {});
      else this.#pendingCandidates.push(data.candidate);
    }
  }

  async #flushCandidates(pc: RTCPeerConnection): Promise<void> {
    for (const c of this.#pendingCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => {});
  }

  #signal(data: SignalData): void {
    const s = this.#state;
    if (s.phase !== 'active') return;
    this.#webrtc('webrtc_signal', {
      target: s.peer.id,
      channel: s.channel,
      hash: s.hash,
      state: s.state,
      data,
    });
  }

  #closePeer(): void {
    this.#pc?.close();
    this.#pc = undefined;
    this.#pendingCandidates = [];
  }
}
