/**
 * Rate-limits keyframe requests to one publisher's layer: many receivers asking at once (a
 * join, a burst of loss) cost the publisher one keyframe, and a request that comes too soon is
 * not dropped but sent when the interval is over.
 *
 * A receiver that has just become able to take the layer (its connection is up, or an answer
 * set) asks with `soon`: when the last request was answered (a
 * keyframe of the layer came after it), it need not wait out the whole interval, only
 * `soonGapMs`. Measured here: a joiner's connection came up ~300 ms after its slots were made,
 * and a request made for them then held its first picture until the interval was over.
 * Receivers' own PLIs and FIRs (loss) and layer switches keep the full interval: a lossy link
 * or a receiver's view messages must not turn its publisher into a keyframe stream.
 */
export class KeyframeGate {
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  /** A keyframe came after the last request (or none was made yet). */
  #answered = true;

  constructor(
    private readonly send: () => void,
    private readonly minIntervalMs = 500,
    private readonly now: () => number = Date.now,
    private readonly soonGapMs = 100,
  ) {}

  /** Asks for a keyframe now, or once the interval since the last one is over. */
  request(soon = false): void {
    const gap = soon && this.#answered ? this.soonGapMs : this.minIntervalMs;
    const at = this.#lastAt + gap;
    if (this.#timer) {
      if (at >= this.#timerAt) return;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const wait = at - this.now();
    if (wait <= 0) return this.#fire();
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, wait);
    this.#timer.unref();
  }

  /**
   * A keyframe of the layer arrived: the last request is answered, and so is any waiting one
   * (every receiver waiting for a keyframe of this layer starts at this one).
   */
  received(): void {
    this.#answered = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#lastAt = this.now();
    this.#answered = false;
    this.send();
  }
}
