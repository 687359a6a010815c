import type { Endpoint } from './Endpoint.js';
import { estimateFreshMs } from './Endpoint.js';
import type { Layer } from './Layer.js';
import { safely } from './native.js';
import {
  audioLevel,
  isPaddingOnly,
  isRtcp,
  isRtp,
  nackPacket,
  newVp8Descriptor,
  parseFeedback,
  parseSenderReports,
  readVp8Descriptor,
  rembPacket,
  senderReport,
  vp8KeyframeSize,
} from './rtp.js';
import type { Slot } from './Slot.js';
import type { Source } from './Source.js';
import { writeVp8Fields } from './Vp8Munger.js';

/** No publisher is asked to go below this, whatever its receivers estimate. */
const rembFloor = 150_000;
/** A receiver reporting this share of a stream lost (of 256: 5%) is congested. */
const congestionLoss = 13;
/** The most packets one NACK gets answered. */
const maxNackAnswers = 64;
/** The most padding bytes in one packet (the RTP padding count is one byte). */
const maxPadding = 255;
/** The audio level (RFC 6464, dBov below full scale) of digital silence. */
const silence = 127;
/** Video from a source dynacast paused this long ago: its publisher sends anyway, tell it again. */
const pausedResendMs = 1000;
/** What a publisher's microphone is counted at in its REMB. */
const audioAllowance = 64_000;
/**
 * The bitrates the web app caps a simulcast camera's lower layers at, lowest first (the top
 * layer's cap is `video_max_bitrate`): what a publisher is asked to keep room for (REMB) so
 * that the layers its receivers want stay on. Chromium sends ¼ at up to 150 kbit/s and ½ at up
 * to 500 kbit/s of a 720p capture.
 */
export const lowerLayerBitrates = [150_000, 500_000] as const;

export interface ForwarderOptions {
  /**
   * A camera's or microphone's first packet: it becomes active, and the conference gives it a
   * slot at every other endpoint.
   */
  onFirstPacket(src: Source): void;
}

/**
 * The bridge's per-packet path: a publisher's RTP sent on every open slot of its source,
 * rewritten for each receiver; audio unless it is silence (level 127); video only from the layer the receiver's allocator chose (a
 * switch waits for that layer's keyframe), without the temporal layers it does not get, and
 * without padding-only probes; its audio levels go to the conference's speaker detector, its
 * sender reports are passed on in each receiver's terms, upstream loss is NACKed. Receivers'
 * feedback becomes keyframe requests, retransmissions and bandwidth estimates; every second
 * the bridge sends each publisher its own receiver reports and one REMB sized to what its
 * receivers want.
 *
 * A packet costs one copy, shared by all its receivers in turn (each writes every field it
 * changes), and no native call but the sends; nothing else is allocated per packet.
 */
export class Forwarder {
  forwardedPackets = 0;
  forwardedBytes = 0;
  retransmittedPackets = 0;
  #bitrates = { video: 1_000_000, screen: 2_500_000 };
  readonly #onFirstPacket: (src: Source) => void;
  readonly #d = newVp8Descriptor();
  readonly #padding = Buffer.alloc(12 + maxPadding);
  paddingPackets = 0;

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
    const layer = src.layerOf(packet.readUInt32BE(8));
    if (!layer) return; // an SSRC its answer did not name
    const now = performance.now();
    layer.stats.packet(packet, now);
    if (src.kind === 'audio') {
      layer.packet(packet.length, -1, now);
      if (src.muted) return;
      const level = audioLevel(packet);
      if (level >= 0) src.endpoint.conference.speakers.level(src.endpoint.id, level);
      if (level === silence) {
        // Not forwarded (as Jitsi Videobridge does): in a large meeting most microphones send
        // only this. The receivers' numbering closes up, the same for all of them, so it is
        // done once here: later packets come numbered as if the silent ones had not been sent.
        // Their decoders treat the gap in timestamps as a pause in the talk (as after a DTX
        // sender's silence).
        src.silenced = (src.silenced + 1) & 0xffff;
        return;
      }
      if (src.silenced !== 0)
        packet.writeUInt16BE((packet.readUInt16BE(2) - src.silenced) & 0xffff, 2);
      this.#audio(src, packet);
      return;
    }
    layer.cache?.put(packet);
    if (now - src.pausedSince > pausedResendMs) src.resetDynacast();
    // Lost on the way here: the publisher is asked to send it again (its retransmission is
    // forwarded like any packet, filling the receivers' gap).
    const lost = layer.loss?.packet(layer.ssrc, packet.readUInt16BE(2), now);
    if (lost?.length) {
      const nack = nackPacket(src.localSsrc, layer.ssrc, lost);
      safely(() => src.track.sendMessageBinary(nack));
    }
    const d = readVp8Descriptor(packet, this.#d);
    const keyframe = d.frameStart && d.header >= 0 && ((packet[d.header] ?? 1) & 0x01) === 0;
    if (keyframe) {
      vp8KeyframeSize(packet, d, layer);
      layer.keyframes.received();
    }
    const padding = isPaddingOnly(packet);
    if (!padding) layer.packet(packet.length, d.tid, now);
    this.#video(src, layer, packet, keyframe, padding, d.tid, now, layer.loss?.late === true);
  }

