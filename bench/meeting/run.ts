/**
 * `npm run bench -- meeting`: a simulcast meeting of synthetic node-datachannel participants
 * (this process, pinned to core 1) on the Confab bridge and on Janus's VideoRoom (each alone on
 * core 0). Every participant publishes Opus and three VP8 layers and receives everyone else:
 * the next participant in the ring at its high layer, the others at their low layer. Two
 * participants talk, the others send silence marked 127. Figures per SFU over the window: its
 * CPU (% of one core, and µs per packet the receivers got), loss, latency through it and what
 * it adds over a direct pair, peak RSS, and this generator's own CPU (bench/README.md).
 *
 * `--find-max`: the same meeting at 10, 20, 30, … participants, per SFU until its first step
 * that fails (loss over 1% or added latency p99 over 15 ms): the largest meeting that holds.
 */
import { execFileSync } from 'node:child_process';
import { median } from '../stats.js';
import { describe, f1, f2, type LiveOptions, type Result, runUndisturbed } from './live.js';
import {
  type ConfabOptions,
  confabMeeting,
  defaultLastN,
  focusMlineLimit,
  janusMeeting,
  type Meeting,
} from './meetings.js';
import type { Measure } from './receive.js';
import { meetingShape, type Shape } from './shape.js';

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}
const findMax = process.argv.includes('--find-max');
const participants = Math.max(2, Number(arg('participants') ?? 20));
const sampled = Number(arg('sampled') ?? 20);
/** `--publishers=N`: only the first N publish; the others join with camera and mic off. */
const publishers = arg('publishers');
/** `--cameras=N`: of the publishers, only the first N send video (the others their mic). */
const cameras = arg('cameras');
const windowMs = Number(arg('window') ?? (findMax ? 10 : 20)) * 1000;
const settleMs = Number(arg('settle') ?? (findMax ? 3 : 5)) * 1000;
const rounds = Math.max(1, Number(arg('rounds') ?? 1));
/** `--sfu=confab` or `--sfu=janus`: one of them only. */
const only = arg('sfu');
/** `--steps=10,20,30`: find-max's meeting sizes (10, 20, … 100 unless given). */
const steps = (arg('steps') ?? '10,20,30,40,50,60,70,80,90,100').split(',').map(Number);
/** `--max-mlines=N`: the welcome's m-line limit (a real focus's with the default rtm_max_message_size). */
const maxMlines = Number(arg('max-mlines') ?? focusMlineLimit);
/** `--last-n=N`: the welcome's last-N (the configuration's default, 20; -1: all). */
const lastN = arg('last-n');
const confabOpts: ConfabOptions = {
  maxMlines,
  ...(lastN !== undefined ? { lastN: Number(lastN) } : {}),
  ...(arg('profile') ? { profileDir: arg('profile') as string } : {}),
};
const live: LiveOptions & { windowMs: number; settleMs: number } = {
  /**
   * `--batch=MS`: the generator's main thread sleeps this long between turns of its event
   * loop, so that the packets node-datachannel hands it queue up and each wake-up takes many
   * (0: off). 2 ms took 12-15% off its main thread at 20 participants; every received packet
   * waits up to that much more, on the direct pair as on the SFU's path, so the added latency
   * keeps.
   */
  batchMs: Number(arg('batch') ?? 2),
  threads: process.argv.includes('--threads'),
  /** `--timeline`: the highest latency of each second of the window, via the SFU and direct. */
  timeline: process.argv.includes('--timeline'),
  windowMs,
  settleMs,
};
/** `--retries=N`: a disturbed run is repeated up to N times (2; find-max 1). */
const retries = Math.max(0, Number(arg('retries') ?? (findMax ? 1 : 2)));
const goals = { cpuPct: 60, lossPct: 1, addedP99: 15, perPacketRatio: 0.7, findMaxRatio: 1.5 };

type Sfu = 'confab' | 'janus';
const setups: Record<Sfu, (shape: Shape) => (m: Measure) => Promise<Meeting>> = {
  confab: (shape) => (m) => confabMeeting(shape, m, confabOpts),
  janus: (shape) => (m) => janusMeeting(shape, m),
};

