import { randomInt } from 'node:crypto';
import { type ForwardedStream, type StreamSource, upstreamMids } from '@confab/protocol';
import ndc from 'node-datachannel';
import type { Logger } from '../logging/index.js';
import { KeyframeGate } from './KeyframeGate.js';
import { isRtcp, isRtp, isVp8Keyframe, parseFeedback, RtpRewriter } from './rtp.js';

type PeerConnection = ndc.PeerConnection;
type Track = ndc.Track;

/** The payload types the bridge offers; publishers send with them, receivers get them. */
export const payloadTypes = { opus: 111, vp8: 96 } as const;

export type EndpointState = 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface MediaBridgeOptions {
  /** The address ICE binds and gathers on (`bridge.ice_address`). */
  iceAddress: string;
  /** The one UDP port all peer connections share (ICE UDP mux). */
  port: number;
  /** Announced in candidates instead of `iceAddress` (`bridge.public_address`). */
  publicAddress?: string | undefined;
  logger: Logger;
  /** A (re)negotiation offer for an endpoint, to hand to its client. */
  onOffer(
    conference: string,
    endpoint: string,
    sdp: string,
    streams: Record<string, ForwardedStream>,
  ): void;
  onState(conference: string, endpoint: string, state: EndpointState): void;
}

export interface BridgeLoad {
  conferences: number;
  endpoints: number;
  forwardedPackets: number;
  forwardedBytes: number;
}

const kindOf = (s: StreamSource): 'audio' | 'video' => (s === 'microphone' ? 'audio' : 'video');

/** Calls into the native library, which throws when a track or connection closed meanwhile. */
function safely(what: () => unknown): boolean {
  try {
    what();
    return true;
  } catch {
    return false;
  }
}

/** A stream one participant sends up: its packets go to every slot that forwards it. */
class Source {
  readonly sinks = new Set<Slot>();
  readonly keyframes: KeyframeGate;
  /** A shared screen is forwarded from its first packet until the client says it stopped. */
  active: boolean;

  constructor(
    readonly endpoint: Endpoint,
    readonly source: StreamSource,
    readonly track: Track,
  ) {
    this.active = source !== 'screen';
    this.keyframes = new KeyframeGate(() => {
      if (track.isOpen()) safely(() => track.requestKeyframe());
    });
  }

  get kind(): 'audio' | 'video' {
    return kindOf(this.source);
  }
}

/** One m-line a receiver gets forwarded media on, reused for another source when freed. */
class Slot {
  track: Track | undefined;
  source: Source | undefined;
  rewriter: RtpRewriter;
  /** A video slot forwards from a keyframe on: delta frames before it cannot be decoded. */
  awaitingKeyframe = false;

  constructor(
    readonly endpoint: Endpoint,
    readonly mid: string,
    readonly kind: 'audio' | 'video',
  ) {
    const pt = kind === 'audio' ? payloadTypes.opus : payloadTypes.vp8;
    this.rewriter = new RtpRewriter(randomInt(1, 0xffffffff), kind, pt);
  }

  /** The m-line as it should stand in the next offer. */
  describe(): ndc.Audio | ndc.Video {
    const source = this.source;
    const dir = source ? 'SendOnly' : 'Inactive';
    const media =
      this.kind === 'audio' ? new ndc.Audio(this.mid, dir) : new ndc.Video(this.mid, dir);
    if (media instanceof ndc.Audio) media.addOpusCodec(payloadTypes.opus);
    else (media as ndc.Video).addVP8Codec(payloadTypes.vp8);
    if (source) {
      media.addSSRC(
        this.rewriter.ssrc,
        `confab-${source.endpoint.user}`,
        source.endpoint.user,
        `${source.source}-${source.endpoint.id}`,
      );
    }
    return media;
  }
}

/** One participant's bundled peer connection: its own streams up, everyone else's down. */
class Endpoint {
  readonly pc: PeerConnection;
  readonly sources = new Map<StreamSource, Source>();
  readonly slots: Slot[] = [];
  #nextMid = 0;
  negotiating = false;
  pending = false;
  closed = false;
  remoteSet = false;
  readonly pendingCandidates: [string, string][] = [];
  readonly localCandidates: string[] = [];

  constructor(
    readonly conference: Conference,
    readonly id: string,
    readonly user: string,
    config: ndc.RtcConfig,
  ) {
    this.pc = new ndc.PeerConnection(`${conference.id}/${id}`, config);
  }

