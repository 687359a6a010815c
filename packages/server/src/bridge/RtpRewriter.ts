/** Clock ticks of one frame interval, for the gap left when the stream's source changes. */
const ticksPerGap = { audio: 960, video: 3000 } as const;

/**
 * Rewrites one forwarded stream for one receiver: a fixed SSRC and payload type, and sequence
 * numbers and timestamps that continue without a jump when the packets' source changes. In the
 * bridge a slot forwards one publisher's stream for its whole life (see `Slot`), so the source
 * changes when that publisher restarts the stream with a new SSRC; a simulcast layer switch is
 * the same change.
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

  /** The next packet starts a new source, even with the same SSRC: continue from where the last
   * one ended. */
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
