/**
 * Picks a conference's dominant speaker from the audio levels its publishers send (RFC 6464),
 * with hysteresis so that the stage does not flicker: every tick each speaker's loudest packet
 * since the last tick feeds a smoothed score; a challenger takes over only after leading the
 * current speaker by `margin` for `ticksToSwitch` ticks in a row, and someone must be heard
 * (score ≥ `threshold`) to take over at all. The last speaker stays when everyone goes quiet.
 */
export class SpeakerDetector {
  readonly #candidates = new Map<string, { peak: number; score: number }>();
  #current: string | undefined;
  #challenger: string | undefined;
  #wins = 0;

  constructor(
    private readonly threshold = 20,
    private readonly margin = 6,
    private readonly ticksToSwitch = 2,
  ) {}

  get current(): string | undefined {
    return this.#current;
  }

  /** One packet's level: 0 dBov (loudest) to 127 (silence). */
  level(id: string, dBov: number): void {
    const loudness = 127 - dBov;
    const c = this.#candidates.get(id);
    if (!c) this.#candidates.set(id, { peak: loudness, score: 0 });
    else if (loudness > c.peak) c.peak = loudness;
  }

  remove(id: string): void {
    this.#candidates.delete(id);
    if (this.#current === id) this.#current = undefined;
    if (this.#challenger === id) this.#challenger = undefined;
  }

  /** Ends a tick; returns the new dominant speaker when it changed. */
  tick(): string | undefined {
    let best: string | undefined;
    let bestScore = -1;
    for (const [id, c] of this.#candidates) {
      c.score = c.score * 0.6 + c.peak * 0.4;
      c.peak = 0;
      if (id !== this.#current && c.score > bestScore) {
        best = id;
        bestScore = c.score;
      }
    }
    const current = this.#current ? (this.#candidates.get(this.#current)?.score ?? 0) : 0;
    const leads =
      best !== undefined && bestScore >= this.threshold && bestScore > current + this.margin;
    if (!leads) {
      this.#challenger = undefined;
      this.#wins = 0;
      return undefined;
    }
    if (best !== this.#challenger) {
      this.#challenger = best;
      this.#wins = 0;
    }
    if (++this.#wins < this.ticksToSwitch && this.#current !== undefined) return undefined;
    this.#current = best;
    this.#challenger = undefined;
    this.#wins = 0;
    return best;
  }
}
