/**
 * The packets missing from one published stream, to be asked for again (NACK): noted from the
 * gaps in the sequence numbers that arrive, asked for at once, again every `retryMs` up to
 * `tries` times, and given up after `giveUpMs` or when they arrive. A jump of more than
 * `window` packets (a long outage) is not loss to repair, nor is anything across a change of
 * SSRC (the publisher restarted its stream).
 */
/** Nothing to ask for: one shared empty list, so that the usual packet allocates nothing. */
const none: readonly number[] = Object.freeze([]);

export class LossTracker {
  /** The last packet noted came after a newer one (a retransmission, or reordered). */
  late = false;
  #ssrc: number | undefined;
  #highest: number | undefined;
  readonly #missing = new Map<number, { since: number; asked: number; at: number }>();

  constructor(
    readonly window = 128,
    readonly retryMs = 100,
    readonly tries = 3,
    readonly giveUpMs = 1000,
  ) {}

  /** Notes one arriving packet; returns the sequence numbers to ask for now (usually none). */
  packet(ssrc: number, seq: number, now: number): readonly number[] {
    if (ssrc !== this.#ssrc) {
      this.#ssrc = ssrc;
      this.#highest = undefined;
      this.#missing.clear();
    }
    const high = this.#highest;
    if (high === undefined) {
      this.#highest = seq;
      this.late = false;
      return none;
    }
    const d = (seq - high) & 0xffff;
    this.late = d === 0 || d >= 0x8000;
    if (d === 0) return none;
    if (d < 0x8000) {
      if (d - 1 > this.window) this.#missing.clear();
      else
        for (let s = (high + 1) & 0xffff; s !== seq; s = (s + 1) & 0xffff)
          this.#missing.set(s, { since: now, asked: 0, at: 0 });
      this.#highest = seq;
    } else this.#missing.delete(seq);
    if (this.#missing.size === 0) return none;
    const due: number[] = [];
    for (const [s, m] of this.#missing) {
      if (m.asked >= this.tries || now - m.since > this.giveUpMs) this.#missing.delete(s);
      else if (m.asked === 0 || now - m.at >= this.retryMs) {
        m.asked++;
        m.at = now;
        due.push(s);
      }
    }
    return due;
  }
}
