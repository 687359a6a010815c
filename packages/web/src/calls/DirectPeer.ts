import type { DirectPair, DirectSignal } from '@confab/protocol';
import { PeerLink, type Rtc } from './PeerLink.js';

/** What this side sends on the direct connection: each track, or none. */
export interface DirectTracks {
  audio: MediaStreamTrack | null;
  camera: MediaStreamTrack | null;
  screen: MediaStreamTrack | null;
}

/** What a member says of its own media on the direct connection. */
export interface DirectMedia {
  /** It shares its screen (on the third m-line). */
  screen: boolean;
  /** It takes video ("Audio only" is off): the other side sends it camera and screen. */
  video: boolean;
}

/** A direct signal's body: what goes with the pair's id. */
export type DirectSignalBody = DirectSignal extends infer S
  ? S extends unknown
    ? Omit<S, 'p2p'>
    : never
  : never;

export interface DirectPeerOptions {
  rtc: Rtc;
  config: RTCConfiguration;
  pair: DirectPair;
  /** Sends a signal to the other member (the focus relays it). */
  signal(data: DirectSignalBody): void;
  /** Tells the focus how the connection is doing. */
  report(state: 'connected' | 'failed'): void;
  /** Its state, remote tracks or the other's media changed. */
  changed(): void;
  videoMaxBitrate(): number;
  screenMaxBitrate(): number;
}

/** A direct connection that is not up within this long failed (the room stays on the bridge). */
export const directConnectTimeoutMs = 10_000;
/**
 * How long the direct connection must have been up before this side stops sending to the
 * bridge: both paths carry the media for that moment, so the other side's picture never waits
 * for the direct path's first keyframe.
 */
export const directSettleMs = 1000;

const kinds = ['audio', 'camera', 'screen'] as const;

/**
 * The direct connection of a room of two (docs/protocol.md "Peer-to-peer rooms of two"): one
 * RTCPeerConnection to the other member, with three m-lines made by the initiator's one offer
 * (microphone, camera, screen; all sendrecv), so that nothing this side does later needs a new
 * negotiation: tracks are swapped in place, and what each side shares or takes is said in a
 * `media` signal. It reports `connected` once, and `failed` when ICE fails or it is not up
 * within `directConnectTimeoutMs`; the group controller then keeps (or puts) the room on the
 * bridge. The camera goes as one layer (no simulcast on a direct path).
 */
export class DirectPeer {
  readonly link: PeerLink;
  readonly pair: DirectPair;
  /** What the other member last said of its media (until it says: no screen, takes video). */
  peerMedia: DirectMedia = { screen: false, video: true };
  /** Microphone, camera and screen, once this side's m-lines are known. */
  #tx: RTCRtpTransceiver[] = [];
  #outgoing: DirectTracks = { audio: null, camera: null, screen: null };
  #media: DirectMedia | undefined;
  #pending: RTCIceCandidateInit[] = [];
  #chain: Promise<void> = Promise.resolve();
  #reported: 'connected' | 'failed' | undefined;
  #connectedSince: number | undefined;
  #failed = false;

