/** The most changes of the sequence offset remembered per source (drops and probes). */
const maxOffsetChanges = 32;
/** Clock rates, for the timestamp gap left when the stream's source changes. */
const clockRate = { audio: 48_000, video: 90_000 } as const;
/** The least timestamp step across a source change: one frame (20 ms audio, 1/30 s video). */
const minGap = { audio: 960, video: 3000 } as const;

/**
 * Rewrites one forwarded stream for one receiver: a fixed SSRC and payload type, and sequence
 * numbers and timestamps that continue without a jump when the packets' source changes (a
 * simulcast layer switch, or a publisher restarting its stream with a new SSRC).
 *
 * Packets of the source that are not forwarded (`drop`: padding-only probes, temporal layers the
 * receiver does not get) and the bridge's own padding (`padding`) shift the sequence offset, so
 * the receiver sees no gap where nothing was lost. Each shift is remembered from the source
 * sequence number on which it applies, so a packet that arrives late (reordered, or a
 * publisher's retransmission) still gets the number it would have had; one from before the
 * source's first packet forwarded gets none (`rewrite` returns undefined).
 */
export class RtpRewriter {
  #source: number | undefined;
  #seqDelta = 0;
  #tsDelta = 0;
  /** The highest sequence number and its timestamp sent, and when (performance.now()). */
  #lastSeq = -1;
  #lastTs = 0;
  #lastAt = 0;
  #started = false;
  /** The highest source sequence number seen of the current source. */
  #highestIn = 0;
  /** Offset changes of the current source, a ring: from source sequence `from` on, `delta`. */
  readonly #from = new Int32Array(maxOffsetChanges);
  readonly #delta = new Int32Array(maxOffsetChanges);
  #changes = 0;
  #newest = -1;

  constructor(
    readonly ssrc: number,
    private readonly kind: 'audio' | 'video',
    private readonly payloadType: number,
  ) {}

  /** Writes this slot's header fields into a copy of a packet it sent before (a retransmission). */
  stamp(out: Buffer, seq: number, ts: number): void {
    out[1] = ((out[1] ?? 0) & 0x80) | (this.payloadType & 0x7f);
    out.writeUInt16BE(seq & 0xffff, 2);
    out.writeUInt32BE(ts >>> 0, 4);
    out.writeUInt32BE(this.ssrc, 8);
  }

  /** The SSRC of the source packets now come from, once one came. */
  get source(): number | undefined {
    return this.#source;
  }

  /** The highest sequence number sent, and its timestamp (for the bridge's padding). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get lastTimestamp(): number {
    return this.#lastTs;
  }

  /** A source timestamp as this slot sends it, if `ssrc` is the current source. */
  timestamp(ssrc: number, ts: number): number | undefined {
    return ssrc === this.#source ? (ts + this.#tsDelta) >>> 0 : undefined;
  }

