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

  /** Writes the rewritten packet into `out` (same length as `packet`) and returns it. */
  rewrite(packet: Buffer, out: Buffer = Buffer.allocUnsafe(packet.length)): Buffer {
    if (out !== packet) packet.copy(out);
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