  newMid(): string {
    return `f${this.#nextMid++}`;
  }
}

class Conference {
  readonly endpoints = new Map<string, Endpoint>();
  constructor(readonly id: string) {}
}

/**
 * The bridge's media: a selective forwarding unit on node-datachannel (libdatachannel does
 * ICE, DTLS and SRTP in native threads; this class only routes packets). Each participant has
 * one endpoint; the bridge offers it recvonly m-lines for its microphone, camera and screen
 * (mids `a`, `v`, `s`) and a sendonly m-line per stream of every other participant, rewriting
 * SSRC, payload type, sequence and timestamp per receiver. Receivers' PLI/FIR reach the
 * publisher rate-limited; every publisher gets a REMB at the configured rate.
 */
export class MediaBridge {
  readonly #conferences = new Map<string, Conference>();
  readonly #log: Logger;
  readonly #remb: NodeJS.Timeout;
  #bitrates = { video: 1_000_000, screen: 2_500_000 };
  forwardedPackets = 0;
  forwardedBytes = 0;

  constructor(private readonly opts: MediaBridgeOptions) {
    this.#log = opts.logger.child({ module: 'bridge' });
    this.#remb = setInterval(() => this.#sendRemb(), 1000);
    this.#remb.unref();
  }

  setBitrates(video: number, screen: number): void {
    // A little above the clients' own caps, so the caps decide and the estimate never does.
    this.#bitrates = { video: Math.round(video * 1.2), screen: Math.round(screen * 1.2) };
  }

