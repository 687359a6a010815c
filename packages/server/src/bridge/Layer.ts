import { KeyframeGate } from './KeyframeGate.js';
import { LossTracker } from './LossTracker.js';
import { PacketCache } from './PacketCache.js';
import { ReceiveStats } from './ReceiveStats.js';

/** Packets kept per published video layer to answer NACKs (about 1.5 s at 1.7 Mbit/s). */
export const nackCacheSize = 256;

/** A layer counts as sending while its last packet is younger than this. */
export const layerIdleMs = 1000;
/** A layer is chosen above what a receiver gets only once it sent this long without a pause
 * (mediasoup waits 2 s too): a publisher that just turned it on may turn it off again. */
export const layerSettleMs = 2000;
/** Bitrates are averaged over about this long (an exponential average per rate sample). */
const rateSmoothing = 0.5;

/**
 * One RTP stream a publisher sends on one m-line: the only one of a camera without simulcast,
 * or one spatial layer of a simulcast camera (index 0 the lowest). Its own receive statistics,
 * NACK cache, upstream loss tracking and keyframe requests (Chromium answers a PLI for one
 * simulcast SSRC with a keyframe on that layer only), and what the allocator needs to know:
 * whether it sends, its bitrate in total and up to each temporal layer, and its picture size
 * from its last keyframe.
 */
export class Layer {
  readonly stats: ReceiveStats;
  readonly cache: PacketCache | undefined;
  readonly loss: LossTracker | undefined;
  readonly keyframes: KeyframeGate;
  /** From its last keyframe (0 until one came). */
  width = 0;
  height = 0;
  /** When its current run of packets began, and its last packet came (performance.now()). */
  activeSince = -1;
  lastAt = Number.NEGATIVE_INFINITY;
  /** Bits per second, smoothed: of everything, and of temporal layers 0, 0-1 and 0-2. */
  bitrate = 0;
  readonly temporalBitrates = new Float64Array(3);
  /** Bytes since the last rate sample, in all and per temporal layer (per packet, no allocation). */
  #bytes = 0;
  readonly #temporalBytes = new Float64Array(3);
  #sampledAt = -1;

  constructor(
    public ssrc: number,
    readonly index: number,
    video: boolean,
    requestKeyframe: (layer: Layer) => void,
  ) {
    this.stats = new ReceiveStats(video ? 90_000 : 48_000);
    this.cache = video ? new PacketCache(nackCacheSize) : undefined;
    this.loss = video ? new LossTracker() : undefined;
    this.keyframes = new KeyframeGate(() => requestKeyframe(this));
  }

  /** One of its packets arrived (`tid` -1 for a stream without temporal layers). */
  packet(bytes: number, tid: number, now: number): void {
    if (now - this.lastAt > layerIdleMs) this.activeSince = now;
    this.lastAt = now;
    this.#bytes += bytes;
    const t = tid > 0 ? (tid > 2 ? 2 : tid) : 0;
    this.#temporalBytes[t] = (this.#temporalBytes[t] ?? 0) + bytes;
  }

  /** Sending now. */
  active(now: number): boolean {
    return now - this.lastAt <= layerIdleMs;
  }

  /** Sending for at least `layerSettleMs` without a pause. */
  settled(now: number): boolean {
    return this.active(now) && now - this.activeSince >= layerSettleMs;
  }

  /** Updates the bitrates from the bytes since the last call (about once a second). */
  sampleRate(now: number): void {
    const elapsed = now - this.#sampledAt;
    if (this.#sampledAt < 0 || elapsed <= 0) {
      this.#sampledAt = now;
      this.#bytes = 0;
      this.#temporalBytes.fill(0);
      return;
    }
    const toBps = 8000 / elapsed;
    const idle = !this.active(now);
    this.bitrate = idle ? 0 : smooth(this.bitrate, this.#bytes * toBps);
    let upTo = 0;
    for (let t = 0; t < 3; t++) {
      upTo += this.#temporalBytes[t] ?? 0;
      this.temporalBitrates[t] = idle ? 0 : smooth(this.temporalBitrates[t] ?? 0, upTo * toBps);
    }
    this.#sampledAt = now;
    this.#bytes = 0;
    this.#temporalBytes.fill(0);
  }

  close(): void {
    this.keyframes.close();
  }
}

function smooth(prev: number, sample: number): number {
  return prev === 0 ? sample : prev + (sample - prev) * rateSmoothing;
}
