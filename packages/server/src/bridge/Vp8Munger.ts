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

  /** The next packet comes from a new source: its numbering continues from what was sent. */
  switchSource(): void {
    this.#pendingSwitch = true;
  }

  /** Rewrites the descriptor of `packet` (already copied for this receiver) in place. */
  munge(packet: Buffer): void {
    const d = readVp8Descriptor(packet, this.#d);
    if (d.pictureId < 0 && d.tl0PicIdx < 0 && d.keyIdx < 0) return;
    const inPicture = d.pictureId < 0 ? -1 : readPictureId(packet, d);
    const inTl0 = d.tl0PicIdx < 0 ? -1 : (packet[d.tl0PicIdx] ?? 0);
    const inKeyIdx = d.keyIdx < 0 ? -1 : (packet[d.keyIdx] ?? 0) & 0x1f;
    if (this.#pendingSwitch) {
      this.#pendingSwitch = false;
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
      writePictureId(packet, d, out);
      if (!this.#started || newer(out, this.#lastPicture % m, m)) this.#lastPicture = out;
    }
    if (inTl0 >= 0) {
      const out = (inTl0 + this.#tl0Delta) & 0xff;
      packet[d.tl0PicIdx] = out;
      if (!this.#started || newer(out, this.#lastTl0, 0x100)) this.#lastTl0 = out;
    }
    if (inKeyIdx >= 0) {
      const out = (inKeyIdx + this.#keyIdxDelta) & 0x1f;
      packet[d.keyIdx] = ((packet[d.keyIdx] ?? 0) & 0xe0) | out;
      if (!this.#started || newer(out, this.#lastKeyIdx, 0x20)) this.#lastKeyIdx = out;
    }
    this.#started = true;
  }
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
