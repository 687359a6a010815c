import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bridgeSecretEnv, portRange } from '../bridge/index.js';
import type { Settings } from '../config/index.js';
import type { Logger } from '../logging/index.js';

/** `bridge.workers`, or one per spare core (at least one). */
export function workerCount(settings: Settings): number {
  return settings.bridge.workers ?? Math.max(1, availableParallelism() - 1);
}

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/confab.js');

/**
 * Runs the local bridge processes of `confab serve`: `confab bridge` children, each on its own
 * port of `bridge.port_range`, restarted with backoff if one dies, stopped with the server.
 */
export class BridgeLauncher {
  readonly #children = new Map<number, ChildProcess>();
  readonly #log: Logger;
  #stopping = false;
  readonly #killed = new Set<number>();

  constructor(
    private readonly settings: Settings,
    private readonly focusUrl: string,
    /** The secret they present (handed over in their environment, never on the command line). */
    private readonly secret: string,
    logger: Logger,
  ) {
    this.#log = logger.child({ module: 'bridge-launcher' });
  }

  start(): void {
    const n = workerCount(this.settings);
    const { first, last } = portRange(this.settings);
    if (n > last - first + 1)
      this.#log.warn(
        { workers: n, port_range: this.settings.bridge.port_range },
        'bridge.port_range has fewer ports than bridge workers',
      );
    for (let i = 0; i < n && first + i <= last; i++) this.#spawn(i, first + i, 1000);
  }

  /** Kills a local bridge by name (it stopped answering); its exit restarts it. */
  kill(name: string): void {
    const index = Number(/^local-(\d+)$/.exec(name)?.[1]) - 1;
    const child = this.#children.get(index);
    if (child && child.exitCode === null && child.signalCode === null) {
      this.#log.warn({ bridge: name }, 'killing an unresponsive bridge');
      this.#killed.add(index);
      child.kill('SIGKILL');
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        }),
    );
    await Promise.all(exits);
  }

  #spawn(index: number, port: number, backoff: number): void {
    const s = this.settings;
    const args = [
      'bridge',
      '--focus',
      this.focusUrl,
      '--port',
      String(port),
      '--name',
      `local-${index + 1}`,
      '--data-dir',
      s.data_dir,
    ];
    if (s.configFile) args.push('--config', s.configFile);
    const startedAt = Date.now();
    // An IPC channel, so that a bridge whose server dies without stopping it exits too.
    const child = fork(cli, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [bridgeSecretEnv]: this.secret },
    });
    this.#children.set(index, child);
    child.on('exit', (code, signal) => {
      if (this.#stopping) return;
      // Backing off is for crash loops (dying within seconds of starting); a bridge that ran,
      // or one killed for not answering, comes back after a second: its conferences wait.
      const ran = Date.now() - startedAt > 5000 || this.#killed.delete(index);
      const next = ran ? 1000 : Math.min(backoff * 2, 30_000);
      this.#log.error(
        { bridge: `local-${index + 1}`, code, signal, restartInMs: next },
        'bridge process exited',
      );
      setTimeout(() => !this.#stopping && this.#spawn(index, port, next), next).unref();
    });
  }
}
