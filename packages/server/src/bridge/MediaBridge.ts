import { type BridgeMessageOf, defaultMaxMlines } from '@confab/protocol';
import type ndc from 'node-datachannel';
import type { Logger } from '../logging/index.js';
import { Conference } from './Conference.js';
import { Endpoint, type EndpointContext, type EndpointReport } from './Endpoint.js';
import { Forwarder } from './Forwarder.js';
import { SdpQueue } from './SdpQueue.js';

export interface MediaBridgeOptions {
  /** The address ICE binds and gathers on (`bridge.ice_address`). */
  iceAddress: string;
  /** The one UDP port all peer connections share (ICE UDP mux). */
  port: number;
  /** Announced in candidates instead of `iceAddress` (`bridge.public_address`). */
  publicAddress?: string | undefined;
  logger: Logger;
  /**
   * A message for the focus about one endpoint or conference: its (re)negotiation `offer`, the
   * bridge's own ICE `candidate`s (once its first answer is set; offers carry none: see
   * `takeCandidates`), `endpoint_state` changes, `endpoint_full` (its session holds as many
   * m-lines as it may, some of them freed: it needs a new one), and the conference's dominant
   * `speaker`.
   */
  onMessage(message: EndpointReport | BridgeMessageOf<'speaker'>): void;
}

export interface BridgeLoad {
  conferences: number;
  endpoints: number;
  forwardedPackets: number;
  forwardedBytes: number;
  retransmittedPackets: number;
}

const speakerTickMs = 300;
/** Every endpoint chooses its layers again this often (and at once when what it shows changes). */
const allocationTickMs = 500;
/** Session-description work per turn of the event loop, at most about this long (ms). */
const sdpBudgetMs = 5;
/** Padding for bandwidth probes goes out in steps this far apart. */
const probeTickMs = 20;

/**
 * The bridge's media: a selective forwarding unit on node-datachannel (libdatachannel does
 * ICE, DTLS and SRTP in native threads; JavaScript only routes packets). This class is the
 * registry: conferences by id, their endpoints, and the timers; it wires each endpoint to the
 * `Forwarder`, which carries the packets. Each participant has one `Endpoint`; the bridge
 * offers it recvonly m-lines for its microphone, camera and screen and a sendonly `Slot` per
 * stream of every other participant.
 */
export class MediaBridge {
  readonly #conferences = new Map<string, Conference>();
  readonly #log: Logger;
  readonly #reports: NodeJS.Timeout;
  readonly #speakers: NodeJS.Timeout;
  readonly #allocations: NodeJS.Timeout;
  readonly #probes: NodeJS.Timeout;
  readonly #forwarder: Forwarder;
  readonly #sdp: SdpQueue;
  readonly #context: EndpointContext;
  readonly #config: ndc.RtcConfig;
  #maxMlines = defaultMaxMlines;
  #lastN = -1;

