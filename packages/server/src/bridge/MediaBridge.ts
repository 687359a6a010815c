import { randomInt } from 'node:crypto';
import {
  defaultMaxMlines,
  type ForwardedStream,
  maxSdpLength,
  type StreamSource,
  upstreamMids,
} from '@confab/protocol';
import ndc from 'node-datachannel';
import type { Logger } from '../logging/index.js';
import { KeyframeGate } from './KeyframeGate.js';
import { LossTracker } from './LossTracker.js';
import { PacketCache } from './PacketCache.js';
import { ReceiveStats } from './ReceiveStats.js';
import { RtpRewriter } from './RtpRewriter.js';
import {
  audioLevel,
  audioLevelExtensionId,
  isRtcp,
  isRtp,
  isVp8Keyframe,
  nackPacket,
  parseFeedback,
  parseSenderReports,
  pictureLossIndication,
  rembPacket,
  senderReport,
} from './rtp.js';
import { SpeakerDetector } from './SpeakerDetector.js';

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
  /**
   * The bridge's own ICE candidates for an endpoint, told once its first answer is set (offers
   * carry none: see `takeCandidates`). `candidate` is `candidate:…`, `mid` the bundle's.
   */
  onCandidate(conference: string, endpoint: string, candidate: string, mid: string): void;
  /** The conference's dominant speaker changed. */
  onSpeaker?(conference: string, endpoint: string): void;
  /**
   * The endpoint's session holds as many m-lines as it may, some of them freed (they are never
   * reused): it needs a new session (a new endpoint) to take more streams.
   */
  onFull?(conference: string, endpoint: string): void;
}

export interface BridgeLoad {
  conferences: number;
  endpoints: number;
  forwardedPackets: number;
  forwardedBytes: number;
  retransmittedPackets: number;
}

/** Packets kept per published video stream to answer NACKs (about 1.5 s at 1.7 Mbit/s). */
export const nackCacheSize = 256;
/** A receiver's bandwidth estimate (REMB) counts this long after it came. */
const rembFreshMs = 5000;
/** No publisher is asked to go below this, whatever a receiver estimates. */
const rembFloor = 150_000;
const speakerTickMs = 300;
/** An endpoint whose session is full asks the focus for a new one again after this long. */
const renewRetryMs = 20_000;
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
  /**
   * Forwarded: a camera or microphone from its first packet (so that nobody gets an m-line for
   * one that sends nothing, such as a receive-only participant's); a screen from the client's
   * `screenshare` start to its stop, never by its packets (some still arrive after the stop).
   */
  active = false;
  /** The owner muted this participant: its audio is not forwarded. */
  muted = false;
  /** Recent video packets, for receivers' NACKs. */
  readonly cache: PacketCache | undefined;
  /** Video packets lost on the way from the publisher, asked for again. */
  readonly loss: LossTracker | undefined;
  /** What arrived, for the receiver reports the bridge sends the publisher. */
  readonly stats: ReceiveStats;
  /** The SSRC the bridge's own RTCP to this publisher comes from. */
  readonly localSsrc = randomInt(1, 0xffffffff);

  constructor(
    readonly endpoint: Endpoint,
    readonly source: StreamSource,
    readonly track: Track,
  ) {
    this.cache = source === 'microphone' ? undefined : new PacketCache(nackCacheSize);
    this.loss = source === 'microphone' ? undefined : new LossTracker();
    this.stats = new ReceiveStats(source === 'microphone' ? 48_000 : 90_000);
    this.keyframes = new KeyframeGate(() => {
      if (track.isOpen() && this.stats.ssrc)
        safely(() =>
          track.sendMessageBinary(pictureLossIndication(this.localSsrc, this.stats.ssrc)),
        );
    });
  }

  get kind(): 'audio' | 'video' {
    return kindOf(this.source);
  }
}

