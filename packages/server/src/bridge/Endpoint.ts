import {
  type BridgeMessageOf,
  type EndpointState,
  endpointStates,
  type ForwardedStream,
  type MediaChannelErrorCode,
  type MediaChannelServerMessage,
  maxMediaChannelMessage,
  maxSdpLength,
  maxViewsPerSecond,
  mediaChannelClientSchema,
  mediaChannelLabel,
  type PublishMessage,
  type StreamSource,
  upstreamMids,
  type ViewTile,
} from '@confab/protocol';
import ndc from 'node-datachannel';
import type { Logger } from '../logging/index.js';
import {
  type AllocatorState,
  allocate,
  applyLastN,
  initialAllocatorState,
  type TileInfo,
} from './Allocator.js';
import type { Conference } from './Conference.js';
import { checkNegotiation, type NegotiationState } from './NegotiationState.js';
import { safely } from './native.js';
import { audioLevelExtensionId } from './rtp.js';
import type { SdpQueue } from './SdpQueue.js';
import { Slot } from './Slot.js';
import { Source } from './Source.js';
import { announce, payloadTypes, simulcastGroups, takeCandidates } from './sdp.js';

/** What the bridge tells the focus about one endpoint. */
export type EndpointReport = BridgeMessageOf<
  'offer' | 'candidate' | 'endpoint_state' | 'endpoint_full'
>;

/** A report before the endpoint puts its conference and id in. */
type Unaddressed<T> = T extends unknown ? Omit<T, 'conference' | 'endpoint'> : never;

/** The peer connection states the focus hears of (libdatachannel also has `new`). */
const reported: ReadonlySet<string> = new Set<string>(endpointStates);

/**
 * Changes that others' streams bring (one starting, stopping or leaving) wait this long before
 * they are offered, so that what comes together goes in one offer: a participant's microphone
 * and camera start within milliseconds of each other, and each offer of a large room's session
 * (200 m-lines at 100 participants) costs the bridge and every client several milliseconds.
 */
export const negotiateCoalesceMs = 100;
/** An endpoint whose session is full asks the focus for a new one again after this long. */
const renewRetryMs = 20_000;
/** The client's candidates held until the first answer is set, and the bridge's own kept. */
const maxHeldCandidates = 64;
const maxLocalCandidates = 16;
/** A receiver's bandwidth estimate (REMB) counts this long after it came. */
export const estimateFreshMs = 5000;
/** A receiver counts as congested this long after it reported loss. */
const congestionMs = 3000;
/** Probing: how long, how often, and at most how fast (bits/s). */
const probeMs = 3000;
const probeEveryMs = 10_000;
const probeMaxBps = 1_000_000;
/** Each forwarded microphone is counted at this before video shares the estimate. */
const audioBitrate = 40_000;

/** What an endpoint needs from the bridge it lives in. */
export interface EndpointContext {
  logger: Logger;
  /** Announced in candidates instead of the bound address (`bridge.public_address`). */
  publicAddress?: string | undefined;
  /** The most m-lines one session may hold, its own four included (three sources and the media channel) (the focus's `maxMlines`). */
  maxMlines(): number;
  /** The most cameras forwarded to it, by who spoke last (-1: all). */
  lastN(): number;
  /** Session-description work done a little at a time (`SdpQueue`). */
  sdp: SdpQueue;
  /** A message for the focus about this endpoint. */
  report(message: EndpointReport): void;
  /** A packet arrived on one of its own m-lines (the forwarder's hot path). */
  publish(src: Source, packet: Buffer): void;
  /** RTCP arrived from the receiver on a slot's m-line. */
  feedback(slot: Slot, packet: Buffer): void;
}

/**
 * One participant's bundled peer connection: its own microphone, camera and screen up (recvonly
 * m-lines `a`, `v`, `s`), everyone else's streams down (a sendonly slot each, mids `f0`, `f1`…).
 * It owns its negotiation (`NegotiationState`), its ICE candidates (held back until the first
 * answer is set: see `takeCandidates`), and whether its slots can carry packets.
 */