function shapeOf(n: number): Shape {
  const s = meetingShape(n, sampled);
  if (publishers !== undefined) s.publishers = Math.min(n, Number(publishers));
  if (cameras !== undefined) s.cameras = Math.min(s.publishers, Number(cameras));
  return s;
}

async function attempt(sfu: Sfu, tag: string, shape: Shape): Promise<Result> {
  return runUndisturbed(`${sfu}${tag}`, shape, setups[sfu](shape), { ...live, retries });
}

const holds = (r: Result) =>
  !r.crashed && r.lossPct <= goals.lossPct && r.addedP99 <= goals.addedP99;

async function findMaxMeeting(): Promise<void> {
  const largest: Partial<Record<Sfu, { n: number; failed?: Result; failedAt?: number }>> = {};
  for (const sfu of ['confab', 'janus'] as const) {
    if (only && only !== sfu) continue;
    const best: { n: number; failed?: Result; failedAt?: number } = { n: 0 };
    largest[sfu] = best;
    for (const n of steps) {
      let r: Result;
      try {
        r = await attempt(sfu, ` ${n}`, shapeOf(n));
      } catch (err) {
        console.log(`find-max ${sfu} ${n}: did not set up: ${(err as Error).message}`);
        best.failedAt = n;
        break;
      }
      const ok = holds(r);
      const flags = [
        r.generatorBound ? 'GENERATOR-BOUND' : '',
        r.disturbed ? 'DISTURBED' : '',
        r.shortOffered ? `M-LINE LIMIT: ${r.shortOffered} receivers offered fewer streams` : '',
      ]
        .filter(Boolean)
        .join(', ');
      console.log(
        `find-max ${sfu} ${n}: ${ok ? 'holds' : 'FAILS'} (loss ${f2(r.lossPct)}%, added p99 ${f2(r.addedP99)} ms, CPU ${f1(r.cpuPct)}%, generator ${f1(r.generatorPct)}%${sfu === 'confab' ? `, bridge event loop p99 ${f1(r.loopP99)} ms` : ''})${flags ? ` [${flags}]` : ''}`,
      );
      if (!ok) {
        best.failed = r;
        best.failedAt = n;
        break;
      }
      best.n = n;
    }
  }
  const line = (sfu: Sfu) => {
    const b = largest[sfu];
    if (!b) return '';
    const why = b.failed
      ? `; first failing step ${b.failedAt}: ${describe(b.failed)}${b.failed.generatorBound ? ' (that step was generator-bound: the SFU may hold more than this machine can load it with)' : ''}${b.failed.disturbed ? ' (that step was DISTURBED by other processes: not conclusive)' : ''}`
      : b.failedAt
        ? `; step ${b.failedAt} did not set up`
        : `; no step failed up to ${steps.at(-1)}`;
    return `${sfu}: ${b.n || 'none'}${why}`;
  };
  console.log(
    `largest meeting on one core (loss ≤ ${goals.lossPct}%, added p99 ≤ ${goals.addedP99} ms):`,
  );
  for (const sfu of ['confab', 'janus'] as const) if (largest[sfu]) console.log(`  ${line(sfu)}`);
  const [c, j] = [largest.confab?.n, largest.janus?.n];
  if (c !== undefined && j !== undefined)
    console.log(
      `find-max confab/janus: ${c} / ${j} participants, ratio ${j ? f2(c / j) : 'n/a'} (goal ≥ ${goals.findMaxRatio}); m-line limit ${maxMlines} per receiver, last-N ${lastN ?? defaultLastN}`,
    );
}

