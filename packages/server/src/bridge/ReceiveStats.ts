/**
 * What the bridge received of one published stream, for its receiver reports (RFC 3550 §6.4.2,
 * A.1, A.3, A.8): extended highest sequence number, loss (cumulative and since the last report),
 * interarrival jitter, and the last sender report's time.
 */
export class ReceiveStats {
  /** The publisher's SSRC, from its packets (0 until one came). */
  ssrc = 0;
  #base = 0;
  #maxSeq = 0;
  #cycles = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #transit: number | undefined;
  #jitter = 0;
  #lastSr = 0;
  #lastSrAt = 0;

  constructor(private readonly clockRate: number) {}

  /** One RTP packet arrived at `nowMs`. */
  packet(p: Buffer, nowMs: number): void {
    const ssrc = p.readUInt32BE(8);
    const seq = p.readUInt16BE(2);
    if (ssrc !== this.ssrc) {
      this.ssrc = ssrc;
      this.#base = seq;
      this.#maxSeq = seq;
      this.#cycles = 0;
      this.#received = 0;
      this.#expectedPrior = 0;
      this.#receivedPrior = 0;
      this.#transit = undefined;
      this.#jitter = 0;
      this.#lastSr = 0;
    }
    const delta = (seq - this.#maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.#maxSeq) this.#cycles += 0x10000;
      this.#maxSeq = seq;
    }
    this.#received++;
    const transit = (nowMs * this.clockRate) / 1000 - p.readUInt32BE(4);
    if (this.#transit !== undefined) {
      const d = Math.abs(transit - this.#transit);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#transit = transit;
  }

  /** The publisher's sender report arrived at `nowMs`. */
  senderReport(ntpHigh: number, ntpLow: number, nowMs: number): void {
    this.#lastSr = ((ntpHigh & 0xffff) * 0x10000 + (ntpLow >>> 16)) >>> 0;
    this.#lastSrAt = nowMs;
  }

  /** A receiver report with this stream's report block, or undefined before any packet. */
  report(sender: number, nowMs: number): Buffer | undefined {
    if (this.#received === 0) return undefined;
    const extMax = this.#cycles + this.#maxSeq;
    const expected = extMax - this.#base + 1;
    const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.#received));
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction =
      expectedInterval <= 0 || lostInterval <= 0
        ? 0
        : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    const dlsr = this.#lastSr ? Math.round(((nowMs - this.#lastSrAt) * 65536) / 1000) : 0;
    const b = Buffer.allocUnsafe(32);
    b[0] = 0x81;
    b[1] = 201;
    b.writeUInt16BE(7, 2);
    b.writeUInt32BE(sender >>> 0, 4);
    b.writeUInt32BE(this.ssrc >>> 0, 8);
    b.writeUInt32BE(((fraction << 24) | (lost & 0xffffff)) >>> 0, 12);
    b.writeUInt32BE(extMax >>> 0, 16);
    b.writeUInt32BE(Math.round(this.#jitter) >>> 0, 20);
    b.writeUInt32BE(this.#lastSr, 24);
    b.writeUInt32BE(dlsr >>> 0, 28);
    return b;
  }
}