  /**
   * Writes the rewritten packet into `out` and returns it: a new buffer, or one of the same
   * length that an earlier rewrite of this packet filled (only the header fields differ).
   * Undefined (and nothing written) for a packet of the current source from before the first
   * one forwarded. `now`: performance.now(), for the timestamp step at a source change.
   */
  rewrite(packet: Buffer, out?: Buffer, now = performance.now()): Buffer | undefined {
    if (out && out !== packet && out.length !== packet.length)
      throw new RangeError('rewrite: out must be as long as the packet');
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    if (this.#source !== ssrc) this.#switchTo(ssrc, seq, ts, now);
    const delta = this.#deltaFor(seq);
    if (delta === undefined) return undefined;
    if (!out) out = Buffer.from(packet);
    const outSeq = (seq + delta) & 0xffff;
    const outTs = (ts + this.#tsDelta) >>> 0;
    // Keep the highest sequence sent (retransmitted or reordered packets arrive older).
    if (!this.#started || ((outSeq - this.#lastSeq) & 0xffff) < 0x8000) {
      this.#lastSeq = outSeq;
      this.#lastTs = outTs;
      this.#lastAt = now;
    }
    this.#started = true;
    out[1] = ((packet[1] ?? 0) & 0x80) | (this.payloadType & 0x7f);
    out.writeUInt16BE(outSeq, 2);
    out.writeUInt32BE(outTs, 4);
    out.writeUInt32BE(this.ssrc, 8);
    return out;
  }

  /** A packet of the current source that is not forwarded: the numbers after it close up. */
  drop(packet: Buffer, now = performance.now()): void {
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    if (this.#source !== ssrc) this.#switchTo(ssrc, seq, packet.readUInt32BE(4), now);
    // A late packet's number is already passed over by those after it: nothing to close.
    if (!newer(seq, this.#highestIn) && seq !== this.#highestIn) return;
    this.#highestIn = seq;
    this.#shift((seq + 1) & 0xffff, -1);
  }

  /**
   * Fills `out` (at least 12 bytes + `padding`) with a padding-only packet that continues the
   * stream (next sequence number, last timestamp) and returns its length; 0 before any packet.
   */
  padding(out: Buffer, padding: number): number {
    if (!this.#started || padding < 1 || padding > 255) return 0;
    const seq = (this.#lastSeq + 1) & 0xffff;
    this.#lastSeq = seq;
    // The source's next packet comes one number later than it would have.
    this.#shift((this.#highestIn + 1) & 0xffff, +1);
    const length = 12 + padding;
    out[0] = 0xa0; // version 2, padding
    out[1] = this.payloadType & 0x7f;
    out.writeUInt16BE(seq, 2);
    out.writeUInt32BE(this.#lastTs, 4);
    out.writeUInt32BE(this.ssrc, 8);
    out.fill(0, 12, length - 1);
    out[length - 1] = padding;
    return length;
  }

  #switchTo(ssrc: number, seq: number, ts: number, now: number): void {
    this.#source = ssrc;
    if (this.#started) {
      this.#seqDelta = (this.#lastSeq + 1 - seq) & 0xffff;
      // The time since the last packet sent, so that the receiver's clock keeps pace.
      const elapsed = Math.round(((now - this.#lastAt) * clockRate[this.kind]) / 1000);
      const gap = Math.max(minGap[this.kind], Math.min(elapsed, clockRate[this.kind] * 5));
      this.#tsDelta = (this.#lastTs + gap - ts) >>> 0;
    } else {
      this.#seqDelta = 0;
      this.#tsDelta = 0;
    }
    this.#highestIn = seq;
    this.#changes = 0;
    this.#newest = -1;
    this.#record(seq, this.#seqDelta);
  }

  #shift(from: number, by: number): void {
    this.#seqDelta = (this.#seqDelta + by) & 0xffff;
    this.#record(from, this.#seqDelta);
  }

  #record(from: number, delta: number): void {
    if (this.#changes > 0 && this.#from[this.#newest] === from) {
      this.#delta[this.#newest] = delta;
      return;
    }
    this.#newest = (this.#newest + 1) % maxOffsetChanges;
    this.#from[this.#newest] = from;
    this.#delta[this.#newest] = delta;
    if (this.#changes < maxOffsetChanges) this.#changes++;
  }

  /** The offset for source sequence `seq`: the newest change at or before it. */
  #deltaFor(seq: number): number | undefined {
    if (newer(seq, this.#highestIn)) {
      this.#highestIn = seq;
      return this.#seqDelta;
    }
    for (let i = 0, at = this.#newest; i < this.#changes; i++) {
      const from = this.#from[at] ?? 0;
      if (seq === from || newer(seq, from)) return this.#delta[at];
      at = (at + maxOffsetChanges - 1) % maxOffsetChanges;
    }
    return undefined;
  }
}

/** `a` follows `b` in 16-bit sequence space. */
function newer(a: number, b: number): boolean {
  const d = (a - b) & 0xffff;
  return d !== 0 && d < 0x8000;
}