async function rounded(): Promise<void> {
  const shape = shapeOf(participants);
  const confabs: Result[] = [];
  const januses: Result[] = [];
  for (let round = 1; round <= rounds; round++) {
    const tag = rounds > 1 ? ` round ${round}` : '';
    if (only !== 'janus') confabs.push(await attempt('confab', tag, shape));
    if (only !== 'confab') januses.push(await attempt('janus', tag, shape));
  }
  const clean = (rs: Result[]) =>
    rs.some((r) => !r.disturbed) ? rs.filter((r) => !r.disturbed) : rs;
  const med = (rs: Result[], k: keyof Result) => median(clean(rs).map((r) => r[k] as number));
  const runs = (rs: Result[]) => {
    const c = clean(rs);
    return `${c.length} ${c.some((r) => r.disturbed) ? 'disturbed' : 'undisturbed'}`;
  };
  const of = rounds > 1 ? ` (medians of ${runs(confabs)}/${runs(januses)} runs)` : '';
  if (confabs.length && januses.length) {
    const ratio = (k: keyof Result) => f2(med(confabs, k) / med(januses, k));
    console.log(
      `confab/janus${of}: CPU for the same meeting ${ratio('cpuPct')}, CPU per forwarded packet ${ratio('usPerPacket')}, packets forwarded ${ratio('packets')}, peak RSS ${ratio('peakRssMb')}, added latency p50 ${ratio('addedP50')} p99 ${ratio('addedP99')}`,
    );
  }
  // The room verdict (max_participants): everyone in, every receiver got what it should.
  if (confabs.length && participants >= 50) {
    const r = confabs.at(-1) as Result;
    // Falling behind: an event loop late by more than the meeting's whole latency budget.
    const ok =
      !r.crashed &&
      r.starved === 0 &&
      r.shortOffered === 0 &&
      r.lossPct <= goals.lossPct &&
      r.loopP99 <= goals.addedP99;
    console.log(
      `room of ${participants} on one bridge: ${ok ? 'HOLDS' : 'DOES NOT HOLD'}: all ${participants} joined and connected; ${r.starved} receivers short of streams, ${r.shortOffered} offered fewer streams than the meeting has (m-line limit ${maxMlines}); loss ${f2(r.lossPct)}%; bridge event loop p99 ${f1(r.loopP99)} ms (limit ${goals.addedP99} ms: more is falling behind), max ${f1(r.loopMax)} ms; CPU ${f1(r.cpuPct)}% of one core${r.generatorBound ? ' [generator-bound]' : ''}${r.disturbed ? ' [disturbed]' : ''}${r.crashed ? ` [bridge ${r.crashed}]` : ''}`,
    );
  }
  const label =
    participants === 20 && publishers === undefined && cameras === undefined
      ? 'W-meet-20'
      : `W-meet-20 goals at ${participants}`;
  for (const [name, rs] of [
    ['confab', confabs],
    ['janus', januses],
  ] as const) {
    if (!rs.length) continue;
    const perPacket =
      name === 'confab' && januses.length
        ? `, CPU per packet vs janus ${f2(med(rs, 'usPerPacket') / med(januses, 'usPerPacket'))} (goal ≤ ${goals.perPacketRatio})`
        : '';
    const loop = name === 'confab' ? `, bridge event loop p99 ${f1(med(rs, 'loopP99'))} ms` : '';
    const bound =
      (clean(rs).some((r) => r.generatorBound) ? ' [generator-bound]' : '') +
      (clean(rs).some((r) => r.disturbed) ? ' [disturbed]' : '') +
      (rs.some((r) => r.crashed) ? ' [crashed]' : '') +
      (rs.some((r) => r.shortOffered) ? ' [m-line limit hit]' : '');
    console.log(
      `${label} ${name}${of}: CPU ${f1(med(rs, 'cpuPct'))}% of one core (goal ≤ ${goals.cpuPct}%), loss ${f2(med(rs, 'lossPct'))}% (goal ≤ ${goals.lossPct}%), added latency p99 ${f2(med(rs, 'addedP99'))} ms (goal ≤ ${goals.addedP99} ms)${perPacket}${loop}${bound}`,
    );
  }
}

async function main(): Promise<void> {
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const what = findMax
    ? `find-max, steps ${steps.join(', ')}`
    : `${participants} participants${publishers !== undefined ? ` (${publishers} publishing)` : ''}${cameras !== undefined ? ` (${cameras} cameras)` : ''}`;
  console.log(
    `meeting benchmark: ${what} (${sampled} sampled), SFU on core 0, generator on core 1 (batching ${live.batchMs} ms); ${settleMs / 1000} s settling, ${windowMs / 1000} s windows; Confab's m-line limit ${maxMlines}, last-N ${lastN ?? defaultLastN}`,
  );
  if (findMax) await findMaxMeeting();
  else await rounded();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
