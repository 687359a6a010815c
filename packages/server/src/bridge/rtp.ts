/**
 * RTP and RTCP on raw bytes, as the bridge needs them per packet: read the few header fields,
 * rewrite a forwarded packet so that each receiver sees one stable stream, and find the
 * feedback (PLI, FIR, NACK, REMB) in a receiver's compound RTCP. RFC 3550, 4585, 5104.
 */

/** RTP and RTCP share a port (rtcp-mux): RTCP packet types are 192-223 (RFC 5761). */
export function isRtcp(packet: Uint8Array): boolean {
  const pt = packet[1] ?? 0;
  return packet.length >= 4 && pt >= 192 && pt <= 223;
}

/** A well-formed RTP version-2 header fits. */
export function isRtp(packet: Uint8Array): boolean {
  return packet.length >= 12 && (packet[0] ?? 0) >> 6 === 2 && !isRtcp(packet);
}

/** Where the payload starts: after CSRCs and the header extension. */
export function rtpPayloadOffset(p: Buffer): number {
  let off = 12 + ((p[0] ?? 0) & 0x0f) * 4;
  if ((p[0] ?? 0) & 0x10) {
    if (p.length < off + 4) return p.length;
    off += 4 + p.readUInt16BE(off + 2) * 4;
  }
  return Math.min(off, p.length);
}

/**
 * Whether a VP8 RTP packet starts a keyframe (RFC 7741: S bit and partition 0 in the payload
 * descriptor, then the P bit of the VP8 frame header clear).
 */
export function isVp8Keyframe(p: Buffer): boolean {
  let off = rtpPayloadOffset(p);
  const d = p[off];
  if (d === undefined) return false;
  const start = (d & 0x10) !== 0 && (d & 0x07) === 0;
  if (!start) return false;
  off++;
  if (d & 0x80) {
    const x = p[off++] ?? 0;
    if (x & 0x80) off += (p[off] ?? 0) & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) off++; // TL0PICIDX
    if (x & 0x30) off++; // TID/KEYIDX
  }
  const header = p[off];
  return header !== undefined && (header & 0x01) === 0;
}

/** The extension id the bridge offers `urn:ietf:params:rtp-hdrext:ssrc-audio-level` under. */
export const audioLevelExtensionId = 1;

/**
 * The audio level of an RTP packet from its RFC 6464 header extension (RFC 8285 one-byte
 * form): 0 (loudest) to 127 dBov below full scale (silence), or -1 when the packet has none.
 */
export function audioLevel(p: Buffer, id = audioLevelExtensionId): number {
  const first = p[0] ?? 0;
  if (!(first & 0x10)) return -1;
  const start = 12 + (first & 0x0f) * 4;
  if (p.length < start + 4 || p.readUInt16BE(start) !== 0xbede) return -1;
  const end = Math.min(p.length, start + 4 + p.readUInt16BE(start + 2) * 4);
  let off = start + 4;
  while (off < end) {
    const b = p[off] ?? 0;
    if (b === 0) {
      off++; // padding
      continue;
    }
    const eid = b >> 4;
    const len = (b & 0x0f) + 1;
    if (eid === 15) return -1;
    if (eid === id) return off + 1 < end ? (p[off + 1] ?? 0) & 0x7f : -1;
    off += 1 + len;
  }
  return -1;
}

/** A sender report's timing (RFC 3550 §6.4.1), as the publisher sent it. */
export interface SenderReport {
  ssrc: number;
  ntpHigh: number;
  ntpLow: number;
  rtpTimestamp: number;
}

/** The sender reports in one compound RTCP packet; malformed parts are skipped. */
export function parseSenderReports(packet: Buffer): SenderReport[] {
  const found: SenderReport[] = [];
  let off = 0;
  while (off + 4 <= packet.length) {
    if ((packet[off] ?? 0) >> 6 !== 2) break;
    const len = (packet.readUInt16BE(off + 2) + 1) * 4;
    if (off + len > packet.length) break;
    if (packet[off + 1] === 200 && len >= 28)
      found.push({
        ssrc: packet.readUInt32BE(off + 4),
        ntpHigh: packet.readUInt32BE(off + 8),
        ntpLow: packet.readUInt32BE(off + 12),
        rtpTimestamp: packet.readUInt32BE(off + 16),
      });
    off += len;
  }
  return found;
}

