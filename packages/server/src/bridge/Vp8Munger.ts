import { newVp8Descriptor, readVp8Descriptor, type Vp8Descriptor } from './rtp.js';

/**
 * The PictureID's number space: 15 bits, or 7 for a source that writes short ones (Chromium
 * writes 15). Across sources of different widths the low 7 bits stay continuous.
 */
function pictureMod(d: Vp8Descriptor): number {
  return d.longPictureId ? 0x8000 : 0x80;
}

/**
 * Keeps one forwarded VP8 stream's picture numbering continuous for its receiver when the packets'
 * source changes (a simulcast layer switch, or a publisher that restarted its camera): without
 * it, PictureID and TL0PICIDX jump at the switch, and Chromium's decoder was measured here to
 * freeze for good on some such jumps (media-notes "Simulcast through node-datachannel"). Each
 * source's PictureID, TL0PICIDX and KEYIDX are shifted so that the first picture after a switch
 * follows the last one sent; within a source they keep their own steps (a gap stays a gap, so
 * the receiver still sees what was lost). A switch is only made at a keyframe, so the receiver
 * needs nothing of the old source after it.
 *
 * Rewrites in place and allocates nothing per packet. Like `RtpRewriter`, it writes every field
 * it may change, so receivers can share one copy of a packet in turn.
 */
export class Vp8Munger {
  readonly #d = newVp8Descriptor();
  #started = false;
  #pendingSwitch = true;
  #pictureDelta = 0;
  #tl0Delta = 0;
  #keyIdxDelta = 0;
  /** The highest PictureID, TL0PICIDX and KEYIDX sent, as sent. */
  #lastPicture = 0;
  #lastTl0 = 0;
  #lastKeyIdx = 0;
  /** The last source PictureID dropped (-1: none since the switch). */
  #droppedPicture = -1;
  /** What the last `munge` wrote (-1 where the packet has no such field), for retransmissions. */
  writtenPicture = -1;
  writtenTl0 = -1;
  writtenKeyIdx = -1;

  /** The next packet comes from a new source: its numbering continues from what was sent. */
  switchSource(): void {
    this.#pendingSwitch = true;
  }

  /**
   * A packet of the current source that is not forwarded (a temporal layer the receiver does
   * not get): a picture dropped whole closes up, so the PictureIDs sent stay continuous.
   */
  drop(packet: Buffer): void {
    if (this.#pendingSwitch) return;
    const d = readVp8Descriptor(packet, this.#d);
    if (d.pictureId < 0 || !d.frameStart) return;
    const picture = readPictureId(packet, d);
    if (picture === this.#droppedPicture) return;
    this.#droppedPicture = picture;
    this.#pictureDelta = mod(this.#pictureDelta - 1, 0x8000);
  }

  /**
   * Writes the descriptor of `from` as this receiver gets it into `into`: the receiver's copy
   * of the packet, which may be `from` itself or one an earlier receiver's munger wrote (every
   * field it may change is written, and read from `from`).
   */
  munge(from: Buffer, into: Buffer = from): void {
    const d = readVp8Descriptor(from, this.#d);
    this.writtenPicture = -1;
    this.writtenTl0 = -1;
    this.writtenKeyIdx = -1;
    if (d.pictureId < 0 && d.tl0PicIdx < 0 && d.keyIdx < 0) return;
    const inPicture = d.pictureId < 0 ? -1 : readPictureId(from, d);
    const inTl0 = d.tl0PicIdx < 0 ? -1 : (from[d.tl0PicIdx] ?? 0);
    const inKeyIdx = d.keyIdx < 0 ? -1 : (from[d.keyIdx] ?? 0) & 0x1f;
    if (this.#pendingSwitch) {
      this.#pendingSwitch = false;
      this.#droppedPicture = -1;
      // The first source keeps its own numbering; each later one follows what was sent.
      if (this.#started) {
        if (inPicture >= 0)
          this.#pictureDelta = mod(this.#lastPicture + 1 - inPicture, pictureMod(d));
        if (inTl0 >= 0) this.#tl0Delta = (this.#lastTl0 + 1 - inTl0) & 0xff;
        if (inKeyIdx >= 0) this.#keyIdxDelta = (this.#lastKeyIdx + 1 - inKeyIdx) & 0x1f;
      }
    }
    if (inPicture >= 0) {
      const m = pictureMod(d);
      const out = (inPicture + this.#pictureDelta) % m;
      writePictureId(into, d, out);
      this.writtenPicture = out;
      if (!this.#started || newer(out, this.#lastPicture % m, m)) this.#lastPicture = out;
    }
    if (inTl0 >= 0) {
      const out = (inTl0 + this.#tl0Delta) & 0xff;
      into[d.tl0PicIdx] = out;
      this.writtenTl0 = out;
      if (!this.#started || newer(out, this.#lastTl0, 0x100)) this.#lastTl0 = out;
    }
    if (inKeyIdx >= 0) {
      const out = (inKeyIdx + this.#keyIdxDelta) & 0x1f;
      into[d.keyIdx] = ((from[d.keyIdx] ?? 0) & 0xe0) | out;
      this.writtenKeyIdx = out;
      if (!this.#started || newer(out, this.#lastKeyIdx, 0x20)) this.#lastKeyIdx = out;
    }
    this.#started = true;
  }
}

/**
 * Writes PictureID, TL0PICIDX and KEYIDX as they were once sent (-1: leave) into a copy of the
 * packet they were sent with: a retransmission carries exactly what the first one did.
 */
export function writeVp8Fields(
  p: Buffer,
  d: Vp8Descriptor,
  picture: number,
  tl0: number,
  keyIdx: number,
): void {
  if (picture >= 0 && d.pictureId >= 0) writePictureId(p, d, picture);
  if (tl0 >= 0 && d.tl0PicIdx >= 0) p[d.tl0PicIdx] = tl0 & 0xff;
  if (keyIdx >= 0 && d.keyIdx >= 0) p[d.keyIdx] = ((p[d.keyIdx] ?? 0) & 0xe0) | (keyIdx & 0x1f);
}

function readPictureId(p: Buffer, d: Vp8Descriptor): number {
  const first = p[d.pictureId] ?? 0;
  return d.longPictureId ? ((first & 0x7f) << 8) | (p[d.pictureId + 1] ?? 0) : first & 0x7f;
}

/** Writes a 15-bit PictureID into the field as wide as the source wrote it (7 bits: the low). */
function writePictureId(p: Buffer, d: Vp8Descriptor, value: number): void {
  if (d.longPictureId) {
    p[d.pictureId] = 0x80 | ((value >> 8) & 0x7f);
    p[d.pictureId + 1] = value & 0xff;
  } else p[d.pictureId] = value & 0x7f;
}

function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}

/** `a` follows `b` in a sequence space of size `m` (less than half way round ahead). */
function newer(a: number, b: number, m: number): boolean {
  const diff = mod(a - b, m);
  return diff !== 0 && diff < m / 2;
}