  load(): BridgeLoad {
    let endpoints = 0;
    for (const c of this.#conferences.values()) endpoints += c.endpoints.size;
    return {
      conferences: this.#conferences.size,
      endpoints,
      forwardedPackets: this.forwardedPackets,
      forwardedBytes: this.forwardedBytes,
    };
  }

  conferenceIds(): string[] {
    return [...this.#conferences.keys()];
  }

  /** A new participant: its endpoint gets an offer with everyone else's streams. */
  allocate(conferenceId: string, endpointId: string, user: string): void {
    let conf = this.#conferences.get(conferenceId);
    if (!conf) {
      conf = new Conference(conferenceId);
      this.#conferences.set(conferenceId, conf);
    }
    if (conf.endpoints.has(endpointId)) return;
    const ep = new Endpoint(conf, endpointId, user, {
      iceServers: [],
      bindAddress: this.opts.iceAddress,
      enableIceUdpMux: true,
      portRangeBegin: this.opts.port,
      portRangeEnd: this.opts.port,
      disableAutoNegotiation: true,
    });
    conf.endpoints.set(endpointId, ep);
    this.#wire(ep);

    for (const [source, mid] of [
      ['microphone', upstreamMids.audio],
      ['camera', upstreamMids.camera],
      ['screen', upstreamMids.screen],
    ] as const) {
      const media =
        source === 'microphone' ? new ndc.Audio(mid, 'RecvOnly') : new ndc.Video(mid, 'RecvOnly');
      if (media instanceof ndc.Audio) media.addOpusCodec(payloadTypes.opus);
      else (media as ndc.Video).addVP8Codec(payloadTypes.vp8);
      const track = ep.pc.addTrack(media);
      const src = new Source(ep, source, track);
      track.setMediaHandler(new ndc.RtcpReceivingSession());
      track.onMessage((packet) => this.#publish(src, packet));
      ep.sources.set(source, src);
    }

    for (const other of conf.endpoints.values()) {
      if (other === ep) continue;
      for (const src of other.sources.values()) if (src.active) this.#attach(ep, src);
      for (const src of ep.sources.values()) if (src.active) this.#attach(other, src);
      this.#negotiate(other);
    }
    this.#negotiate(ep);
    this.#log.debug({ conference: conferenceId, endpoint: endpointId, user }, 'endpoint allocated');
  }

  answer(conferenceId: string, endpointId: string, sdp: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (!ep) return false;
    if (!ep.negotiating) return true;
    const ok = safely(() => ep.pc.setRemoteDescription(sdp, 'answer'));
    ep.negotiating = false;
    if (!ok) {
      this.#log.warn({ conference: conferenceId, endpoint: endpointId }, 'answer refused');
      this.#negotiate(ep);
      return true;
    }
    ep.remoteSet = true;
    for (const [c, mid] of ep.pendingCandidates.splice(0))
      safely(() => ep.pc.addRemoteCandidate(c, mid));
    for (const slot of ep.slots) if (slot.source) slot.source.keyframes.request();
    if (ep.pending) this.#negotiate(ep);
    return true;
  }

  candidate(conferenceId: string, endpointId: string, candidate: string, mid: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (!ep) return false;
    if (!candidate) return true; // end of candidates
    if (ep.remoteSet) safely(() => ep.pc.addRemoteCandidate(candidate, mid));
    else if (ep.pendingCandidates.length < 64) ep.pendingCandidates.push([candidate, mid]);
    return true;
  }

  /** The client asks for a fresh offer (after an error, or to restart). */
  renegotiate(conferenceId: string, endpointId: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (!ep) return false;
    this.#negotiate(ep);
    return true;
  }

  /** A participant stopped (or started) sharing its screen. */
  screenshare(conferenceId: string, endpointId: string, active: boolean): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (!ep) return false;
    const src = ep.sources.get('screen');
    if (src) this.#setActive(src, active);
    // The sharer's next answer names its screen's SSRC, by which its packets reach the track.
    if (active) this.#negotiate(ep);
    return true;
  }

  release(conferenceId: string, endpointId: string): void {
    const conf = this.#conferences.get(conferenceId);
    const ep = conf?.endpoints.get(endpointId);
    if (!conf || !ep) return;
    this.#close(ep);
    conf.endpoints.delete(endpointId);
    if (conf.endpoints.size === 0) this.#conferences.delete(conferenceId);
    this.#log.debug({ conference: conferenceId, endpoint: endpointId }, 'endpoint released');
  }

  expire(conferenceId: string): void {
    const conf = this.#conferences.get(conferenceId);
    if (!conf) return;
    for (const id of [...conf.endpoints.keys()]) this.release(conferenceId, id);
  }

  close(): void {
    clearInterval(this.#remb);
    for (const id of [...this.#conferences.keys()]) this.expire(id);
  }

  #endpoint(conferenceId: string, endpointId: string): Endpoint | undefined {
    return this.#conferences.get(conferenceId)?.endpoints.get(endpointId);
  }

  #wire(ep: Endpoint): void {
    const { pc } = ep;
    const report = (state: EndpointState) =>
      !ep.closed && this.opts.onState(ep.conference.id, ep.id, state);
    pc.onStateChange((state) => {
      if (
        state === 'connecting' ||
        state === 'connected' ||
        state === 'disconnected' ||
        state === 'failed' ||
        state === 'closed'
      )
        report(state);
    });
    pc.onLocalCandidate((candidate) => {
      if (ep.localCandidates.length < 16) ep.localCandidates.push(candidate);
    });
    pc.onLocalDescription((_sdp, type) => {
      if (type !== 'offer' || ep.closed) return;
      if (pc.gatheringState() === 'complete') this.#emitOffer(ep);
      else
        pc.onGatheringStateChange((s) => {
          if (s === 'complete') this.#emitOffer(ep);
        });
    });
  }

  #emitOffer(ep: Endpoint): void {
    if (ep.closed) return;
    let sdp = ep.pc.localDescription()?.sdp;
    if (!sdp) return;
    if (!/^a=candidate:/m.test(sdp) && ep.localCandidates.length > 0) {
      // Bundled: the candidates of the first m-section serve all of them.
      const lines = ep.localCandidates
        .map((c) => `${c.startsWith('a=') ? c : `a=${c}`}\r\n`)
        .join('');
      sdp = sdp.replace(/(\r?\nm=[^\r\n]*\r?\n)/, `$1${lines}`);
    }
    if (this.opts.publicAddress) sdp = announce(sdp, this.opts.publicAddress);
    const streams: Record<string, ForwardedStream> = {};
    for (const slot of ep.slots) {
      if (slot.source)
        streams[slot.mid] = { user: slot.source.endpoint.user, source: slot.source.source };
    }
    this.opts.onOffer(ep.conference.id, ep.id, sdp, streams);
  }

  #negotiate(ep: Endpoint): void {
    if (ep.closed) return;
    if (ep.negotiating) {
      ep.pending = true;
      return;
    }
    ep.pending = false;
    ep.negotiating = true;
    if (!safely(() => ep.pc.setLocalDescription('offer'))) {
      ep.negotiating = false;
      this.#log.warn({ endpoint: ep.id }, 'could not create an offer');
    }
  }

  /**
   * Gives `receiver` a new m-line that forwards `src`. Freed m-lines stay inactive and are not
   * reused: Chromium decodes but never renders a receiver track whose m-line went inactive and
   * came back with another SSRC.
   */
  #attach(receiver: Endpoint, src: Source): void {
    for (const s of src.sinks) if (s.endpoint === receiver) return;
    const slot = new Slot(receiver, receiver.newMid(), src.kind);
    receiver.slots.push(slot);
    slot.source = src;
    slot.awaitingKeyframe = src.kind === 'video';
    slot.rewriter.reset();
    this.#describe(slot);
    src.sinks.add(slot);
  }

