import type { Logger } from './logging/index.js';

/** A step, or steps taken down side by side (none depends on another). */
export type ShutdownStage<Step extends string> = Step | readonly Step[];

/** The step names of an order. */
export type StepOf<Order extends readonly ShutdownStage<string>[]> = Order[number] extends infer S
  ? S extends readonly (infer T)[]
    ? T
    : S
  : never;

/**
 * The one owner of shutdown: the steps a server takes down, declared once in the order they are
 * taken down. Startup binds each step (`on`) as soon as it has built what the step closes, so
 * the same list undoes a startup that failed half-way (steps never bound are skipped) and stops
 * a running server. `run` takes the steps once, in order, each awaited; one that fails is
 * logged and the others still run, and its error is rethrown at the end.
 */
export class Shutdown<Step extends string> {
  readonly #closers = new Map<Step, () => unknown>();
  #run: Promise<void> | undefined;

  constructor(
    readonly order: readonly ShutdownStage<Step>[],
    private readonly log: Logger,
  ) {}

  /** What `step` closes; bound once, before the shutdown starts. */
  on(step: Step, close: () => unknown): void {
    if (this.#run) throw new Error(`shutdown: '${step}' bound after the shutdown started`);
    if (this.#closers.has(step)) throw new Error(`shutdown: '${step}' bound twice`);
    this.#closers.set(step, close);
  }

  /** Runs the shutdown; every call gets the same one. */
  run(): Promise<void> {
    this.#run ??= this.#takeDown();
    return this.#run;
  }

  async #takeDown(): Promise<void> {
    let first: unknown;
    const take = async (step: Step) => {
      const close = this.#closers.get(step);
      if (!close) return;
      try {
        await close();
      } catch (err) {
        this.log.error({ err, step }, 'shutdown step failed');
        first ??= err;
      }
    };
    for (const stage of this.order) {
      if (typeof stage === 'string') await take(stage as Step);
      else await Promise.all((stage as readonly Step[]).map(take));
    }
    if (first !== undefined) throw first;
  }
}
