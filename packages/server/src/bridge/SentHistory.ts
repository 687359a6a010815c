/** How many of a slot's last video packets can be sent again (a power of two). */
export const sentHistorySize = 256;

/**
 * What a video slot sent under each of its last sequence numbers: from which layer's SSRC and
 * sequence number, with which timestamp and VP8 picture numbering. A receiver's NACK names the
 * slot's numbers; this finds the packet in its layer's cache and how to send it again exactly as
 * it went out, even after a layer switch or a change of offsets. Typed arrays, filled in place.
 */
export class SentHistory {
  readonly #seq = new Int32Array(sentHistorySize).fill(-1);
  readonly #ssrc = new Uint32Array(sentHistorySize);
  readonly #sourceSeq = new Int32Array(sentHistorySize);
  readonly #ts = new Uint32Array(sentHistorySize);
  readonly #picture = new Int32Array(sentHistorySize);
  readonly #tl0 = new Int16Array(sentHistorySize);
  readonly #keyIdx = new Int8Array(sentHistorySize);
  /** The last `find`'s answer. */
  ssrc = 0;
  sourceSeq = 0;
  timestamp = 0;
  picture = -1;
  tl0 = -1;
  keyIdx = -1;

  put(
    seq: number,
    ssrc: number,
    sourceSeq: number,
    ts: number,
    picture: number,
    tl0: number,
    keyIdx: number,
  ): void {
    const i = seq & (sentHistorySize - 1);
    this.#seq[i] = seq;
    this.#ssrc[i] = ssrc;
    this.#sourceSeq[i] = sourceSeq;
    this.#ts[i] = ts;
    this.#picture[i] = picture;
    this.#tl0[i] = tl0;
    this.#keyIdx[i] = keyIdx;
  }

  /** Whether `seq` was sent recently (a padding probe is not kept); the fields tell what. */
  find(seq: number): boolean {
    const i = seq & (sentHistorySize - 1);
    if (this.#seq[i] !== seq) return false;
    this.ssrc = this.#ssrc[i] ?? 0;
    this.sourceSeq = this.#sourceSeq[i] ?? 0;
    this.timestamp = this.#ts[i] ?? 0;
    this.picture = this.#picture[i] ?? -1;
    this.tl0 = this.#tl0[i] ?? -1;
    this.keyIdx = this.#keyIdx[i] ?? -1;
    return true;
  }

  /** A sequence number now used by something not kept (padding): its old entry is no answer. */
  forget(seq: number): void {
    const i = seq & (sentHistorySize - 1);
    if (this.#seq[i] === seq) this.#seq[i] = -1;
  }
}
