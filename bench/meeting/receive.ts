/**
 * What the synthetic participants measure of what they receive. Every receiver counts RTP
 * packets (the denominator of CPU per forwarded packet); sampled receivers also follow each
 * stream's sequence numbers from its first keyframe (audio: its first packet) for loss, take
 * the one-way latency of every in-order packet from the send time in its trailer, and count
 * which layer arrived for the stage tile and for thumbnails. Nothing is allocated per packet.
 */
import { isVp8Keyframe } from '../../packages/server/src/bridge/rtp.js';
import { audioLayer, trailerBytes, trailerMagic } from './media.js';

/** Latencies in 10 µs bins up to 2 s (the last bin holds everything above). */
export class Histogram {
  static readonly binMs = 0.01;
  readonly bins = new Uint32Array(200_000);
  count = 0;

  add(ms: number): void {
    const i = Math.max(0, Math.min(this.bins.length - 1, Math.floor(ms / Histogram.binMs)));
    this.bins[i] = (this.bins[i] ?? 0) + 1;
    this.count++;
  }

  /** The upper edge of the bin holding the `q` quantile (0-1), in ms; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const want = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i] ?? 0;
      if (seen >= want) return (i + 1) * Histogram.binMs;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** What one run measures at its receivers while `measuring` is set (the window). */
export class Measure {
  measuring = false;
  readonly latency = new Histogram();
  /** The highest latency in each second of the window (from `start`), for `--timeline`. */
  readonly maxBySecond = new Float64Array(600);
  start = 0;
  /** Packets by layer (0-2) that stage tiles and thumbnails received. */
  readonly stage = [0, 0, 0];
  readonly thumbs = [0, 0, 0];
  /** Packets that came out of order or again (retransmissions), left out of the latency. */
  late = 0;
  /** RTP packets without the synthetic trailer (padding, probes). */
  foreign = 0;
}

export class StreamStats {
  packets = 0;
  started = false;
  /** Known once started: an audio stream (else video). */
  audio = false;
  base = 0;
  maxExt = 0;
  received = 0;
  #exp0 = 0;
  #rec0 = 0;

  get expected(): number {
    return this.started ? this.maxExt - this.base + 1 : 0;
  }

  /** Marks the window's start. */
  mark(): void {
    this.#exp0 = this.expected;
    this.#rec0 = this.received;
  }

  /** Expected and received since `mark()`. */
  sinceMark(): [number, number] {
    return [this.expected - this.#exp0, this.received - this.#rec0];
  }
}

export class Receiver {
  readonly streams: StreamStats[] = [];
  total = 0;

  /**
   * `stagePublisher`: whose high layer this receiver asked for (-1: none, as the direct
   * baseline pair, whose layers are not counted).
   */
  constructor(
    readonly sampled: boolean,
    readonly stagePublisher: number,
    readonly m: Measure,
  ) {}

  /** Whether its packets are counted (`countAll` in confab.ts: unsampled ones do not). */
  counts = true;

  stream(): StreamStats {
    const s = new StreamStats();
    this.streams.push(s);
    return s;
  }

  /** Streams that have started (seen a keyframe, or audio). */
  started(): number {
    let n = 0;
    for (const s of this.streams) if (s.started) n++;
    return n;
  }

  /** Audio streams that have started. */
  startedAudio(): number {
    let n = 0;
    for (const s of this.streams) if (s.started && s.audio) n++;
    return n;
  }

  packet(s: StreamStats, p: Buffer): void {
    const pt = p[1] ?? 0;
    if (pt >= 192 && pt <= 223) return; // RTCP
    s.packets++;
    this.total++;
    if (!this.sampled) return;
    const now = performance.now();
    const len = p.length;
    const m = this.m;
    if (len < 12 + trailerBytes || p[len - 9] !== trailerMagic) {
      m.foreign++;
      return;
    }
    const layer = p[len - 10] ?? 0;
    const seq = p.readUInt16BE(2);
    let inOrder = true;
    if (!s.started) {
      if (layer !== audioLayer && !isVp8Keyframe(p)) return;
      s.started = true;
      s.audio = layer === audioLayer;
      s.base = seq;
      s.maxExt = seq;
    } else {
      let ext = (s.maxExt & ~0xffff) | seq;
      if (ext < s.maxExt - 0x8000) ext += 0x10000;
      else if (ext > s.maxExt + 0x8000) ext -= 0x10000;
      if (ext > s.maxExt) s.maxExt = ext;
      else inOrder = false;
    }
    s.received++;
    if (!m.measuring) return;
    if (!inOrder) {
      m.late++;
      return;
    }
    const ms = now - p.readDoubleLE(len - 8);
    m.latency.add(ms);
    const sec = Math.min(m.maxBySecond.length - 1, Math.floor((now - m.start) / 1000));
    if (ms > (m.maxBySecond[sec] ?? 0)) m.maxBySecond[sec] = ms;
    if (layer < 3 && this.stagePublisher >= 0) {
      const counts = p.readUInt16BE(len - 12) === this.stagePublisher ? m.stage : m.thumbs;
      counts[layer] = (counts[layer] ?? 0) + 1;
    }
  }
}