export class Endpoint {
  readonly #pc: ndc.PeerConnection;
  readonly #ctx: EndpointContext;
  readonly #log: Logger;
  readonly #sources = new Map<StreamSource, Source>();
  readonly #slots: Slot[] = [];
  #nextMid = 0;
  #state: NegotiationState = 'stable';
  /** A `negotiateSoon` waiting. */
  #soon: NodeJS.Timeout | undefined;
  /**
   * Whether its slots can send, read by each slot per packet (`Slot.open`), written here:
   * `connected` only while the peer connection is and the endpoint is not held.
   */
  readonly #link = { connected: false, answered: 0 };
  #pcConnected = false;
  /**
   * A prejoin's endpoint (its user is still on the room's landing page): negotiated like any
   * other, with a slot for every active stream, but nothing is forwarded to it, what it sends
   * starts no stream, and its tiles want nothing of the publishers, until `admit`.
   */
  #onHold: boolean;
  /** An answer was set: the client's candidates can go in. */
  #remoteSet = false;
  readonly #pendingCandidates: [string, string][] = [];
  readonly #localCandidates: string[] = [];
  /** The bridge's candidates and the bundle mid, held back until the first answer is set. */
  #held: { candidates: string[]; mid: string } | undefined;
  #candidatesSent = false;
  /** When it last told the focus it needs a new session; warned at its limit. */
  #renewAskedAt = 0;
  #warnedFull = false;
  /** How many times an m-line changed; how many of those the last offer covered (the last
   * answer's is `#link.answered`). */
  #described = 0;
  #offered = 0;
  /** The media channel (a data channel on this connection) and what the receiver shows on it:
   * undefined until its first `view` (then the bridge chooses: see `allocate`). */
  readonly #channel: ndc.DataChannel | undefined;
  #view: ReadonlyMap<string, ViewTile> | undefined;
  /** The video mids it was last told are forwarded (`forwarded`), joined; undefined: not yet. */
  #forwarded: string | undefined;
  #viewWindow = 0;
  #viewsInWindow = 0;
  /** The receiver's downstream estimate (REMB, bits/s) and when it came (Date.now()). */
  estimate = Number.POSITIVE_INFINITY;
  estimateAt = 0;
  /** When it last reported real loss (Date.now()): the only sign that makes it lose tiles. */
  lossAt = Number.NEGATIVE_INFINITY;
  #allocation: AllocatorState = initialAllocatorState;
  /**
   * Probing: while its estimate keeps a tile below what it needs, the bridge sends it padding
   * (`probeBps` on `probeSlot` until `probeUntil`) so that its REMB can show whether more fits:
   * a receiver's estimate only follows what it is sent (media-notes).
   */
  probeBps = 0;
  probeUntil = 0;
  probeSlot: Slot | undefined;
  /** Padding bytes due but not yet sent (less than a packet). */
  probeCarry = 0;
  #nextProbeAt = 0;