  #detach(slot: Slot): void {
    if (!slot.source) return;
    slot.source.sinks.delete(slot);
    slot.source = undefined;
    this.#describe(slot);
  }

  /** Puts the slot's m-line into the peer connection (libdatachannel replaces it by mid). */
  #describe(slot: Slot): void {
    const ep = slot.endpoint;
    let track: Track | undefined;
    if (!safely(() => (track = ep.pc.addTrack(slot.describe())))) return;
    slot.track = track;
    track?.onMessage((packet) => this.#feedback(slot, packet));
    if (slot.source) {
      const src = slot.source;
      track?.onOpen(() => src.keyframes.request());
    }
  }

  #setActive(src: Source, active: boolean): void {
    if (src.active === active) return;
    src.active = active;
    for (const other of src.endpoint.conference.endpoints.values()) {
      if (other === src.endpoint || other.closed) continue;
      if (active) this.#attach(other, src);
      else for (const slot of [...src.sinks]) if (slot.endpoint === other) this.#detach(slot);
      this.#negotiate(other);
    }
  }

  /** A packet a participant sent: forwarded, rewritten, to every receiver of that stream. */
  #publish(src: Source, packet: Buffer): void {
    if (!isRtp(packet) || src.endpoint.closed) return;
    if (!src.active) {
      // A screen's first packet: the client started sharing.
      this.#setActive(src, true);
      return;
    }
    for (const slot of src.sinks) {
      const track = slot.track;
      if (!track || !track.isOpen()) continue;
      if (slot.awaitingKeyframe) {
        if (!isVp8Keyframe(packet)) continue;
        slot.awaitingKeyframe = false;
      }
      const out = slot.rewriter.rewrite(packet);
      try {
        track.sendMessageBinary(out);
      } catch {
        continue; // closed meanwhile (the native side throws)
      }
      this.forwardedPackets++;
      this.forwardedBytes += out.length;
    }
  }

  /** RTCP a receiver sent about a forwarded stream: keyframe requests go to its publisher. */
  #feedback(slot: Slot, packet: Buffer): void {
    if (!isRtcp(packet) || !slot.source) return;
    for (const fb of parseFeedback(packet)) {
      if ((fb.kind === 'pli' || fb.kind === 'fir') && fb.mediaSsrc === slot.rewriter.ssrc)
        slot.source.keyframes.request();
    }
  }

  #sendRemb(): void {
    for (const conf of this.#conferences.values()) {
      for (const ep of conf.endpoints.values()) {
        for (const src of ep.sources.values()) {
          if (src.kind !== 'video' || !src.track.isOpen()) continue;
          const rate = src.source === 'screen' ? this.#bitrates.screen : this.#bitrates.video;
          safely(() => src.track.requestBitrate(rate));
        }
      }
    }
  }

  #close(ep: Endpoint): void {
    if (ep.closed) return;
    ep.closed = true;
    const affected = new Set<Endpoint>();
    for (const src of ep.sources.values()) {
      src.keyframes.close();
      for (const slot of [...src.sinks]) {
        this.#detach(slot);
        affected.add(slot.endpoint);
      }
    }
    for (const slot of ep.slots) slot.source?.sinks.delete(slot);
    safely(() => ep.pc.close());
    for (const other of affected) this.#negotiate(other);
  }
}

/** Rewrites host candidates to announce the public address (1:1 NAT in front of the bridge). */
export function announce(sdp: string, address: string): string {
  return sdp.replace(
    /^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/gm,
    (_m, head: string, _addr: string, tail: string) => `${head}${address}${tail}`,
  );
}
