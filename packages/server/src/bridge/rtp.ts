/**
 * RTP and RTCP on raw bytes, as the bridge needs them per packet: pure functions that read the
 * few header fields, build the bridge's own RTCP (PLI, NACK, REMB, sender reports) and find the
 * feedback (PLI, FIR, NACK, REMB) in a receiver's compound RTCP. RFC 3550, 4585, 5104. The
 * stateful parts have a file each: `RtpRewriter`, `PacketCache`, `ReceiveStats`, `LossTracker`.
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
 * Where a VP8 payload descriptor's fields sit in an RTP packet (RFC 7741 §4.2), -1 where a field
 * is absent or cut off. Filled in place by `readVp8Descriptor`, so the per-packet path keeps
 * one and allocates nothing.
 */
export interface Vp8Descriptor {
  /** The packet starts a VP8 frame (S set, partition 0). */
  frameStart: boolean;
  /** Offset of the PictureID's first byte. */
  pictureId: number;
  /** The PictureID is 15 bits (M set), else 7. */
  longPictureId: boolean;
  tl0PicIdx: number;
  /** Offset of the TID/Y/KEYIDX byte when K is set (KEYIDX present). */
  keyIdx: number;
  /** The temporal layer (TID) when T is set, else -1 (a stream without temporal layers). */
  tid: number;
  /** Offset of the VP8 payload header, after the descriptor. */
  header: number;
}

export function newVp8Descriptor(): Vp8Descriptor {
  return {
    frameStart: false,
    pictureId: -1,
    longPictureId: false,
    tl0PicIdx: -1,
    keyIdx: -1,
    tid: -1,
    header: -1,
  };
}

/** Reads the VP8 payload descriptor of `p` into `d` (and returns `d`); never past the packet. */
export function readVp8Descriptor(p: Buffer, d: Vp8Descriptor): Vp8Descriptor {
  d.frameStart = false;
  d.pictureId = -1;
  d.longPictureId = false;
  d.tl0PicIdx = -1;
  d.keyIdx = -1;
  d.tid = -1;
  d.header = -1;
  let off = rtpPayloadOffset(p);
  const first = p[off];
  if (first === undefined) return d;
  d.frameStart = (first & 0x10) !== 0 && (first & 0x07) === 0;
  off++;
  if (first & 0x80) {
    const x = p[off++];
    if (x === undefined) return d;
    if (x & 0x80) {
      const m = p[off];
      if (m === undefined) return d;
      const long = (m & 0x80) !== 0;
      if (off + (long ? 2 : 1) > p.length) return d;
      d.pictureId = off;
      d.longPictureId = long;
      off += long ? 2 : 1;
    }
    if (x & 0x40) {
      if (off >= p.length) return d;
      d.tl0PicIdx = off++;
    }
    if (x & 0x30) {
      if (off >= p.length) return d;
      if (x & 0x10) d.keyIdx = off;
      if (x & 0x20) d.tid = (p[off] ?? 0) >> 6;
      off++;
    }
  }
  if (off < p.length) d.header = off;
  return d;
}

const keyframeScratch = newVp8Descriptor();

/**
 * Whether a VP8 RTP packet starts a keyframe (RFC 7741: S bit and partition 0 in the payload
 * descriptor, then the P bit of the VP8 frame header clear).
 */
export function isVp8Keyframe(p: Buffer): boolean {
  const d = readVp8Descriptor(p, keyframeScratch);
  return d.frameStart && d.header >= 0 && ((p[d.header] ?? 1) & 0x01) === 0;
}

/**
 * The picture size a VP8 keyframe starts with (RFC 6386 §9.1: the 3-byte frame tag, the start
 * code 9d 01 2a, then 14-bit width and height), written into `size`; false when `p` (with `d`
 * read from it) is no keyframe start or is cut off.
 */
export function vp8KeyframeSize(
  p: Buffer,
  d: Vp8Descriptor,
  size: { width: number; height: number },
): boolean {
  const h = d.header;
  if (!d.frameStart || h < 0 || h + 10 > p.length || ((p[h] ?? 1) & 0x01) !== 0) return false;
  // The frame tag's P bit is clear on a keyframe; the start code follows it.
  if (p[h + 3] !== 0x9d || p[h + 4] !== 0x01 || p[h + 5] !== 0x2a) return false;
  size.width = p.readUInt16LE(h + 6) & 0x3fff;
  size.height = p.readUInt16LE(h + 8) & 0x3fff;
  return true;
}

/**
 * Whether an RTP packet carries nothing but padding (P set, the padding as long as the payload):
 * a sender's bandwidth probe, which the bridge drops rather than forwards.
 */
export function isPaddingOnly(p: Buffer): boolean {
  if (!((p[0] ?? 0) & 0x20)) return false;
  const pad = p[p.length - 1] ?? 0;
  return pad > 0 && rtpPayloadOffset(p) + pad >= p.length;
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

export type Feedback =
  | { kind: 'pli'; mediaSsrc: number }
  | { kind: 'fir'; mediaSsrc: number }
  | { kind: 'nack'; mediaSsrc: number; lost: number[] }
  | { kind: 'remb'; bitrate: number; ssrcs: number[] }
  /** A report block of a receiver or sender report: the share of packets lost (of 256). */
  | { kind: 'loss'; mediaSsrc: number; fraction: number };

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
    if (pt === 200 || pt === 201) {
      // Report blocks (24 bytes each) after the header, and after a sender report's info.
      const count = first & 0x1f;
      let block = off + (pt === 200 ? 28 : 8);
      for (let i = 0; i < count && block + 24 <= off + len; i++, block += 24)
        found.push({
          kind: 'loss',
          mediaSsrc: packet.readUInt32BE(block),
          fraction: packet[block + 4] ?? 0,
        });
    } else if (len >= 12) {
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
