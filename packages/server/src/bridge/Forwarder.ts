import type { Endpoint } from './Endpoint.js';
import { safely } from './native.js';
import {
  audioLevel,
  isRtcp,
  isRtp,
  isVp8Keyframe,
  nackPacket,
  parseFeedback,
  parseSenderReports,
  rembPacket,
  senderReport,
} from './rtp.js';
import type { Slot } from './Slot.js';
import type { Source } from './Source.js';

/** A receiver's bandwidth estimate (REMB) counts this long after it came. */
const rembFreshMs = 5000;
/** No publisher is asked to go below this, whatever a receiver estimates. */
const rembFloor = 150_000;
/** The most packets one NACK gets answered. */
const maxNackAnswers = 64;

export interface ForwarderOptions {
  /**
   * A camera's or microphone's first packet: it becomes active, and the conference gives it a
   * slot at every other endpoint.
   */
  onFirstPacket(src: Source): void;
}

/**
 * The bridge's per-packet path: a publisher's RTP rewritten and sent on every open slot of its
 * source (video from a keyframe on), its audio levels to the conference's speaker detector, its
 * sender reports passed on in each receiver's terms, upstream loss NACKed; receivers' feedback
 * turned into keyframe requests, retransmissions from the cache and bandwidth estimates; and
 * every second the bridge's own receiver reports and REMB to each publisher.
 *
 * A packet costs one copy, shared by all its receivers in turn, and no native call but the
 * sends: whether a slot can send is kept in JavaScript (`Slot.open`).
 */
export class Forwarder {
  forwardedPackets = 0;
  forwardedBytes = 0;
  retransmittedPackets = 0;
  #bitrates = { video: 1_000_000, screen: 2_500_000 };
  readonly #onFirstPacket: (src: Source) => void;

  constructor(opts: ForwarderOptions) {
    this.#onFirstPacket = opts.onFirstPacket;
  }

  /** The focus's caps for what publishers send (`welcome`). */
  setBitrates(video: number, screen: number): void {
    // A little above the clients' own caps, so the caps decide and the estimate never does.
    this.#bitrates = { video: Math.round(video * 1.2), screen: Math.round(screen * 1.2) };
  }

  /** A packet a participant sent: forwarded, rewritten, to every receiver of that stream. */
  publish(src: Source, packet: Buffer): void {
    if (src.endpoint.closed) return;
    if (!isRtp(packet)) {
      if (isRtcp(packet)) this.#senderReports(src, packet);
      return;
    }
    if (!src.active) {
      // A camera's or microphone's first packet: the others get an m-line for it, and a
      // keyframe is asked for once they answered.
      if (src.source !== 'screen') this.#onFirstPacket(src);
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

  /** RTCP a receiver sent about a forwarded stream: keyframe requests go to its publisher. */
  feedback(slot: Slot, packet: Buffer): void {
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

  /** Every second, each publisher's streams get a receiver report, and video a REMB. */
  sendReports(endpoints: Iterable<Endpoint>): void {
    const now = performance.now();
    for (const ep of endpoints) {
      for (const src of ep.sources()) {
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

  /** Answers a receiver's NACK from the publisher's packet cache, as the slot sent them. */
  #retransmit(slot: Slot, src: Source, lost: number[]): void {
    const from = slot.rewriter.source;
    const track = slot.track;
    if (!src.cache || from === undefined || !track || !slot.open) return;
    for (const seq of lost.slice(0, maxNackAnswers)) {
      const packet = src.cache.get(from, slot.rewriter.sourceSeq(seq));
      if (!packet) continue;
      const out = slot.rewriter.rewrite(packet);
      if (!safely(() => track.sendMessageBinary(out))) return;
      this.retransmittedPackets++;
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
}
