import { randomInt } from 'node:crypto';
import ndc from 'node-datachannel';
import type { Endpoint } from './Endpoint.js';
import type { Layer } from './Layer.js';
import { RtpRewriter } from './RtpRewriter.js';
import { SentHistory } from './SentHistory.js';
import type { Source } from './Source.js';
import { payloadTypes } from './sdp.js';
import { Vp8Munger } from './Vp8Munger.js';

/** The endpoint's part of whether a slot can send: connected, and how far answers reached. */
export interface SlotLink {
  readonly connected: boolean;
  /** The endpoint's change count that its last answer set covered. */
  readonly answered: number;
}

/**
 * One sendonly m-line at a receiver, forwarding one source. A slot serves one source for its
 * whole life and is never reused: when that source stops (or leaves) the slot is freed, its
 * m-line goes `inactive` and stays in the session, and a stream that starts later gets a new
 * slot with a new mid. Chromium decodes but never renders a receiver track whose m-line went
 * inactive and came back with another SSRC. Freed slots still count towards the session's
 * m-line limit (`Endpoint.attach`), which is why a full session asks for a new one.
 *
 * The plain fields belong to the forwarder's hot path, which reads them per packet per
 * receiver (with a getter and a method call there the 1 × 50 fan-out benchmark measured 15-20%
 * more CPU per packet); only the endpoint sets `track` (`placed`) and what the slot forwards.
 */
export class Slot {
  readonly rewriter: RtpRewriter;
  /** Video: the VP8 picture numbering across layer switches, and what went out for NACKs. */
  readonly munger: Vp8Munger | undefined;
  readonly history: SentHistory | undefined;
  /** The m-line's track, once placed in the peer connection. */
  track: ndc.Track | undefined;
  /**
   * Video: the layer forwarded now (undefined: none yet, or stopped), the index of the one the
   * allocator chose (-1: none, the receiver does not show it), which replaces it at its next
   * keyframe, and the highest temporal layer forwarded. A video slot forwards from a keyframe
   * on: delta frames before it cannot be decoded.
   */
  layer: Layer | undefined;
  target = 0;
  maxTemporal = 2;
  /** Sent on this slot, for its sender reports. */
  packets = 0;
  octets = 0;
  #source: Source | undefined;
  /** The endpoint's `described` count when this m-line last changed: it is negotiated once an
   * answer to an offer made after that is set. */
  #version = 0;

  constructor(
    readonly endpoint: Endpoint,
    readonly mid: string,
    readonly kind: 'audio' | 'video',
    source: Source,
    private readonly link: SlotLink,
  ) {
    const pt = kind === 'audio' ? payloadTypes.opus : payloadTypes.vp8;
    this.rewriter = new RtpRewriter(randomInt(1, 0xffffffff), kind, pt);
    this.munger = kind === 'video' ? new Vp8Munger() : undefined;
    this.history = kind === 'video' ? new SentHistory() : undefined;
    this.#source = source;
  }

  /** The allocator's choice: layer `index` (-1: none) with temporal layers up to `temporal`.
   * Returns whether a keyframe of that layer is needed (a switch to it is pending). */
  choose(index: number, temporal: number): boolean {
    this.maxTemporal = temporal;
    this.target = index;
    if (index < 0) {
      this.layer = undefined; // stops at once: nothing more for a tile not shown
      return false;
    }
    // The same object, not just the same index: a publisher that restarted its stream (or
    // named other SSRCs) has new layers, and the slot needs a keyframe of the new one.
    return this.layer === undefined || this.layer !== this.#source?.layers[index];
  }

  /** The source forwarded here; undefined once the slot is freed (for good). */
  get source(): Source | undefined {
    return this.#source;
  }

  /**
   * Whether packets can go out on this m-line: negotiated, on a connected peer connection. Kept
   * in JavaScript rather than asked of the track (a native call per packet) or learnt from its
   * open/closed events (each event callback is a libuv handle that every wake-up of the event
   * loop scans, which costs more than the packets themselves in a large conference).
   */
  get open(): boolean {
    return this.link.connected && this.#version <= this.link.answered;
  }

  /** Frees the slot: its source is gone or stopped. */
  free(): void {
    this.#source = undefined;
    this.layer = undefined;
  }

  /** Its m-line was put into the peer connection as change number `version`. */
  placed(track: ndc.Track, version: number): void {
    this.track = track;
    this.#version = version;
  }

  /** The m-line as it should stand in the next offer. */
  describe(): ndc.Audio | ndc.Video {
    const source = this.#source;
    const dir = source ? 'SendOnly' : 'Inactive';
    const media =
      this.kind === 'audio' ? new ndc.Audio(this.mid, dir) : new ndc.Video(this.mid, dir);
    if (media instanceof ndc.Audio) media.addOpusCodec(payloadTypes.opus);
    else (media as ndc.Video).addVP8Codec(payloadTypes.vp8);
    if (source) {
      media.addSSRC(
        this.rewriter.ssrc,
        `confab-${source.endpoint.user}`,
        source.endpoint.user,
        `${source.source}-${source.endpoint.id}`,
      );
    }
    return media;
  }
}