  constructor(private readonly opts: MediaBridgeOptions) {
    this.#log = opts.logger.child({ module: 'bridge' });
    const forwarder = new Forwarder({
      // A held (prejoin) endpoint's packets start nothing: its user has not joined.
      onFirstPacket: (src) => {
        if (!src.endpoint.held) src.endpoint.conference.setActive(src, true);
      },
    });
    this.#forwarder = forwarder;
    this.#sdp = new SdpQueue(sdpBudgetMs, (err) =>
      this.#log.warn({ err }, 'session description work failed'),
    );
    this.#context = {
      sdp: this.#sdp,
      logger: this.#log,
      publicAddress: opts.publicAddress,
      maxMlines: () => this.#maxMlines,
      lastN: () => this.#lastN,
      report: (message) => opts.onMessage(message),
      publish: (src, packet) => forwarder.publish(src, packet),
      feedback: (slot, packet) => forwarder.feedback(slot, packet),
    };
    this.#config = {
      iceServers: [],
      bindAddress: opts.iceAddress,
      enableIceUdpMux: true,
      portRangeBegin: opts.port,
      portRangeEnd: opts.port,
      disableAutoNegotiation: true,
    };
    this.#reports = setInterval(() => forwarder.sendReports(this.#allEndpoints()), 1000);
    this.#reports.unref();
    this.#speakers = setInterval(() => this.#tickSpeakers(), speakerTickMs);
    this.#speakers.unref();
    this.#allocations = setInterval(() => {
      const now = performance.now();
      for (const ep of this.#allEndpoints()) ep.allocate(now);
      for (const ep of this.#allEndpoints()) ep.dynacast(now);
    }, allocationTickMs);
    this.#allocations.unref();
    let probedAt = performance.now();
    this.#probes = setInterval(() => {
      const now = performance.now();
      forwarder.probe(this.#allEndpoints(), now, now - probedAt);
      probedAt = now;
    }, probeTickMs);
    this.#probes.unref();
  }

  setBitrates(video: number, screen: number): void {
    this.#forwarder.setBitrates(video, screen);
  }

  /**
   * The most m-lines one endpoint's session may hold, its own four included (three sources and the media channel): the focus sets it
   * so that a client's answer fits a signaling frame (each m-line costs about 430 bytes there).
   */
  setMaxMlines(max: number): void {
    this.#maxMlines = max;
  }

  /** `last_n`: the most cameras forwarded to each receiver (-1: all), from the focus. */
  setLastN(n: number): void {
    this.#lastN = n;
  }

  load(): BridgeLoad {
    let endpoints = 0;
    for (const c of this.#conferences.values()) endpoints += c.size;
    const f = this.#forwarder;
    return {
      conferences: this.#conferences.size,
      endpoints,
      forwardedPackets: f.forwardedPackets,
      forwardedBytes: f.forwardedBytes,
      retransmittedPackets: f.retransmittedPackets,
    };
  }

  conferenceIds(): string[] {
    return [...this.#conferences.keys()];
  }

  /**
   * A new participant: its endpoint gets an offer with everyone else's streams. `held`: a
   * prejoin's, which takes and gives nothing until `admit`.
   */
  allocate(conferenceId: string, endpointId: string, user: string, held = false): void {
    let conf = this.#conferences.get(conferenceId);
    if (!conf) {
      conf = new Conference(conferenceId);
      this.#conferences.set(conferenceId, conf);
    }
    if (conf.endpoint(endpointId)) return;
    conf.add(new Endpoint(conf, endpointId, user, this.#config, this.#context, held));
    this.#log.debug(
      { conference: conferenceId, endpoint: endpointId, user, held },
      'endpoint allocated',
    );
  }

  /** A held endpoint's user joined; false for an unknown endpoint. */
  admit(conferenceId: string, endpointId: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    ep?.admit();
    return ep !== undefined;
  }

  /** The client's answer; false for an unknown endpoint. */
  /**
   * The client's answer, set in its turn (`SdpQueue`: a room's answers come together); false
   * for an unknown endpoint.
   */
  answer(conferenceId: string, endpointId: string, sdp: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (ep) this.#sdp.add(`${conferenceId}/${endpointId}/answer`, () => ep.answer(sdp));
    return ep !== undefined;
  }

  candidate(conferenceId: string, endpointId: string, candidate: string, mid: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    ep?.addCandidate(candidate, mid);
    return ep !== undefined;
  }

  /** The client asks for a fresh offer (after an error, or to restart). */
  renegotiate(conferenceId: string, endpointId: string): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    ep?.negotiate();
    return ep !== undefined;
  }

  /** A participant stopped (or started) sharing its screen. */
  screenshare(conferenceId: string, endpointId: string, active: boolean): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    if (!ep) return false;
    const src = ep.source('screen');
    if (src) ep.conference.setActive(src, active);
    // The sharer's next answer names its screen's SSRC, by which its packets reach the track.
    if (active) ep.negotiate();
    return true;
  }

  /** The owner muted (or the participant unmuted) an endpoint's microphone. */
  mute(conferenceId: string, endpointId: string, muted: boolean): boolean {
    const ep = this.#endpoint(conferenceId, endpointId);
    const src = ep?.source('microphone');
    if (!ep || !src) return false;
    ep.conference.mute(src, muted);
    return true;
  }

  release(conferenceId: string, endpointId: string): void {
    const conf = this.#conferences.get(conferenceId);
    if (!conf?.endpoint(endpointId)) return;
    conf.remove(endpointId);
    if (conf.size === 0) this.#conferences.delete(conferenceId);
    this.#log.debug({ conference: conferenceId, endpoint: endpointId }, 'endpoint released');
  }

  expire(conferenceId: string): void {
    const conf = this.#conferences.get(conferenceId);
    if (!conf) return;
    conf.close();
    this.#conferences.delete(conferenceId);
    this.#log.debug({ conference: conferenceId }, 'conference expired');
  }

  close(): void {
    this.#sdp.close();
    clearInterval(this.#reports);
    clearInterval(this.#speakers);
    clearInterval(this.#allocations);
    clearInterval(this.#probes);
    for (const id of [...this.#conferences.keys()]) this.expire(id);
  }

  #endpoint(conferenceId: string, endpointId: string): Endpoint | undefined {
    return this.#conferences.get(conferenceId)?.endpoint(endpointId);
  }

  *#allEndpoints(): Generator<Endpoint> {
    for (const conf of this.#conferences.values()) yield* conf.endpoints();
  }

  #tickSpeakers(): void {
    for (const conf of this.#conferences.values()) {
      const speaker = conf.speakers.tick();
      if (speaker) conf.spoke(speaker);
      if (speaker) this.opts.onMessage({ type: 'speaker', conference: conf.id, endpoint: speaker });
    }
  }
}