/** One m-line a receiver gets forwarded media on, reused for another source when freed. */
class Slot {
  track: Track | undefined;
  /** The endpoint's `described` count when this m-line last changed: it is negotiated once an
   * answer to an offer made after that is set. */
  version = 0;
  source: Source | undefined;
  rewriter: RtpRewriter;
  /** A video slot forwards from a keyframe on: delta frames before it cannot be decoded. */
  awaitingKeyframe = false;
  /** Sent on this slot, for its sender reports. */
  packets = 0;
  octets = 0;
  /** The receiver's last bandwidth estimate (REMB) for this stream, and when it came. */
  remb = 0;
  rembAt = 0;

  constructor(
    readonly endpoint: Endpoint,
    readonly mid: string,
    readonly kind: 'audio' | 'video',
  ) {
    const pt = kind === 'audio' ? payloadTypes.opus : payloadTypes.vp8;
    this.rewriter = new RtpRewriter(randomInt(1, 0xffffffff), kind, pt);
  }

  /**
   * Whether packets can go out on this m-line: negotiated, on a connected peer connection. Kept
   * in JavaScript rather than asked of the track (a native call per packet) or learnt from its
   * open/closed events (each event callback is a libuv handle that every wake-up of the event
   * loop scans, which costs more than the packets themselves in a large conference).
   */
  get open(): boolean {
    return this.endpoint.connected && this.version <= this.endpoint.answered;
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
  /** The bridge's candidates and the bundle mid, held back until the first answer is set. */
  held: { candidates: string[]; mid: string } | undefined;
  candidatesSent = false;
  /** The peer connection is connected (DTLS-SRTP up). */
  connected = false;
  /** When it last told the focus it needs a new session (`onFull`); warned at its limit. */
  renewAskedAt = 0;
  warnedFull = false;
  /** How many times an m-line changed; how many of those the last offer and answer covered. */
  described = 0;
  offered = 0;
  answered = 0;

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
  readonly speakers = new SpeakerDetector();
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
  readonly #speakers: NodeJS.Timeout;
  #bitrates = { video: 1_000_000, screen: 2_500_000 };
  #maxMlines = defaultMaxMlines;
  forwardedPackets = 0;
  forwardedBytes = 0;
  retransmittedPackets = 0;

  constructor(private readonly opts: MediaBridgeOptions) {
    this.#log = opts.logger.child({ module: 'bridge' });
    this.#remb = setInterval(() => this.#sendReports(), 1000);
    this.#remb.unref();
    this.#speakers = setInterval(() => this.#tickSpeakers(), speakerTickMs);
    this.#speakers.unref();
  }

  setBitrates(video: number, screen: number): void {
    // A little above the clients' own caps, so the caps decide and the estimate never does.
    this.#bitrates = { video: Math.round(video * 1.2), screen: Math.round(screen * 1.2) };
  }

  /**
   * The most m-lines one endpoint's session may hold, its own three included: the focus sets it
   * so that a client's answer fits a signaling frame (each m-line costs about 430 bytes there).
   */
  setMaxMlines(max: number): void {
    this.#maxMlines = max;
  }

  load(): BridgeLoad {
    let endpoints = 0;
    for (const c of this.#conferences.values()) endpoints += c.endpoints.size;
    return {
      conferences: this.#conferences.size,
      endpoints,
      forwardedPackets: this.forwardedPackets,
      forwardedBytes: this.forwardedBytes,
      retransmittedPackets: this.retransmittedPackets,
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
      if (media instanceof ndc.Audio) {
        media.addOpusCodec(payloadTypes.opus);
        media.parseSdpLine(
          `a=extmap:${audioLevelExtensionId} urn:ietf:params:rtp-hdrext:ssrc-audio-level`,
        );
      } else (media as ndc.Video).addVP8Codec(payloadTypes.vp8);
      const track = ep.pc.addTrack(media);
      // No native RTCP session: it would swallow the publisher's sender reports, which the
      // receivers need; the bridge writes its own receiver reports, PLI and REMB.
      const src = new Source(ep, source, track);
      track.onMessage((packet) => this.#publish(src, packet));
      ep.sources.set(source, src);
    }

    // The others get this endpoint's streams when they start (`#publish`).
    for (const other of conf.endpoints.values()) {
      if (other === ep) continue;
      for (const src of other.sources.values()) if (src.active) this.#attach(ep, src);
    }
    this.#negotiate(ep);
    this.#log.debug({ conference: conferenceId, endpoint: endpointId, user }, 'endpoint allocated');
  }

  answer(conferenceId: string, endpointId: string, sdp: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (!ep) return false;
    if (!ep.negotiating) return true;
    // The answer's candidates go in only once it is set: nothing may start ICE before then.
    const answer = takeCandidates(sdp);
    const ok = safely(() => ep.pc.setRemoteDescription(answer.sdp, 'answer'));
    ep.negotiating = false;
    if (!ok) {
      this.#log.warn({ conference: conferenceId, endpoint: endpointId }, 'answer refused');
      this.#negotiate(ep);
      return true;
    }
    ep.remoteSet = true;
    ep.answered = ep.offered;
    for (const [c, mid] of [...answer.candidates, ...ep.pendingCandidates.splice(0)])
      safely(() => ep.pc.addRemoteCandidate(c, mid));
    if (!ep.candidatesSent && ep.held) {
      ep.candidatesSent = true;
      for (const c of ep.held.candidates)
        this.opts.onCandidate(conferenceId, endpointId, c, ep.held.mid);
    }
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

  /** The owner muted (or the participant unmuted) an endpoint's microphone. */
  mute(conferenceId: string, endpointId: string, muted: boolean): boolean {
    const src = this.#endpoint(conferenceId, endpointId)?.sources.get('microphone');
    if (!src) return false;
    src.muted = muted;
    if (muted) src.endpoint.conference.speakers.remove(endpointId);
    return true;
  }

  release(conferenceId: string, endpointId: string): void {
    const conf = this.#conferences.get(conferenceId);
    const ep = conf?.endpoints.get(endpointId);
    if (!conf || !ep) return;
    this.#close(ep);
    conf.endpoints.delete(endpointId);
    conf.speakers.remove(endpointId);
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
    clearInterval(this.#speakers);
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
      const connected = state === 'connected';
      if (connected && !ep.connected) for (const slot of ep.slots) slot.source?.keyframes.request();
      ep.connected = connected;
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
    const local = ep.pc.localDescription()?.sdp;
    if (!local) return;
    const { sdp, candidates, mid } = takeCandidates(local);
    if (sdp.length > maxSdpLength) {
      // Long user ids can make even a session within its m-line limit too large to send. Not
      // sent: the next change may negotiate again.
      ep.negotiating = false;
      this.#full(ep, 'offer too large');
      return;
    }
    if (!ep.held) {
      // Bundled: the candidates of the first m-section serve all of them.
      const own = candidates.length
        ? candidates.map(([c]) => c)
        : ep.localCandidates.map((c) => c.replace(/^a=/, ''));
      const { publicAddress } = this.opts;
      ep.held = {
        candidates: publicAddress ? own.map((c) => announce(c, publicAddress)) : own,
        mid,
      };
    }
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
    const described = ep.described;
    if (safely(() => ep.pc.setLocalDescription('offer'))) ep.offered = described;
    else {
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
    if (receiver.slots.length + receiver.sources.size >= this.#maxMlines) {
      this.#full(receiver, 'm-line limit');
      return;
    }
    const slot = new Slot(receiver, receiver.newMid(), src.kind);
    receiver.slots.push(slot);
    slot.source = src;
    slot.awaitingKeyframe = src.kind === 'video';
    slot.rewriter.reset();
    this.#describe(slot);
    src.sinks.add(slot);
  }

  /**
   * An endpoint's session cannot take more: with freed m-lines in it, the focus is asked for a
   * new session (which has none), again every `renewRetryMs` until it has one; with all of them
   * in use, the stream is not forwarded to it.
   */
  #full(ep: Endpoint, why: string): void {
    const ids = { conference: ep.conference.id, endpoint: ep.id, mlines: ep.slots.length, why };
    if (ep.slots.some((slot) => !slot.source)) {
      // Asked again after a while: the focus may have refused (its restart limit).
      const now = Date.now();
      if (now - ep.renewAskedAt < renewRetryMs) return;
      ep.renewAskedAt = now;
      this.#log.info(ids, 'endpoint session full: asking for a new one');
      this.opts.onFull?.(ep.conference.id, ep.id);
    } else if (!ep.warnedFull) {
      ep.warnedFull = true;
      this.#log.warn(ids, 'endpoint at its m-line limit: further streams not forwarded to it');
    }
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
    slot.version = ++ep.described;
    track?.onMessage((packet) => this.#feedback(slot, packet));
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
    if (src.endpoint.closed) return;
    if (!isRtp(packet)) {
      if (isRtcp(packet)) this.#senderReports(src, packet);
      return;
    }
    if (!src.active) {
      // A camera's or microphone's first packet: the others get an m-line for it, and a
      // keyframe is asked for once they answered.
      if (src.source !== 'screen') this.#setActive(src, true);
      return;
    }
    const now = performance.now();
    src.stats.packet(packet, now);
    if (src.cache) {
      src.cache.put(packet);
      // Lost on the way here: the publisher is asked to send it again (its retransmission is
      // forwarded like any packet, filling the receivers' gap).
      const lost = src.loss?.packet(packet.readUInt32BE(8), packet.readUInt16BE(2), now);
      if (lost?.length) {
        const nack = nackPacket(src.localSsrc, src.stats.ssrc, lost);
        safely(() => src.track.sendMessageBinary(nack));
      }
    } else {
      if (src.muted) return;
      const level = audioLevel(packet);
      if (level >= 0) src.endpoint.conference.speakers.level(src.endpoint.id, level);
    }
    // One copy serves every receiver in turn: sending copies it into the native side at once.
    let out: Buffer | undefined;
    for (const slot of src.sinks) {
      const track = slot.track;
      if (!track || !slot.open) continue;
      if (slot.awaitingKeyframe) {
        if (!isVp8Keyframe(packet)) continue;
        slot.awaitingKeyframe = false;
      }
      out = slot.rewriter.rewrite(packet, out);
      try {
        track.sendMessageBinary(out);
      } catch {
        continue; // closed meanwhile (the native side throws)
      }
      slot.packets++;
      slot.octets += out.length - 12;
      this.forwardedPackets++;
      this.forwardedBytes += out.length;
    }
  }

  /**
   * A publisher's sender report, passed on to each receiver in its slot's terms (SSRC and
   * timestamp as rewritten), so that receivers keep its audio and video in sync.
   */
  #senderReports(src: Source, packet: Buffer): void {
    const reports = parseSenderReports(packet);
    if (reports.length === 0) return;
    for (const sr of reports)
      if (sr.ssrc === src.stats.ssrc)
        src.stats.senderReport(sr.ntpHigh, sr.ntpLow, performance.now());
    for (const slot of src.sinks) {
      const track = slot.track;
      if (!track || !slot.open) continue;
      for (const sr of reports) {
        const ts = slot.rewriter.timestamp(sr.ssrc, sr.rtpTimestamp);
        if (ts === undefined) continue;
        const out = senderReport(
          slot.rewriter.ssrc,
          sr.ntpHigh,
          sr.ntpLow,
          ts,
          slot.packets,
          slot.octets,
        );
        safely(() => track.sendMessageBinary(out));
      }
    }
  }

  /** RTCP a receiver sent about a forwarded stream: keyframe requests go to its publisher. */
  #feedback(slot: Slot, packet: Buffer): void {
    const src = slot.source;
    if (!isRtcp(packet) || !src) return;
    for (const fb of parseFeedback(packet)) {
      if (fb.kind === 'remb') {
        slot.remb = fb.bitrate;
        slot.rembAt = Date.now();
      } else if (fb.mediaSsrc !== slot.rewriter.ssrc) continue;
      else if (fb.kind === 'pli' || fb.kind === 'fir') src.keyframes.request();
      else if (fb.kind === 'nack') this.#retransmit(slot, src, fb.lost);
    }
  }

  /** Answers a receiver's NACK from the publisher's packet cache, as the slot sent them. */
  #retransmit(slot: Slot, src: Source, lost: number[]): void {
    const from = slot.rewriter.source;
    const track = slot.track;
    if (!src.cache || from === undefined || !track || !slot.open) return;
    for (const seq of lost.slice(0, 64)) {
      const packet = src.cache.get(from, slot.rewriter.sourceSeq(seq));
      if (!packet) continue;
      const out = slot.rewriter.rewrite(packet);
      if (!safely(() => track.sendMessageBinary(out))) return;
      this.retransmittedPackets++;
    }
  }

  #tickSpeakers(): void {
    for (const conf of this.#conferences.values()) {
      const speaker = conf.speakers.tick();
      if (speaker) this.opts.onSpeaker?.(conf.id, speaker);
    }
  }

  /** Every second, each publisher's streams get a receiver report, and video a REMB. */
  #sendReports(): void {
    const now = performance.now();
    for (const conf of this.#conferences.values()) {
      for (const ep of conf.endpoints.values()) {
        for (const src of ep.sources.values()) {
          const rr = src.stats.report(src.localSsrc, now);
          if (!rr || !src.track.isOpen()) continue;
          let packet = rr;
          if (src.kind === 'video') {
            const cap = src.source === 'screen' ? this.#bitrates.screen : this.#bitrates.video;
            packet = Buffer.concat([
              rr,
              rembPacket(src.localSsrc, this.#rate(src, cap), src.stats.ssrc),
            ]);
          }
          safely(() => src.track.sendMessageBinary(packet));
        }
      }
    }
  }

  /** What a publisher may send: the cap, or less if a receiver's estimate says it takes less. */
  #rate(src: Source, cap: number): number {
    const now = Date.now();
    let rate = cap;
    for (const slot of src.sinks)
      if (slot.remb > 0 && now - slot.rembAt < rembFreshMs) rate = Math.min(rate, slot.remb);
    return Math.max(rate, Math.min(cap, rembFloor));
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
    /^((?:a=)?candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/gm,
    (_m, head: string, _addr: string, tail: string) => `${head}${address}${tail}`,
  );
}

/**
 * Takes the candidate lines out of an SDP: the SDP without them (nor `a=end-of-candidates`), each
 * candidate (`candidate:…`) with its m-section's mid, and the first mid (the bundle's).
 *
 * The bridge sends offers without its candidates and answers go in without theirs, because
 * libdatachannel 0.24 starts DTLS as soon as ICE connects, even while the answer is still being
 * set; a DTLS client that got there first (its checks answered before the answer arrived) then
 * has its certificate refused ("unknown CA") and the connection is lost. Trickled afterwards,
 * no check can succeed before the answer's fingerprint is in place.
 */
export function takeCandidates(sdp: string): {
  sdp: string;
  candidates: [string, string][];
  mid: string;
} {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const sections = sdp.split(/\r?\n(?=m=)/);
  const candidates: [string, string][] = [];
  let first: string | undefined;
  const kept = sections.map((section, i) => {
    const lines = section.split(/\r?\n/);
    const mid =
      i === 0
        ? ''
        : (lines
            .find((l) => l.startsWith('a=mid:'))
            ?.slice(6)
            .trim() ?? '');
    if (i > 0 && first === undefined) first = mid;
    return lines
      .filter((l) => {
        if (l.startsWith('a=candidate:')) {
          candidates.push([l.slice(2).trim(), mid]);
          return false;
        }
        return !l.startsWith('a=end-of-candidates');
      })
      .join(eol);
  });
  return { sdp: kept.join(eol), candidates, mid: first ?? '' };
}