/** A sender report with no report blocks, for one forwarded stream. */
export function senderReport(
  ssrc: number,
  ntpHigh: number,
  ntpLow: number,
  rtpTimestamp: number,
  packets: number,
  octets: number,
): Buffer {
  const b = Buffer.allocUnsafe(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b.writeUInt32BE(ntpHigh >>> 0, 8);
  b.writeUInt32BE(ntpLow >>> 0, 12);
  b.writeUInt32BE(rtpTimestamp >>> 0, 16);
  b.writeUInt32BE(packets >>> 0, 20);
  b.writeUInt32BE(octets >>> 0, 24);
  return b;
}

/** A picture loss indication (RFC 4585 §6.3.1): the publisher sends a keyframe. */
export function pictureLossIndication(sender: number, media: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b[0] = 0x81;
  b[1] = 206;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  b.writeUInt32BE(media >>> 0, 8);
  return b;
}

/**
 * A generic NACK (RFC 4585 §6.2.1) asking `media`'s sender for these sequence numbers again:
 * one FCI (a packet id and a bitmask of the 16 after it) per run.
 */
export function nackPacket(sender: number, media: number, seqs: readonly number[]): Buffer {
  const fci: [number, number][] = [];
  for (const seq of seqs) {
    const last = fci.at(-1);
    const d = last ? (seq - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else fci.push([seq & 0xffff, 0]);
  }
  const b = Buffer.allocUnsafe(12 + 4 * fci.length);
  b[0] = 0x81;
  b[1] = 205;
  b.writeUInt16BE(2 + fci.length, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  b.writeUInt32BE(media >>> 0, 8);
  fci.forEach(([pid, blp], i) => {
    b.writeUInt16BE(pid, 12 + 4 * i);
    b.writeUInt16BE(blp, 14 + 4 * i);
  });
  return b;
}

/**
 * The packets missing from one published stream, to be asked for again (NACK): noted from the
 * gaps in the sequence numbers that arrive, asked for at once, again every `retryMs` up to
 * `tries` times, and given up after `giveUpMs` or when they arrive. A jump of more than
 * `window` packets (a long outage) is not loss to repair, nor is anything across a change of
 * SSRC (the publisher restarted its stream).
 */
export class LossTracker {
  #ssrc: number | undefined;
  #highest: number | undefined;
  readonly #missing = new Map<number, { since: number; asked: number; at: number }>();

  constructor(
    readonly window = 128,
    readonly retryMs = 100,
    readonly tries = 3,
    readonly giveUpMs = 1000,
  ) {}

  /** Notes one arriving packet; returns the sequence numbers to ask for now (usually none). */
  packet(ssrc: number, seq: number, now: number): number[] {
    if (ssrc !== this.#ssrc) {
      this.#ssrc = ssrc;
      this.#highest = undefined;
      this.#missing.clear();
    }
    const high = this.#highest;
    if (high === undefined) {
      this.#highest = seq;
      return [];
    }
    const d = (seq - high) & 0xffff;
    if (d === 0) return [];
    if (d < 0x8000) {
      if (d - 1 > this.window) this.#missing.clear();
      else
        for (let s = (high + 1) & 0xffff; s !== seq; s = (s + 1) & 0xffff)
          this.#missing.set(s, { since: now, asked: 0, at: 0 });
      this.#highest = seq;
    } else this.#missing.delete(seq);
    if (this.#missing.size === 0) return [];
    const due: number[] = [];
    for (const [s, m] of this.#missing) {
      if (m.asked >= this.tries || now - m.since > this.giveUpMs) this.#missing.delete(s);
      else if (m.asked === 0 || now - m.at >= this.retryMs) {
        m.asked++;
        m.at = now;
        due.push(s);
      }
    }
    return due;
  }
}

/** A receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb) for `media`. */
export function rembPacket(sender: number, bitrate: number, media: number): Buffer {
  let exp = 0;
  let mantissa = Math.max(0, Math.floor(bitrate));
  while (mantissa > 0x3ffff) {
    mantissa = Math.floor(mantissa / 2);
    exp++;
  }
  const b = Buffer.allocUnsafe(24);
  b[0] = 0x8f;
  b[1] = 206;
  b.writeUInt16BE(5, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  b.writeUInt32BE(0, 8);
  b.write('REMB', 12, 'latin1');
  b[16] = 1;
  b[17] = (exp << 2) | (mantissa >> 16);
  b.writeUInt16BE(mantissa & 0xffff, 18);
  b.writeUInt32BE(media >>> 0, 20);
  return b;
}

/**
 * What the bridge received of one published stream, for its receiver reports (RFC 3550 §6.4.2,
 * A.1, A.3, A.8): extended highest sequence number, loss (cumulative and since the last report),
 * interarrival jitter, and the last sender report's time.
 */
export class ReceiveStats {
  /** The publisher's SSRC, from its packets (0 until one came). */
  ssrc = 0;
  #base = 0;
  #maxSeq = 0;
  #cycles = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #transit: number | undefined;
  #jitter = 0;
  #lastSr = 0;
  #lastSrAt = 0;

  constructor(private readonly clockRate: number) {}

  /** One RTP packet arrived at `nowMs`. */
  packet(p: Buffer, nowMs: number): void {
    const ssrc = p.readUInt32BE(8);
    const seq = p.readUInt16BE(2);
    if (ssrc !== this.ssrc) {
      this.ssrc = ssrc;
      this.#base = seq;
      this.#maxSeq = seq;
      this.#cycles = 0;
      this.#received = 0;
      this.#expectedPrior = 0;
      this.#receivedPrior = 0;
      this.#transit = undefined;
      this.#jitter = 0;
      this.#lastSr = 0;
    }
    const delta = (seq - this.#maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.#maxSeq) this.#cycles += 0x10000;
      this.#maxSeq = seq;
    }
    this.#received++;
    const transit = (nowMs * this.clockRate) / 1000 - p.readUInt32BE(4);
    if (this.#transit !== undefined) {
      const d = Math.abs(transit - this.#transit);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#transit = transit;
  }

  /** The publisher's sender report arrived at `nowMs`. */
  senderReport(ntpHigh: number, ntpLow: number, nowMs: number): void {
    this.#lastSr = ((ntpHigh & 0xffff) * 0x10000 + (ntpLow >>> 16)) >>> 0;
    this.#lastSrAt = nowMs;
  }

  /** A receiver report with this stream's report block, or undefined before any packet. */
  report(sender: number, nowMs: number): Buffer | undefined {
    if (this.#received === 0) return undefined;
    const extMax = this.#cycles + this.#maxSeq;
    const expected = extMax - this.#base + 1;
    const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.#received));
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction =
      expectedInterval <= 0 || lostInterval <= 0
        ? 0
        : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    const dlsr = this.#lastSr ? Math.round(((nowMs - this.#lastSrAt) * 65536) / 1000) : 0;
    const b = Buffer.allocUnsafe(32);
    b[0] = 0x81;
    b[1] = 201;
    b.writeUInt16BE(7, 2);
    b.writeUInt32BE(sender >>> 0, 4);
    b.writeUInt32BE(this.ssrc >>> 0, 8);
    b.writeUInt32BE(((fraction << 24) | (lost & 0xffffff)) >>> 0, 12);
    b.writeUInt32BE(extMax >>> 0, 16);
    b.writeUInt32BE(Math.round(this.#jitter) >>> 0, 20);
    b.writeUInt32BE(this.#lastSr, 24);
    b.writeUInt32BE(dlsr >>> 0, 28);
    return b;
  }
}

/**
 * The last packets of one published stream by sequence number, to answer receivers' NACKs:
 * a fixed ring (memory bounded by `size` packets), an entry valid only while it still holds
 * that very sequence number of that SSRC.
 */
export class PacketCache {
  readonly #ring: (Buffer | undefined)[];
  readonly #mask: number;

  constructor(size = 512) {
    if (size & (size - 1)) throw new Error('the cache size is a power of two');
    this.#ring = new Array(size);
    this.#mask = size - 1;
  }

  put(packet: Buffer): void {
    this.#ring[packet.readUInt16BE(2) & this.#mask] = packet;
  }

  get(ssrc: number, seq: number): Buffer | undefined {
    const p = this.#ring[seq & this.#mask];
    return p && p.readUInt16BE(2) === seq && p.readUInt32BE(8) === ssrc ? p : undefined;
  }

  clear(): void {
    this.#ring.fill(undefined);
  }
}

/** Clock ticks of one frame interval, for the gap left when a slot changes its source. */
const ticksPerGap = { audio: 960, video: 3000 } as const;

/**
 * Rewrites one forwarded stream for one receiver: a fixed SSRC and payload type, and sequence
 * numbers and timestamps that continue without a jump when the source behind the slot changes
 * (another publisher, or the same one restarting with a new SSRC).
 */
export class RtpRewriter {
  #source: number | undefined;
  #seqDelta = 0;
  #tsDelta = 0;
  #lastSeq = -1;
  #lastTs = 0;
  #started = false;

  constructor(
    readonly ssrc: number,
    private readonly kind: 'audio' | 'video',
    private readonly payloadType: number,
  ) {}

  /** The next packet starts a new source: continue from where the last one ended. */
  reset(): void {
    this.#source = undefined;
  }

  /** The SSRC of the source packets now come from, once one came. */
  get source(): number | undefined {
    return this.#source;
  }

  /** The source's sequence number behind one this slot sent. */
  sourceSeq(outSeq: number): number {
    return (outSeq - this.#seqDelta) & 0xffff;
  }

  /** A source timestamp as this slot sends it, if `ssrc` is the current source. */
  timestamp(ssrc: number, ts: number): number | undefined {
    return ssrc === this.#source ? (ts + this.#tsDelta) >>> 0 : undefined;
  }

  /**
   * Writes the rewritten packet into `out` and returns it: a new buffer, or one of the same
   * length that an earlier rewrite of this packet filled (only the header fields differ).
   */
  rewrite(packet: Buffer, out?: Buffer): Buffer {
    if (!out) out = Buffer.from(packet);
    else if (out !== packet && out.length !== packet.length)
      throw new RangeError('rewrite: out must be as long as the packet');
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    if (this.#source !== ssrc) {
      this.#source = ssrc;
      if (this.#started) {
        this.#seqDelta = (this.#lastSeq + 1 - seq) & 0xffff;
        this.#tsDelta = (this.#lastTs + ticksPerGap[this.kind] - ts) >>> 0;
      } else {
        this.#seqDelta = 0;
        this.#tsDelta = 0;
      }
    }
    const outSeq = (seq + this.#seqDelta) & 0xffff;
    const outTs = (ts + this.#tsDelta) >>> 0;
    // Keep the highest sequence sent (retransmitted or reordered packets arrive older).
    if (!this.#started || ((outSeq - this.#lastSeq) & 0xffff) < 0x8000) {
      this.#lastSeq = outSeq;
      this.#lastTs = outTs;
    }
    this.#started = true;
    out[1] = ((packet[1] ?? 0) & 0x80) | (this.payloadType & 0x7f);
    out.writeUInt16BE(outSeq, 2);
    out.writeUInt32BE(outTs, 4);
    out.writeUInt32BE(this.ssrc, 8);
    return out;
  }
}

export type Feedback =
  | { kind: 'pli'; mediaSsrc: number }
  | { kind: 'fir'; mediaSsrc: number }
  | { kind: 'nack'; mediaSsrc: number; lost: number[] }
  | { kind: 'remb'; bitrate: number; ssrcs: number[] };

/** The feedback in one compound RTCP packet; malformed parts are skipped, never thrown. */
export function parseFeedback(packet: Buffer): Feedback[] {
  const found: Feedback[] = [];
  let off = 0;
  while (off + 4 <= packet.length) {
    const first = packet[off] ?? 0;
    if (first >> 6 !== 2) break;
    const fmt = first & 0x1f;
    const pt = packet[off + 1] ?? 0;
    const len = (packet.readUInt16BE(off + 2) + 1) * 4;
    if (off + len > packet.length) break;
    if (len >= 12) {
      const media = packet.readUInt32BE(off + 8);
      if (pt === 206 && fmt === 1) found.push({ kind: 'pli', mediaSsrc: media });
      else if (pt === 206 && fmt === 4 && len >= 20)
        found.push({ kind: 'fir', mediaSsrc: packet.readUInt32BE(off + 12) });
      else if (
        pt === 206 &&
        fmt === 15 &&
        len >= 20 &&
        packet.toString('latin1', off + 12, off + 16) === 'REMB'
      ) {
        const n = packet[off + 16] ?? 0;
        const exp = (packet[off + 17] ?? 0) >> 2;
        const mantissa = (((packet[off + 17] ?? 0) & 0x03) << 16) | packet.readUInt16BE(off + 18);
        const ssrcs: number[] = [];
        for (let i = 0; i < n && off + 20 + i * 4 + 4 <= off + len; i++)
          ssrcs.push(packet.readUInt32BE(off + 20 + i * 4));
        found.push({ kind: 'remb', bitrate: mantissa * 2 ** exp, ssrcs });
      } else if (pt === 205 && fmt === 1) {
        const lost: number[] = [];
        for (let i = off + 12; i + 4 <= off + len; i += 4) {
          const pid = packet.readUInt16BE(i);
          const blp = packet.readUInt16BE(i + 2);
          lost.push(pid);
          for (let b = 0; b < 16; b++) if (blp & (1 << b)) lost.push((pid + b + 1) & 0xffff);
        }
        found.push({ kind: 'nack', mediaSsrc: media, lost });
      }
    }
    off += len;
  }
  return found;
}
