/**
 * Session-description work (making offers, setting answers) run a little at a time, so that
 * the bridge's event loop keeps forwarding packets in between. A join into a room of 100 asks
 * for an offer from every member at once, each of 200 m-lines and a few milliseconds of the
 * JavaScript thread, and their answers arrive together: done in one go, that blocked the loop
 * for seconds, long enough for the focus to take the bridge for dead and kill it (bench/room).
 *
 * Each turn (a `setImmediate`, so after the I/O that is waiting) runs jobs until `budgetMs` is
 * spent, in the order they came; one job per key waits at a time (a newer one for the same key
 * replaces it in its place: an endpoint needs one offer of its latest state, not one per
 * change). A job that throws is logged by the caller's `onError` and the rest go on.
 */
export class SdpQueue {
  readonly #jobs = new Map<string, () => void>();
  #scheduled: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(
    readonly budgetMs = 5,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  get pending(): number {
    return this.#jobs.size;
  }

  /** Runs `job` in a coming turn, instead of any job of `key` still waiting. */
  add(key: string, job: () => void): void {
    if (this.#closed) return;
    this.#jobs.set(key, job);
    this.#scheduled ??= setImmediate(() => this.#turn());
  }

  /** Drops what waits for `key` (its endpoint is gone). */
  drop(key: string): void {
    this.#jobs.delete(key);
  }

  close(): void {
    this.#closed = true;
    this.#jobs.clear();
    if (this.#scheduled) clearImmediate(this.#scheduled);
  }

  #turn(): void {
    this.#scheduled = undefined;
    const until = this.now() + this.budgetMs;
    for (const [key, job] of this.#jobs) {
      this.#jobs.delete(key);
      try {
        job();
      } catch (err) {
        this.onError(err);
      }
      if (this.now() >= until) break;
    }
    if (this.#jobs.size > 0 && !this.#closed) this.#scheduled = setImmediate(() => this.#turn());
  }
}
