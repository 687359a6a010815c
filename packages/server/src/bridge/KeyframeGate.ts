/**
 * Rate-limits keyframe requests to one publisher's layer: many receivers asking at once (a
 * join, a burst of loss) cost the publisher one keyframe, and a request that comes too soon is
 * not dropped but sent when the interval is over.
 *
 * A receiver that has just become able to take the layer (its connection is up, an answer
 * set, or its layer choice changed) asks with `soon`: when the last request was answered (a
 * keyframe of the layer came after it), it need not wait out the whole interval, only
 * `soonGapMs`, at most once every `soonEveryMs` per layer, so that however many receivers
 * flip their tiles, a layer gets at most one keyframe a second more than the interval gives.
 * Measured here: a joiner's connection came up ~300 ms after its slots were made, and a request
 * made for them then held its first picture until the interval was over; and with the short
 * gap only at connections and answers, the switch of a room of two to the bridge left its
 * tiles p50 ~570 ms without a new frame against ~280 ms with it on layer choices too.
 * Receivers' own PLIs and FIRs (loss) keep the full interval: a lossy link must not turn its
 * publisher into a keyframe stream.
 */
export class KeyframeGate {
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  /** A keyframe came after the last request (or none was made yet). */
  #answered = true;
  /** When the short gap was last used (at most once every `soonEveryMs`). */
  #soonAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly send: () => void,
    private readonly minIntervalMs = 500,
    private readonly now: () => number = Date.now,
    private readonly soonGapMs = 100,
    private readonly soonEveryMs = 1000,
  ) {}

  /** Asks for a keyframe now, or once the interval since the last one is over. */
  request(soon = false): void {
    const fast = soon && this.#answered && this.now() - this.#soonAt >= this.soonEveryMs;
    const at = this.#lastAt + (fast ? this.soonGapMs : this.minIntervalMs);
    if (this.#timer) {
      if (at >= this.#timerAt) return;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // The short gap is spent only when it made the request go sooner than the interval.
    if (fast && this.#lastAt + this.minIntervalMs > this.now())
      this.#soonAt = Math.max(at, this.now());
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