  constructor(
    private readonly opts: DirectPeerOptions,
    outgoing: DirectTracks,
  ) {
    this.pair = opts.pair;
    this.#outgoing = outgoing;
    this.link = new PeerLink(opts.rtc, opts.config, {
      icecandidate: (c) =>
        opts.signal({ candidate: c ? { ...c.toJSON(), candidate: c.candidate } : null }),
      track: (e) => {
        e.track.addEventListener('unmute', () => opts.changed());
        opts.changed();
      },
      connectionstatechange: () => this.#onState(),
    });
    this.link.setTimer('connect', () => this.#fail(), directConnectTimeoutMs);
    if (opts.pair.initiator) {
      const pc = this.link.pc;
      this.#tx = [
        pc.addTransceiver('audio', { direction: 'sendrecv' }),
        pc.addTransceiver('video', { direction: 'sendrecv' }),
        pc.addTransceiver('video', { direction: 'sendrecv' }),
      ];
      this.#queue(async () => {
        await this.#applyTracks();
        await pc.setLocalDescription();
        opts.signal({ type: 'offer', sdp: pc.localDescription?.sdp ?? '' });
      });
    }
  }

  get closed(): boolean {
    return this.link.closed;
  }

  /** Up now (ICE and DTLS connected). */
  get connected(): boolean {
    return this.#connectedSince !== undefined && !this.#failed;
  }

  /** Up for `directSettleMs`: the bridge need not carry this side's media any more. */
  get settled(): boolean {
    return this.connected && Date.now() - (this.#connectedSince ?? 0) >= directSettleMs;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /**
   * The other member's media arrives: up, and its microphone or camera has delivered a packet
   * (a track unmutes at its first), or up long enough that it would have.
   */
  get flowing(): boolean {
    if (!this.connected) return false;
    const { audio, camera } = this.remote();
    return audio?.muted === false || camera?.muted === false || this.settled;
  }

  /** The other member's tracks, as this side's m-lines receive them. */
  remote(): Partial<DirectTracks> {
    const [audio, camera, screen] = this.#tx.map((t) => t.receiver.track);
    return { audio: audio ?? null, camera: camera ?? null, screen: screen ?? null };
  }

  /** What this side sends: swapped in place (no negotiation). */
  setOutgoing(tracks: DirectTracks): void {
    if (kinds.every((k) => this.#outgoing[k] === tracks[k])) return;
    this.#outgoing = tracks;
    if (this.#tx.length > 0) this.#queue(() => this.#applyTracks());
  }

  /** What this side shares and takes, told to the other when it changes. */
  setMedia(media: DirectMedia): void {
    if (this.#media?.screen === media.screen && this.#media.video === media.video) return;
    this.#media = media;
    this.opts.signal({ media });
  }

  /** A signal from the other member of this pair. */
  handle(data: DirectSignal): void {
    if ('media' in data) {
      this.peerMedia = data.media;
      this.opts.changed();
      return;
    }
    this.#queue(async () => {
      const pc = this.link.pc;
      if ('type' in data) {
        if (data.type === 'offer' && this.pair.initiator) return; // the initiator alone offers
        await pc.setRemoteDescription({ type: data.type, sdp: data.sdp });
        for (const c of this.#pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
        if (data.type === 'offer') {
          this.#tx = pc.getTransceivers().slice(0, 3);
          for (const tx of this.#tx) tx.direction = 'sendrecv';
          await this.#applyTracks();
          await pc.setLocalDescription();
          this.opts.signal({ type: 'answer', sdp: pc.localDescription?.sdp ?? '' });
        }
        await this.#capBitrates();
        this.opts.changed();
      } else if (data.candidate) {
        if (pc.remoteDescription) await pc.addIceCandidate(data.candidate).catch(() => {});
        else this.#pending.push(data.candidate);
      }
    });
  }

  close(): void {
    this.link.close();
  }

  #queue(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(() => (this.closed ? undefined : work())).catch(() => {});
  }

  async #applyTracks(): Promise<void> {
    for (const [i, kind] of kinds.entries()) {
      const sender = this.#tx[i]?.sender;
      const track = this.#outgoing[kind];
      if (sender && sender.track !== track) await sender.replaceTrack(track).catch(() => {});
    }
  }

  /** The camera under `video_max_bitrate`, the screen under `screenshare_max_bitrate`. */
  async #capBitrates(): Promise<void> {
    const caps = [undefined, this.opts.videoMaxBitrate(), this.opts.screenMaxBitrate()];
    for (const [i, tx] of this.#tx.entries()) {
      const cap = caps[i];
      if (cap === undefined) continue;
      const params = tx.sender.getParameters();
      if (!params.encodings?.length || params.encodings.every((e) => e.maxBitrate === cap))
        continue;
      for (const e of params.encodings) e.maxBitrate = cap;
      await tx.sender.setParameters(params).catch(() => {});
    }
  }

  #onState(): void {
    const state = this.link.pc.connectionState;
    if (state === 'connected') {
      this.link.clearTimer('connect');
      this.#connectedSince ??= Date.now();
      if (!this.#reported) {
        this.#reported = 'connected';
        this.opts.report('connected');
      }
      // The moment it settles, the controller stops sending to the bridge.
      this.link.setTimer('settled', () => this.opts.changed(), directSettleMs);
    } else if (state === 'failed') {
      return this.#fail();
    } else {
      this.#connectedSince = undefined;
      this.link.clearTimer('settled');
    }
    this.opts.changed();
  }

  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#connectedSince = undefined;
    if (this.#reported !== 'failed') {
      this.#reported = 'failed';
      this.opts.report('failed');
    }
    this.opts.changed();
  }
}
