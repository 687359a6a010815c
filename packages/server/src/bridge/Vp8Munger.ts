import { rtpPayloadOffset } from './rtp.js';

/** Where a VP8 payload descriptor's picture fields are (RFC 7741 §4.2), -1 for absent. */
export interface Vp8Descriptor {
  /** Offset of the PictureID's first byte. */
  pictureId: number;
  /** 15 bits (M set) or 7. */
  longPictureId: boolean;
  tl0PicIdx: number;
  /** Offset of the TID/Y/KEYIDX byte when K is set (KEYIDX present). */
  keyIdx: number;
  /** The packet starts a VP8 frame (S set, partition 0). */
  frameStart: boolean;
}

const absent: Vp8Descriptor = {
  pictureId: -1,
  longPictureId: false,
  tl0PicIdx: -1,
  keyIdx: -1,
  frameStart: false,
};

/**
 * Reads where the descriptor's PictureID, TL0PICIDX and KEYIDX sit in an RTP packet's payload.
 * A truncated descriptor yields what is whole and nothing past the packet's end.
 */
export function vp8Descriptor(p: Buffer): Vp8Descriptor {
  let off = rtpPayloadOffset(p);
  const d = p[off];
  if (d === undefined) return absent;
  const frameStart = (d & 0x10) !== 0 && (d & 0x07) === 0;
  if (!(d & 0x80)) return { ...absent, frameStart };
  const x = p[++off];
  if (x === undefined) return { ...absent, frameStart };
  off++;
  let pictureId = -1;
  let longPictureId = false;
  if (x & 0x80) {
    const first = p[off];
    if (first === undefined) return { ...absent, frameStart };
    longPictureId = (first & 0x80) !== 0;
    if (off + (longPictureId ? 2 : 1) > p.length) return { ...absent, frameStart };
    pictureId = off;
    off += longPictureId ? 2 : 1;
  }
  let tl0PicIdx = -1;
  if (x & 0x40) {
    if (off >= p.length) return { ...absent, frameStart, pictureId, longPictureId };
    tl0PicIdx = off++;
  }
  let keyIdx = -1;
  if (x & 0x30 && off < p.length && x & 0x10) keyIdx = off;
  return { pictureId, longPictureId, tl0PicIdx, keyIdx, frameStart };
}

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
    const d = vp8Descriptor(packet);
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
