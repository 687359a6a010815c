/**
 * Reads V8's `--trace-gc-nvp` lines from a server's standard output: how much its scavenges
 * promoted into the old generation, and how many collections of each kind ran. Promotion is the
 * steady figure behind the swings of cold RSS: what survives two scavenges lands in the old
 * generation, which V8 grows (and keeps) for it, whether it is held or soon garbage.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** A module to preload (`--import`) where the flag cannot be given on the command line. */
export const traceGcPreload = fileURLToPath(new URL('./traceGc.mjs', import.meta.url));

export class GcTrace {
  promotedBytes = 0;
  scavenges = 0;
  markCompacts = 0;

  constructor(stdout: Readable) {
    createInterface({ input: stdout }).on('line', (line) => {
      const kind = / gc=(\w+) /.exec(line)?.[1];
      if (kind === 's') {
        this.scavenges++;
        this.promotedBytes += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      } else if (kind !== undefined) this.markCompacts++;
    });
  }

  /** The counts so far, and a fresh start. */
  take(): { promotedMb: number; scavenges: number; markCompacts: number } {
    const taken = {
      promotedMb: this.promotedBytes / 1048576,
      scavenges: this.scavenges,
      markCompacts: this.markCompacts,
    };
    this.promotedBytes = this.scavenges = this.markCompacts = 0;
    return taken;
  }
}
