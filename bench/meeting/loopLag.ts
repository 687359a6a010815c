/**
 * The event-loop delay of a benchmarked Node process, as `loopLag.cjs` (loaded into it with
 * `--require`) writes it: one JSON line a second with that second's histogram summary. The
 * seconds are merged into one distribution, so a window's p99 is the p99 of all its samples,
 * not of the seconds' p99s.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const probe = fileURLToPath(new URL('./loopLag.cjs', import.meta.url));

interface Second {
  t: number;
  pid?: number;
  count: number;
  /** [percentile 0-100, delay ms], ascending. */
  pcts: [number, number][];
  max: number;
  rssMb: number;
}

export interface LoopLag {
  p50: number;
  p99: number;
  max: number;
  seconds: number;
}

export class LoopLagProbe {
  readonly file = path.join(mkdtempSync(path.join(tmpdir(), 'confab-looplag-')), 'lag.jsonl');

  /** What the measured process needs: node options and environment. */
  get nodeArgs(): string[] {
    return ['--require', probe];
  }

  get env(): Record<string, string> {
    return { BENCH_LOOP_LAG_FILE: this.file };
  }

  #seconds(fromMs: number, toMs: number, pid?: number): Second[] {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: Second[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const s = JSON.parse(line) as Second;
        if (s.t > fromMs && s.t <= toMs + 500 && (pid === undefined || s.pid === pid)) out.push(s);
      } catch {}
    }
    return out;
  }

  /** The longest delay of each second reported in (fromMs, toMs], for `--timeline`. */
  maxima(fromMs: number, toMs: number): number[] {
    return this.#seconds(fromMs, toMs).map((s) => s.max);
  }

  /**
   * The delay over the seconds reported in (fromMs, toMs] (wall clock), of process `pid` when
   * several write to the file; NaN when none.
   */
  between(fromMs: number, toMs: number, pid?: number): LoopLag {
    const secs = this.#seconds(fromMs, toMs, pid);
    const total = secs.reduce((n, s) => n + s.count, 0);
    const at = (q: number) => {
      const values = [...new Set(secs.flatMap((s) => s.pcts.map(([, v]) => v)))].sort(
        (a, b) => a - b,
      );
      for (const v of values) {
        let below = 0;
        for (const s of secs) {
          let f = 0;
          for (const [p, x] of s.pcts) if (x <= v) f = p / 100;
          below += f * s.count;
        }
        if (below >= q * total) return v;
      }
      return values.at(-1) ?? Number.NaN;
    };
    return {
      p50: total ? at(0.5) : Number.NaN,
      p99: total ? at(0.99) : Number.NaN,
      max: secs.length ? Math.max(...secs.map((s) => s.max)) : Number.NaN,
      seconds: secs.length,
    };
  }
}