  #audio(src: Source, packet: Buffer): void {
    let out: Buffer | undefined;
    for (const slot of src.sinks) {
      const track = slot.track;
      if (!track || !slot.open) continue;
      const w = slot.rewriter.rewrite(packet, out);
      if (!w) continue;
      out = w;
      this.#send(slot, track, out);
    }
  }

  #video(
    src: Source,
    layer: Layer,
    packet: Buffer,
    keyframe: boolean,
    padding: boolean,
    tid: number,
    now: number,
    late: boolean,
  ): void {
    let out: Buffer | undefined;
    for (const slot of src.sinks) {
      const track = slot.track;
      if (!track || !slot.open) continue;
      if (slot.layer !== layer) {
        // The chosen layer starts at its keyframe: nothing before it can be decoded.
        if (slot.target !== layer.index || !keyframe) continue;
        if (late) {
          // A keyframe's first packet sent again: the rest of that frame came before it and
          // was not forwarded here, so the receiver could not decode it. Wait for another.
          layer.keyframes.request();
          continue;
        }
        slot.layer = layer;
        slot.munger?.switchSource();
      }
      if (padding || tid > slot.maxTemporal) {
        slot.rewriter.drop(packet, now);
        if (!padding) slot.munger?.drop(packet);
        continue;
      }
      const w = slot.rewriter.rewrite(packet, out, now);
      if (!w) continue;
      out = w;
      const munger = slot.munger;
      if (munger) {
        munger.munge(packet, out);
        slot.history?.put(
          out.readUInt16BE(2),
          layer.ssrc,
          packet.readUInt16BE(2),
          out.readUInt32BE(4),
          munger.writtenPicture,
          munger.writtenTl0,
          munger.writtenKeyIdx,
        );
      }
      this.#send(slot, track, out);
    }
  }

  #send(slot: Slot, track: NonNullable<Slot['track']>, out: Buffer): void {
    try {
      track.sendMessageBinary(out);
    } catch {
      return; // closed meanwhile (the native side throws)
    }
    slot.packets++;
    slot.octets += out.length - 12;
    this.forwardedPackets++;
    this.forwardedBytes += out.length;
  }

  /**
   * Sends each probing endpoint its padding for the last `elapsedMs` (called every few tens of
   * milliseconds): padding-only packets on the probed slot, continuing its numbering.
   */
  probe(endpoints: Iterable<Endpoint>, now: number, elapsedMs: number): void {
    for (const ep of endpoints) {
      if (ep.probeUntil <= now || ep.closed) continue;
      const slot = ep.probeSlot;
      const track = slot?.track;
      if (!slot || !track || !slot.open || !slot.layer) continue;
      let bytes = ep.probeCarry + (ep.probeBps / 8) * (elapsedMs / 1000);
      while (bytes >= 12 + maxPadding) {
        const n = slot.rewriter.padding(this.#padding, maxPadding, now);
        if (n === 0) break;
        slot.history?.forget(slot.rewriter.lastSeq);
        if (!safely(() => track.sendMessageBinary(this.#padding.subarray(0, n)))) break;
        this.paddingPackets++;
        bytes -= n;
      }
      ep.probeCarry = Math.min(bytes, 12 + maxPadding);
    }
  }

  /** RTCP a receiver sent about a forwarded stream: keyframe requests go to its publisher. */
  feedback(slot: Slot, packet: Buffer): void {
    const src = slot.source;
    // A held (prejoin) receiver is forwarded nothing, so nothing it says counts: its keyframe
    // requests would cost every publisher in the room a keyframe at the gate's pace.
    if (!isRtcp(packet) || !src || slot.endpoint.held) return;
    for (const fb of parseFeedback(packet)) {
      if (fb.kind === 'remb') {
        // One estimate for everything the receiver gets (Chromium's REMB is per connection).
        slot.endpoint.estimate = fb.bitrate;
        slot.endpoint.estimateAt = Date.now();
      } else if (fb.kind === 'loss') {
        // Whichever stream it is about, the receiver's link is losing packets.
        if (fb.fraction >= congestionLoss) slot.endpoint.lossAt = Date.now();
      } else if (fb.mediaSsrc !== slot.rewriter.ssrc) continue;
      else if (fb.kind === 'pli' || fb.kind === 'fir') {
        const layer = slot.layer ?? src.layers[slot.target];
        layer?.keyframes.request();
      } else if (fb.kind === 'nack') this.#retransmit(slot, src, fb.lost);
    }
  }

  /**
   * Every second: each publisher's layers get a receiver report and their bitrates are sampled;
   * each publisher gets one REMB for all it sends (Chromium applies a REMB to its whole
   * connection), sized to what its receivers want.
   */
  sendReports(endpoints: Iterable<Endpoint>): void {
    const now = performance.now();
    for (const ep of endpoints) {
      let remb = 0;
      let rembTrack: Source | undefined;
      for (const src of ep.sources()) {
        for (const layer of src.layers) layer.sampleRate(now);
        if (!src.track.isOpen()) continue;
        const reports: Buffer[] = [];
        for (const layer of src.layers) {
          const rr = layer.stats.report(src.localSsrc, now);
          if (rr) reports.push(rr);
        }
        if (reports.length === 0) continue;
        if (src.kind === 'video') {
          remb += this.#rate(src);
          if (!rembTrack || src.source === 'camera') rembTrack = src;
        } else remb += audioAllowance;
        const packet = reports.length === 1 ? (reports[0] as Buffer) : Buffer.concat(reports);
        safely(() => src.track.sendMessageBinary(packet));
      }
      const media = rembTrack?.layers[0]?.ssrc;
      if (rembTrack && media) {
        const packet = rembPacket(rembTrack.localSsrc, Math.round(remb), media);
        const track = rembTrack.track;
        safely(() => track.sendMessageBinary(packet));
      }
    }
  }

  /**
   * A publisher's sender report, passed on to each receiver in its slot's terms (SSRC and
   * timestamp as rewritten), so that receivers keep its audio and video in sync. A simulcast
   * layer's report reaches the receivers that get that layer.
   */
  #senderReports(src: Source, packet: Buffer): void {
    const reports = parseSenderReports(packet);
    if (reports.length === 0) return;
    for (const sr of reports)
      for (const layer of src.layers)
        if (sr.ssrc === layer.ssrc)
          layer.stats.senderReport(sr.ntpHigh, sr.ntpLow, performance.now());
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

  /**
   * Answers a receiver's NACK from the publisher's packet caches: each sequence number it names
   * is looked up in what the slot sent (`SentHistory`), whichever layer it came from, and sent
   * again exactly as it went out.
   */
  #retransmit(slot: Slot, src: Source, lost: number[]): void {
    const track = slot.track;
    const history = slot.history;
    if (!history || !track || !slot.open) return;
    for (const seq of lost.slice(0, maxNackAnswers)) {
      if (!history.find(seq)) continue;
      let packet: Buffer | undefined;
      for (const layer of src.layers)
        if (layer.ssrc === history.ssrc) packet = layer.cache?.get(history.ssrc, history.sourceSeq);
      if (!packet) continue;
      const out = Buffer.from(packet);
      slot.rewriter.stamp(out, seq, history.timestamp);
      writeVp8Fields(
        out,
        readVp8Descriptor(out, this.#d),
        history.picture,
        history.tl0,
        history.keyIdx,
      );
      if (!safely(() => track.sendMessageBinary(out))) return;
      this.retransmittedPackets++;
    }
  }

  /**
   * What a publisher's video source may send. A simulcast camera: room for every layer up to
   * the highest any receiver's tile needs or still gets (so that layers nobody shows can go
   * off), at least its lowest. One layer: the cap, or less if a receiver's estimate says it takes less.
   */
  #rate(src: Source): number {
    const cap = src.source === 'screen' ? this.#bitrates.screen : this.#bitrates.video;
    if (src.simulcast) {
      let highest = 0;
      // A receiver switching down still gets the layer it had until the lower one's keyframe
      // comes: that layer stays funded till then, or the publisher would drop it first and the
      // receiver's picture stand still between the two (seconds, with a busy publisher).
      for (const slot of src.sinks)
        highest = Math.max(highest, slot.endpoint.wants(slot), slot.layer?.index ?? 0);
      const n = src.layers.length;
      let rate = 0;
      for (let i = 0; i <= Math.min(highest, n - 1); i++)
        rate += i === n - 1 ? cap : (lowerLayerBitrates[i] ?? cap) * 1.2;
      return rate;
    }
    const now = Date.now();
    let rate = cap;
    for (const slot of src.sinks) {
      const ep = slot.endpoint;
      // A held receiver gets nothing, so its estimate says nothing of what fits.
      if (!ep.held && Number.isFinite(ep.estimate) && now - ep.estimateAt < estimateFreshMs)
        rate = Math.min(rate, ep.estimate);
    }
    return Math.max(rate, Math.min(cap, rembFloor));
  }
}