  constructor(
    readonly conference: Conference,
    readonly id: string,
    readonly user: string,
    config: ndc.RtcConfig,
    ctx: EndpointContext,
    held = false,
  ) {
    this.#onHold = held;
    this.#ctx = ctx;
    this.#log = ctx.logger;
    this.#pc = new ndc.PeerConnection(`${conference.id}/${id}`, config);
    this.#wire();
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
      const track = this.#pc.addTrack(media);
      // No native RTCP session: it would swallow the publisher's sender reports, which the
      // receivers need; the bridge writes its own receiver reports, PLI and REMB.
      const src = new Source(this, source, track);
      track.onMessage((packet) => ctx.publish(src, packet));
      this.#sources.set(source, src);
    }
    // In the first offer with the m-lines above; its messages are few (a `view` now and then).
    let channel: ndc.DataChannel | undefined;
    if (safely(() => (channel = this.#pc.createDataChannel(mediaChannelLabel)))) {
      channel?.onMessage((data) => this.#onChannelMessage(data));
      channel?.onOpen(() => {
        // Told what it is forwarded from the start, and its own encodings from what is wanted.
        this.#forwarded = undefined;
        for (const src of this.#sources.values()) src.resetDynacast();
        this.allocate();
      });
    }
    this.#channel = channel;
  }

  get negotiationState(): NegotiationState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** A prejoin's endpoint, not yet admitted. */
  get held(): boolean {
    return this.#onHold;
  }

  /**
   * Its user joined: from now on it is forwarded what it receives and what it sends starts its
   * streams. Its slots open at once when its connection is up (the prejoin's answer negotiated
   * them), with its keyframes asked for, and the publishers it now wants are told at once.
   */
  admit(): void {
    if (!this.#onHold || this.closed) return;
    this.#onHold = false;
    this.#link.connected = this.#pcConnected;
    this.allocate();
    if (this.#pcConnected) this.#requestKeyframes(true);
    const publishers = new Set<Endpoint>();
    for (const slot of this.#slots) if (slot.source) publishers.add(slot.source.endpoint);
    for (const ep of publishers) ep.dynacast();
  }

  source(source: StreamSource): Source | undefined {
    return this.#sources.get(source);
  }

  sources(): IterableIterator<Source> {
    return this.#sources.values();
  }

  /**
   * Forwards `src` to this endpoint on a new slot (never a freed one: see `Slot`), unless one
   * already does or the session is at its m-line limit. Negotiated by the next `negotiate()`.
   */
  attach(src: Source): void {
    if (this.closed) return;
    for (const s of src.sinks) if (s.endpoint === this) return;
    // Its own m-lines count: one per source and the media channel's.
    if (this.#slots.length + this.#sources.size + 1 >= this.#ctx.maxMlines()) {
      this.#full('m-line limit');
      return;
    }
    const slot = new Slot(this, `f${this.#nextMid++}`, src.kind, src, this.#link);
    this.#slots.push(slot);
    this.#place(slot);
    src.sinks.add(slot);
  }

  /** Stops forwarding `src` here: its slot is freed and its m-line goes inactive. */
  detach(src: Source): void {
    for (const slot of src.sinks) if (slot.endpoint === this) return this.#free(slot);
  }

  /**
   * Offers the session after `negotiateCoalesceMs`, with whatever else changed meanwhile, and
   * in its turn in the bridge's `SdpQueue` (for changes from other endpoints' streams).
   */
  negotiateSoon(): void {
    if (this.closed || this.#soon) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      // With every other member's offer of the same change: a few at a time (`SdpQueue`).
      this.#ctx.sdp.add(this.#key, () => this.negotiate());
    }, negotiateCoalesceMs);
    this.#soon.unref();
  }

  /** The key of its work in the bridge's `SdpQueue`. */
  get #key(): string {
    return `${this.conference.id}/${this.id}`;
  }

  /** Offers the session as it stands now, or once the offer that is out is answered. */
  negotiate(): void {
    if (this.#soon) {
      clearTimeout(this.#soon); // this offer has what it was waiting for
      this.#soon = undefined;
    }
    if (this.#state === 'closed' || this.#state === 'answer_then_offer') return;
    if (this.#state === 'awaiting_answer') return this.#setState('answer_then_offer');
    this.#setState('awaiting_answer');
    const described = this.#described;
    if (safely(() => this.#pc.setLocalDescription('offer'))) this.#offered = described;
    else {
      this.#setState('stable');
      this.#log.warn({ endpoint: this.id }, 'could not create an offer');
    }
  }

  /** The client's answer to the offer that is out; one with no offer out is stale and ignored. */
  answer(sdp: string): void {
    if (this.#state !== 'awaiting_answer' && this.#state !== 'answer_then_offer') return;
    const again = this.#state === 'answer_then_offer';
    // The answer's candidates go in only once it is set: nothing may start ICE before then.
    const answer = takeCandidates(sdp);
    const ok = safely(() => this.#pc.setRemoteDescription(answer.sdp, 'answer'));
    this.#setState('stable');
    if (!ok) {
      this.#log.warn({ conference: this.conference.id, endpoint: this.id }, 'answer refused');
      this.negotiate();
      return;
    }
    this.#remoteSet = true;
    this.#link.answered = this.#offered;
    // A simulcast camera's layers are the SSRCs its answer lists (`a=ssrc-group:SIM`).
    const groups = simulcastGroups(answer.sdp);
    for (const [source, mid] of [
      ['camera', upstreamMids.camera],
      ['screen', upstreamMids.screen],
    ] as const) {
      const src = this.#sources.get(source);
      if (src?.bindSimulcast(groups.get(mid) ?? []))
        this.#log.debug({ endpoint: this.id, source, layers: src.layers.length }, 'simulcast');
    }
    this.allocate();
    for (const [c, mid] of [...answer.candidates, ...this.#pendingCandidates.splice(0)])
      safely(() => this.#pc.addRemoteCandidate(c, mid));
    if (!this.#candidatesSent && this.#held) {
      this.#candidatesSent = true;
      for (const candidate of this.#held.candidates)
        this.#report({ type: 'candidate', candidate, mid: this.#held.mid });
    }
    this.#requestKeyframes(true);
    if (again) this.negotiate();
  }

  /** A client's ICE candidate: held until the first answer is set (`takeCandidates`). */
  addCandidate(candidate: string, mid: string): void {
    if (!candidate) return; // end of candidates
    if (this.#remoteSet) safely(() => this.#pc.addRemoteCandidate(candidate, mid));
    else if (this.#pendingCandidates.length < maxHeldCandidates)
      this.#pendingCandidates.push([candidate, mid]);
  }

  /**
   * Closes its own part quietly: its sources stop, its slots leave the sources they forwarded,
   * the peer connection closes. The conference frees the slots that forwarded its sources.
   */
  close(): void {
    if (this.closed) return;
    this.#setState('closed');
    if (this.#soon) clearTimeout(this.#soon);
    this.#ctx.sdp.drop(this.#key);
    this.#ctx.sdp.drop(`${this.#key}/answer`);
    for (const src of this.#sources.values()) src.close();
    for (const slot of this.#slots) slot.source?.sinks.delete(slot);
    safely(() => this.#channel?.close());
    safely(() => this.#pc.close());
  }

  #setState(next: NegotiationState): void {
    const prev = this.#state;
    if (prev === next) return;
    checkNegotiation(prev, next, `endpoint ${this.id}`);
    this.#state = next;
    this.#log.debug({ endpoint: this.id, from: prev, to: next }, 'negotiation');
  }

  #report(message: Unaddressed<EndpointReport>): void {
    this.#ctx.report({
      ...message,
      conference: this.conference.id,
      endpoint: this.id,
    } as EndpointReport);
  }

  #free(slot: Slot): void {
    const src = slot.source;
    if (!src) return;
    src.sinks.delete(slot);
    slot.free();
    this.#place(slot);
  }

  /** Puts the slot's m-line into the peer connection (libdatachannel replaces it by mid). */
  #place(slot: Slot): void {
    let track: ndc.Track | undefined;
    if (!safely(() => (track = this.#pc.addTrack(slot.describe()))) || !track) return;
    slot.placed(track, ++this.#described);
    const ctx = this.#ctx;
    track.onMessage((packet) => ctx.feedback(slot, packet));
  }

  /**
   * Every video slot waiting for its chosen layer's keyframe asks for one, once it can take it
   * (connected and negotiated): a keyframe sent before then is lost to it, and its request
   * would hold the one it needs (`KeyframeGate`). Asked again when it connects and at each
   * answer (`opened`: those wait only the gate's short gap; both come at most as often as
   * connections and renegotiations, which the focus rate-limits), and at each new layer
   * choice (the whole interval: a receiver's view messages must not make its publishers send
   * keyframes at their pace).
   */
  #requestKeyframes(opened = false): void {
    for (const slot of this.#slots) {
      const src = slot.source;
      if (!src || slot.kind !== 'video' || slot.target < 0 || !slot.open) continue;
      const target = src.layers[slot.target];
      if (slot.layer !== target) target?.keyframes.request(opened);
    }
  }

  /**
   * Chooses the layer of every video it receives (`Allocator`) from what it shows, its
   * estimate and what the publishers send, and asks for the keyframes the new choices wait for.
   * Run about twice a second, and at once when its view or its session changes.
   */
  allocate(now = performance.now()): void {
    if (this.closed) return;
    const conf = this.conference;
    const view = this.#view;
    const tiles: TileInfo[] = [];
    let audio = 0;
    // Without a view of its own (a kwmjs client), the stage is a screen share, else the latest
    // speaker other than itself, and everything else is a thumbnail.
    let stage: Slot | undefined;
    if (!view) {
      let bestRank = Number.POSITIVE_INFINITY;
      for (const slot of this.#slots) {
        const src = slot.source;
        if (!src || slot.kind !== 'video') continue;
        const rank = src.source === 'screen' ? -1 : conf.speakerRank(src.endpoint.id);
        if (!stage || rank < bestRank) {
          bestRank = rank;
          stage = slot;
        }
      }
    }
    let shownTiles: TileInfo[] = [];
    for (const slot of this.#slots) {
      const src = slot.source;
      if (!src) continue;
      if (slot.kind === 'audio') {
        audio++;
        continue;
      }
      const shown = view ? view.get(slot.mid) : undefined;
      shownTiles.push({
        key: slot.mid,
        layers: src.layers.map((l) => ({
          bitrate: l.bitrate,
          temporalBitrates: l.temporalBitrates,
          width: l.width,
          active: l.active(now),
          settled: l.settled(now),
        })),
        width: view ? (shown?.width ?? 0) : slot === stage ? 16_384 : 1,
        stage: view ? shown?.stage === true : slot === stage,
        screen: src.source === 'screen',
        speakerRank: conf.speakerRank(src.endpoint.id),
        lastNRank: conf.lastNRank(src.endpoint.id),
        silent: !src.paused && !src.layers.some((l) => l.active(now)),
      });
    }
    shownTiles = applyLastN(shownTiles, this.#ctx.lastN());
    tiles.push(...shownTiles);
    const fresh = Date.now() - this.estimateAt < estimateFreshMs;
    const estimate = fresh ? Math.max(0, this.estimate - audio * audioBitrate) : Infinity;
    const congested = Date.now() - this.lossAt < congestionMs;
    const result = allocate(tiles, estimate, this.#allocation, now, congested);
    this.#allocation = result.state;
    let keyframes = false;
    let probeOn: Slot | undefined;
    const forwarded: string[] = [];
    for (const slot of this.#slots) {
      const choice = result.choices.get(slot.mid);
      if (!choice || !slot.source) continue;
      if (slot.choose(choice.spatial, choice.temporal)) keyframes = true;
      if (choice.spatial >= 0) forwarded.push(slot.mid);
      if (choice.spatial >= 0 && (!probeOn || view?.get(slot.mid)?.stage)) probeOn = slot;
    }
    if (keyframes) this.#requestKeyframes();
    this.#tellForwarded(forwarded);
    // Short of what its tiles need, and not just lowered: probe for the difference (at most
    // as much again as it gets, and a megabit), 3 s at a time, at most every 10 s.
    const short = result.wanted - result.allocated;
    if (
      Number.isFinite(estimate) &&
      short > 50_000 &&
      probeOn &&
      now >= this.#nextProbeAt &&
      now >= result.state.holdUntil
    ) {
      this.probeBps = Math.min(short, Math.max(result.allocated, 150_000), probeMaxBps);
      this.probeUntil = now + probeMs;
      this.probeSlot = probeOn;
      this.#nextProbeAt = now + probeEveryMs;
    } else if (short <= 50_000) this.probeUntil = 0;
  }

  /**
   * The layer of `src` this receiver's tile needs, whatever its bandwidth allows now (-1: none
   * or not shown): what the publisher is asked to keep sending (its REMB).
   */
  wants(slot: Slot): number {
    if (this.#onHold) return -1;
    return this.#allocation.needs.get(slot.mid) ?? slot.target;
  }

  /**
   * Dynacast: each of its own video sources is told (`publish`) whether any receiver's tile
   * needs it (`wants`), so that one nobody receives costs its publisher nothing: it is resumed
   * as soon as a receiver needs it and paused once none has for `dynacastPauseMs` (whole
   * sources only: see `Source.dynacast`). Run after every endpoint's allocation, and for the
   * publishers whose need a receiver's new view changed.
   */
  dynacast(now = performance.now()): void {
    const channel = this.#channel;
    if (this.closed || !channel?.isOpen()) return;
    let message: PublishMessage | undefined;
    for (const source of ['camera', 'screen'] as const) {
      const src = this.#sources.get(source);
      if (!src?.active) continue;
      let highest = -1;
      for (const slot of src.sinks) highest = Math.max(highest, slot.endpoint.wants(slot));
      const next = src.dynacast(highest, now);
      if (next) {
        message ??= { type: 'publish' };
        message[source] = next;
      }
    }
    if (message) this.#send(message);
  }

  /** Tells the receiver which video mids it is forwarded, when that changed. */
  #tellForwarded(mids: string[]): void {
    const key = mids.join(' ');
    if (key === this.#forwarded || !this.#channel?.isOpen()) return;
    this.#forwarded = key;
    this.#send({ type: 'forwarded', video: mids });
  }

  #send(message: MediaChannelServerMessage): void {
    const channel = this.#channel;
    if (channel?.isOpen()) safely(() => channel.sendMessage(JSON.stringify(message)));
  }

  #onChannelMessage(data: string | Buffer | ArrayBuffer): void {
    if (this.closed) return;
    const text = typeof data === 'string' ? data : undefined;
    const size = text !== undefined ? Buffer.byteLength(text) : (data as Buffer).byteLength;
    if (size > maxMediaChannelMessage)
      return this.#refuse('payload_too_large', `at most ${maxMediaChannelMessage} bytes`);
    const now = Date.now();
    if (now - this.#viewWindow >= 1000) {
      this.#viewWindow = now;
      this.#viewsInWindow = 0;
    }
    if (++this.#viewsInWindow > maxViewsPerSecond) {
      if (this.#viewsInWindow === maxViewsPerSecond + 1)
        this.#refuse('rate_limited', `at most ${maxViewsPerSecond} messages a second`);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text ?? Buffer.from(data as Buffer).toString('utf8'));
    } catch {
      return this.#refuse('bad_message', 'not JSON');
    }
    const message = mediaChannelClientSchema.safeParse(parsed);
    if (!message.success)
      return this.#refuse('bad_message', message.error.issues[0]?.message ?? 'invalid');
    this.#view = new Map(Object.entries(message.data.tiles));
    const before = this.#allocation.needs;
    this.allocate();
    // A publisher this view now needs (or no longer does) is told now, not at the next round.
    const after = this.#allocation.needs;
    const publishers = new Set<Endpoint>();
    for (const slot of this.#slots) {
      const src = slot.source;
      if (src && (before.get(slot.mid) ?? -1) !== (after.get(slot.mid) ?? -1))
        publishers.add(src.endpoint);
    }
    for (const ep of publishers) ep.dynacast();
  }

  #refuse(code: MediaChannelErrorCode, msg: string): void {
    this.#send({ type: 'error', code, msg: msg.slice(0, 512) });
  }

  /**
   * The session cannot take more: with freed m-lines in it, the focus is asked for a new
   * session (which has none), again every `renewRetryMs` until it has one; with all of them in
   * use, the stream is not forwarded here.
   */
  #full(why: string): void {
    const ids = {
      conference: this.conference.id,
      endpoint: this.id,
      mlines: this.#slots.length,
      why,
    };
    if (this.#slots.some((slot) => !slot.source)) {
      // Asked again after a while: the focus may have refused (its restart limit).
      const now = Date.now();
      if (now - this.#renewAskedAt < renewRetryMs) return;
      this.#renewAskedAt = now;
      this.#log.info(ids, 'endpoint session full: asking for a new one');
      this.#report({ type: 'endpoint_full' });
    } else if (!this.#warnedFull) {
      this.#warnedFull = true;
      this.#log.warn(ids, 'endpoint at its m-line limit: further streams not forwarded to it');
    }
  }

  #wire(): void {
    const pc = this.#pc;
    pc.onStateChange((state) => {
      const connected = state === 'connected';
      const was = this.#pcConnected;
      this.#pcConnected = connected;
      this.#link.connected = connected && !this.#onHold;
      if (connected && !was && !this.#onHold) {
        this.allocate();
        this.#requestKeyframes(true);
      }
      if (!this.closed && reported.has(state))
        this.#report({ type: 'endpoint_state', state: state as EndpointState });
    });
    pc.onLocalCandidate((candidate) => {
      if (this.#localCandidates.length < maxLocalCandidates) this.#localCandidates.push(candidate);
    });
    pc.onLocalDescription((_sdp, type) => {
      if (type !== 'offer' || this.closed) return;
      if (pc.gatheringState() === 'complete') this.#sendOffer();
      else
        pc.onGatheringStateChange((s) => {
          if (s === 'complete') this.#sendOffer();
        });
    });
  }

  /**
   * An offer made but not sent: no answer will come, so the negotiation is stable again (else
   * every later change would only wait for that answer) and the peer connection drops the offer
   * (libdatachannel makes no new one while one is pending).
   */
  #dropOffer(): void {
    this.#setState('stable');
    safely(() => this.#pc.setLocalDescription('rollback'));
  }

  #sendOffer(): void {
    if (this.closed) return;
    const local = this.#pc.localDescription()?.sdp;
    if (!local) {
      this.#log.warn({ endpoint: this.id }, 'offer made without a local description');
      return this.#dropOffer();
    }
    const { sdp, candidates, mid } = takeCandidates(local);
    if (sdp.length > maxSdpLength) {
      // Long user ids can make even a session within its m-line limit too large to send. Not
      // sent: the next change may negotiate again.
      this.#dropOffer();
      this.#full('offer too large');
      return;
    }
    if (!this.#held) {
      // Bundled: the candidates of the first m-section serve all of them.
      const own = candidates.length
        ? candidates.map(([c]) => c)
        : this.#localCandidates.map((c) => c.replace(/^a=/, ''));
      const { publicAddress } = this.#ctx;
      this.#held = {
        candidates: publicAddress ? own.map((c) => announce(c, publicAddress)) : own,
        mid,
      };
    }
    const streams: Record<string, ForwardedStream> = {};
    for (const slot of this.#slots) {
      const src = slot.source;
      if (src) streams[slot.mid] = { user: src.endpoint.user, source: src.source };
    }
    this.#report({ type: 'offer', sdp, streams });
  }
}
