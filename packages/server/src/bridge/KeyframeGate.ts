/**
 * Rate-limits keyframe requests to one publisher: many receivers asking at once (a join, a
 * burst of loss) cost the publisher one keyframe, and a request that comes too soon is not
 * dropped but sent when the interval is over.
 */
export class KeyframeGate {
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: () => void,
    private readonly minIntervalMs = 500,
    private readonly now: () => number = Date.now,
  ) {}

  /** Asks for a keyframe now, or once the interval since the last one is over. */
  request(): void {
    if (this.#timer) return;
    const wait = this.#lastAt + this.minIntervalMs - this.now();
    if (wait <= 0) return this.#fire();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, wait);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#lastAt = this.now();
    this.send();
  }
}
