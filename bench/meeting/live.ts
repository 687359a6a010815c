/**
 * A meeting under load and what one window of it measures: every publisher sends (one timer for
 * all), receivers send REMBs, a direct pair gives the latency baseline, and `window()` takes the
 * SFU's CPU, the receivers' loss and latency, the SFU's memory and event-loop delay and the
 * generator's own CPU over a stretch of time. `runMeeting` is one measured run of W-meet-20 and
 * its kin; the soak calls `window()` once a minute.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { coreBusyMs, cpuMs, peakRssMb, rssMb, threadCpuMs, threadDiff } from '../proc.js';
import { DirectPair } from './baseline.js';
import type { Participant } from './confab.js';
import { layerSpecs } from './media.js';
import { type Meeting, sfuCore } from './meetings.js';
import { Measure } from './receive.js';
import { role, type Shape, streamsFor } from './shape.js';

/** The generator's core above this share: its figures are not the SFU's. */
export const generatorBound = 85;
/** Other processes' share of a core above this: the window waits (another test is running). */
export const quietPct = 10;
const maxQuietWaitMs = 30_000;

export const f1 = (n: number) => n.toFixed(1);
export const f2 = (n: number) => n.toFixed(2);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (part: number, whole: number) => (whole > 0 ? (100 * part) / whole : Number.NaN);

/**
 * Waits (at most `maxQuietWaitMs`) until the two cores carry little besides the SFU and this
 * generator, measured a second at a time; returns the seconds waited.
 */
export async function quiet(sfuPid: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxQuietWaitMs) {
    const [b0, s0, g0] = [coreBusyMs(), cpuMs(sfuPid), cpuMs(process.pid)];
    await sleep(1000);
    const [b1, s1, g1] = [coreBusyMs(), cpuMs(sfuPid), cpuMs(process.pid)];
    const other0 = (b1[sfuCore] ?? 0) - (b0[sfuCore] ?? 0) - (s1 - s0);
    const other1 = (b1[1] ?? 0) - (b0[1] ?? 0) - (g1 - g0);
    if (other0 <= quietPct * 10 && other1 <= quietPct * 10) break;
  }
  return (performance.now() - started) / 1000;
}

/**
 * Every node-datachannel callback is a libuv async handle, and libuv looks at all of them each
 * time the event loop wakes (perf: \`uv__async_io\`, with ~800 handles here). Sleeping
 * \`ms\` between turns (a futex wait, no spinning) lets a turn take all the packets that came
 * meanwhile at one look instead of one wake-up per packet. Returns the stop.
 */
function batchTurns(ms: number): () => void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let on = true;
  const turn = () => {
    if (!on) return;
    Atomics.wait(cell, 0, 0, ms);
    setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    on = false;
  };
}

export interface Result {
  cpuPct: number;
  usPerPacket: number;
  packets: number;
  /** Receivers that were not sampled did not count: their share is estimated. */
  packetsEstimated: number;
  lossPct: number;
  lost: number;
  expected: number;
  p50: number;
  p99: number;
  directP50: number;
  directP99: number;
  addedP50: number;
  addedP99: number;
  peakRssMb: number;
  rssMb: number;
  /** The SFU's event-loop delay p99 in the window (the Confab bridge only; NaN for Janus). */
  loopP99: number;
  loopMax: number;
  generatorPct: number;
  generatorBound: boolean;
  /** Other processes took more than `quietPct` of either core in the window. */
  disturbed: boolean;
  /** What other processes took of the SFU's core and of the generator's, % of one core. */
  otherPct: [number, number];
  /** Receivers the SFU offered fewer streams than the shape has (the m-line limit). */
  shortOffered: number;
  /** Counting receivers that got packets on fewer streams than the SFU should forward them. */
  starved: number;
  crashed: string | undefined;
  streams: string;
  layers: string;
  notes: string;
  threads: string;
}

export interface LiveOptions {
  /** `--batch=MS`: the generator's main thread sleeps this long between event-loop turns. */
  batchMs: number;
  threads?: boolean;
  timeline?: boolean;
}

/**
 * Packets all receivers got since `totals0`: counted where they count (sampled, or
 * `--count-all`), else the mean of the counting receivers that have the same role (publishing
 * or not), whose streams are the same in number and kind. Returns how many were estimated.
 */
function packetsIn(
  shape: Shape,
  peers: readonly Participant[],
  totals0: readonly number[],
): { packets: number; estimated: number } {
  const by = new Map<boolean, number[]>();
  peers.forEach((p, i) => {
    if (!p.receiver.counts) return;
    const k = role(shape, i).publishes;
    by.set(k, [...(by.get(k) ?? []), p.receiver.total - (totals0[i] ?? 0)]);
  });
  const all = [...by.values()].flat();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  let packets = 0;
  let estimated = 0;
  peers.forEach((p, i) => {
    if (p.receiver.counts) packets += p.receiver.total - (totals0[i] ?? 0);
    else {
      packets += mean(by.get(role(shape, i).publishes) ?? all);
      estimated++;
    }
  });
  return { packets: Math.round(packets), estimated };
}

function layerShare(counts: number[]): string {
  const all = counts.reduce((a, b) => a + b, 0);
  if (all === 0) return 'nothing';
  return counts
    .map((n, i) => `${layerSpecs[i]?.name} ${pct(n, all).toFixed(1)}%`)
    .filter((s) => !s.includes(' 0.0%'))
    .join(' ');
}

export class LiveMeeting {
  readonly #pubs;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #stopBatching: () => void;
  #readyMs = Number.NaN;

  private constructor(
    readonly name: string,
    readonly shape: Shape,
    readonly meeting: Meeting,
    readonly measure: Measure,
    readonly direct: Measure,
    readonly pair: DirectPair,
    readonly opts: LiveOptions,
    /** How long everyone took to join and connect. */
    readonly setupMs: number,
  ) {
    const peers = meeting.participants;
    this.#pubs = [
      ...peers.filter((_, i) => role(shape, i).publishes).map((p) => p.publisher),
      pair.publisher,
    ];
    const t0 = performance.now();
    this.#pubs.forEach((p, i) => {
      p.start(t0, i / this.#pubs.length);
    });
    this.#stopBatching = opts.batchMs > 0 ? batchTurns(opts.batchMs) : () => {};
    // One timer sends for everyone: due frames and audio packets, every 5 ms.
    this.#timers.push(
      setInterval(() => {
        const now = performance.now();
        for (const p of this.#pubs) p.tick(now);
      }, 5),
      setInterval(() => {
        for (const p of peers) p.remb();
      }, 1000),
    );
  }

  /** Sets the meeting up on one SFU (`setup`), with a direct pair beside it, and starts sending. */
  static async start(
    name: string,
    shape: Shape,
    setup: (m: Measure) => Promise<Meeting>,
    opts: LiveOptions,
  ): Promise<LiveMeeting> {
    const measure = new Measure();
    const t0 = performance.now();
    const meeting = await setup(measure);
    const setupMs = performance.now() - t0;
    const direct = new Measure();
    const pair = new DirectPair(shape.participants, direct, shape.cameras > 0);
    try {
      await pair.connected(10_000);
    } catch (err) {
      pair.close();
      await meeting.stop();
      throw err;
    }
    return new LiveMeeting(name, shape, meeting, measure, direct, pair, opts, setupMs);
  }

  get #sampled() {
    return this.meeting.participants.filter((p) => p.receiver.sampled);
  }

  /** Streams the shape has for the sampled receivers (participants 0 … sampled-1). */
  #wanted(): { all: number; audio: number } {
    let all = 0;
    let audio = 0;
    for (let i = 0; i < this.#sampled.length; i++) {
      const s = streamsFor(this.shape, i);
      all += s.audio + s.video;
      audio += s.audio;
    }
    return { all, audio };
  }

  /**
   * Until every sampled receiver has every stream of the shape (video from a keyframe on), or
   * the count has not grown for 3 s (what an SFU does not forward: silence, past last-N, past
   * the m-line limit), at most `timeoutMs`. Returns the ms it took.
   */
  async ready(timeoutMs = 30_000): Promise<number> {
    const t0 = performance.now();
    const sampled = this.#sampled;
    const want = this.#wanted().all;
    let last = -1;
    let since = t0;
    for (;;) {
      const now = performance.now();
      const started = sampled.reduce((n, p) => n + p.receiver.started(), 0);
      if (started >= want || now - t0 > timeoutMs) break;
      if (started !== last) [last, since] = [started, now];
      else if (started > 0 && now - since > 3000) break;
      await sleep(100);
    }
    this.#readyMs = performance.now() - t0;
    return this.#readyMs;
  }

  /** Measures `ms` of the meeting. */
  async window(ms: number): Promise<Result> {
    const { measure, direct, pair, meeting, name, shape } = this;
    const peers = meeting.participants;
    const pubs = this.#pubs;
    const sampledPeers = this.#sampled;
    const totals0 = peers.map((p) => p.receiver.total);
    const sentAll = () => pubs.reduce((n, p) => n + p.sent, 0);
    const streams = () => [...sampledPeers.flatMap((p) => p.receiver.streams)];
    for (const s of [...streams(), ...pair.receiver.streams]) s.mark();
    measure.latency.bins.fill(0);
    measure.latency.count = 0;
    direct.latency.bins.fill(0);
    direct.latency.count = 0;
    measure.maxBySecond.fill(0);
    direct.maxBySecond.fill(0);
    for (const m of [measure.stage, measure.thumbs]) m.fill(0);
    const late0 = measure.late;
    const cores0 = coreBusyMs();
    const k0 = pubs.reduce((n, p) => n + p.keyframesSent, 0);
    const skipped0 = pubs.reduce((n, p) => n + p.skipped, 0);
    const wall0 = Date.now();
    const [c0, g0, s0, t0c] = [
      cpuMs(meeting.pid),
      cpuMs(process.pid),
      sentAll(),
      performance.now(),
    ];
    const [th0, gth0] = this.opts.threads
      ? [threadCpuMs(meeting.pid), threadCpuMs(process.pid)]
      : [];
    // The generator's own event loop: its delays are latency no SFU added.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    let gcMs = 0;
    let gcs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcMs += e.duration;
        gcs++;
      }
    });
    gc.observe({ entryTypes: ['gc'] });
    loop.enable();
    measure.start = direct.start = performance.now();
    measure.measuring = true;
    direct.measuring = true;
    const deadline = performance.now() + ms;
    // In steps, so that an SFU that died ends the window at once.
    while (performance.now() < deadline && !meeting.crashed())
      await sleep(Math.min(1000, deadline - performance.now()));
    measure.measuring = false;
    direct.measuring = false;
    loop.disable();
    gc.disconnect();
    const crashed = meeting.crashed();
    // Node 20's histogram holds the resolution too (an idle loop reads 5.1 ms at 5).
    const lag = (q: number) => Math.max(0, loop.percentile(q) / 1e6 - 5);
    const loopNote = `generator event loop delay p50 ${f1(lag(50))} p99 ${f1(lag(99))} max ${f1(Math.max(0, loop.max / 1e6 - 5))} ms, ${gcs} GCs ${f1(gcMs)} ms`;
    const cores1 = coreBusyMs();
    const k1 = pubs.reduce((n, p) => n + p.keyframesSent, 0);
    const skipped1 = pubs.reduce((n, p) => n + p.skipped, 0);
    const alive = crashed === undefined;
    const [c1, g1, s1, t1c] = [
      alive ? cpuMs(meeting.pid) : c0,
      cpuMs(process.pid),
      sentAll(),
      performance.now(),
    ];
    const wall1 = Date.now();
    const secs = Math.ceil(ms / 1000);
    const maxes = (m: Measure) =>
      [...m.maxBySecond.slice(0, secs)].map((x) => x.toFixed(0)).join(' ');
    const loopMaxima = meeting.loopLag
      ? `\n  ${name}'s event loop, longest delay per second (ms): ${meeting.loopLag
          .maxima(wall0, wall1)
          .map((x) => x.toFixed(0))
          .join(' ')}`
      : '';
    const timeline = this.opts.timeline
      ? `\n  ${name} max latency per second (ms), via the SFU: ${maxes(measure)}\n  direct pair: ${maxes(direct)}${loopMaxima}`
      : '';
    const threads =
      timeline +
      (alive && th0 && gth0
        ? `\n  ${name} threads: ${threadDiff(th0, threadCpuMs(meeting.pid))}\n  generator threads: ${threadDiff(gth0, threadCpuMs(process.pid))}`
        : '');
    let expected = 0;
    let received = 0;
    for (const s of streams()) {
      const [e, r] = s.sinceMark();
      expected += e;
      received += r;
    }
    const started = sampledPeers.reduce((n, p) => n + p.receiver.started(), 0);
    const startedAudio = sampledPeers.reduce((n, p) => n + p.receiver.startedAudio(), 0);
    const { all: want, audio: wantAudio } = this.#wanted();
    // What the SFU offered each receiver against what the shape has (Confab: its offers).
    let shortOffered = 0;
    let minOffered = Number.POSITIVE_INFINITY;
    peers.forEach((p, i) => {
      if (p.offered === undefined) return;
      const s = streamsFor(shape, i);
      minOffered = Math.min(minOffered, p.offered);
      if (p.offered < s.audio + s.video) shortOffered++;
    });
    // Every receiver, sampled or not: how many of its streams carried packets at all.
    const counted = peers.filter((p) => p.receiver.counts);
    const flowing = counted.map((p) => p.receiver.streams.filter((x) => x.packets > 0).length);
    // Receivers that got packets on fewer streams than they should: the bridge forwards the
    // talkers' audio and the videos it says (`forwarded`); Janus forwards everything.
    let starved = 0;
    peers.forEach((p, i) => {
      if (!p.receiver.counts) return;
      const s = streamsFor(shape, i);
      const talkers = Math.min(shape.talkers, shape.publishers) - (role(shape, i).talking ? 1 : 0);
      const want =
        meeting.sfu === 'confab' ? talkers + (p.forwarded ?? s.video) : s.audio + s.video;
      if (p.receiver.streams.filter((x) => x.packets > 0).length < want) starved++;
    });
    const flowingNote = `; ${counted.length === peers.length ? 'every receiver' : `the ${counted.length} counting receivers`}: ${Math.min(...flowing)}-${Math.max(...flowing)} streams with packets, ${starved} with fewer than they should get`;
    const { packets, estimated } = packetsIn(shape, peers, totals0);
    const fwd = peers.flatMap((p) => (p.forwarded === undefined ? [] : [p.forwarded]));
    const forwardedNote = fwd.length
      ? `; the bridge forwards ${Math.min(...fwd)}-${Math.max(...fwd)} videos to each receiver (its 'forwarded', ${fwd.length} receivers told)`
      : '';
    const offeredNote = Number.isFinite(minOffered)
      ? `; ${shortOffered} of ${peers.length} receivers were offered fewer streams than the meeting has (fewest ${minOffered} of ${streamsFor(shape, shape.participants - 1).audio + streamsFor(shape, shape.participants - 1).video}${shortOffered ? ': the m-line limit' : ''})`
      : '';
    const skipped = skipped1 - skipped0;
    const keyframes = [0, 1, 2]
      .map((l) => pubs.reduce((n, p) => n + (p.keyframesAsked[l] ?? 0), 0))
      .join('/');
    const retransmitted = pubs.reduce((n, p) => n + p.retransmitted, 0);
    const layerChanges = pubs.reduce((n, p) => n + p.layerChanges, 0);
    const activeLayers = pubs.slice(0, -1).reduce((n, p) => n + (p.video ? p.activeLayers : 0), 0);
    const channels = peers.filter((p) => p.channelOpen).length;
    const views = peers.reduce((n, p) => n + (p.views ?? 0), 0);
    const viewNote =
      meeting.sfu === 'confab'
        ? `; media channel open at ${channels}/${peers.length}, ${views} views sent; dynacast: ${layerChanges} layer pauses/resumes so far, ${shape.cameras ? `${activeLayers} of ${3 * Math.min(shape.cameras, shape.publishers)} layers sending` : 'no video'}`
        : '';
    const lag2 = meeting.loopLag?.between(wall0, wall1);

    const seconds = (t1c - t0c) / 1000;
    const lost = Math.max(0, expected - received);
    const [p50, p99] = [measure.latency.quantile(0.5), measure.latency.quantile(0.99)];
    const [d50, d99] = [direct.latency.quantile(0.5), direct.latency.quantile(0.99)];
    const generatorPct = pct(g1 - g0, seconds * 1000);
    // What else ran on the two cores meanwhile (another test on this machine shows here).
    const other = (core: number, own: number) =>
      pct((cores1[core] ?? 0) - (cores0[core] ?? 0) - own, seconds * 1000);
    const [other0, other1] = [other(sfuCore, c1 - c0), other(1, g1 - g0)];
    const otherNote = `other load in the window: core ${sfuCore} ${f1(other0)}%, core 1 ${f1(other1)}%`;
    const bridgeLoop = lag2
      ? `; ${name} event loop delay p50 ${f1(lag2.p50)} p99 ${f1(lag2.p99)} max ${f1(lag2.max)} ms (${lag2.seconds} s reported)`
      : '';
    return {
      cpuPct: pct(c1 - c0, seconds * 1000),
      usPerPacket: ((c1 - c0) * 1000) / Math.max(1, packets),
      packets,
      packetsEstimated: estimated,
      lossPct: pct(lost, expected),
      lost,
      expected,
      p50,
      p99,
      directP50: d50,
      directP99: d99,
      addedP50: p50 - d50,
      addedP99: p99 - d99,
      peakRssMb: alive ? peakRssMb(meeting.pid) : Number.NaN,
      rssMb: alive ? rssMb(meeting.pid) : Number.NaN,
      loopP99: lag2?.p99 ?? Number.NaN,
      loopMax: lag2?.max ?? Number.NaN,
      generatorPct,
      generatorBound: generatorPct > generatorBound,
      disturbed: other0 > quietPct || other1 > quietPct,
      otherPct: [other0, other1],
      shortOffered,
      starved,
      crashed,
      streams: `${started}/${want} streams (audio ${startedAudio}/${wantAudio}) at ${sampledPeers.length} sampled receivers, joined and connected in ${(this.setupMs / 1000).toFixed(1)} s, streams ready ${(this.#readyMs / 1000).toFixed(1)} s later${flowingNote}${offeredNote}${forwardedNote}`,
      layers: `stage tiles ${layerShare(measure.stage)}; thumbnails ${layerShare(measure.thumbs)}`,
      notes: `${otherNote}; ${loopNote}${bridgeLoop}; generator sent ${((s1 - s0) / seconds).toFixed(0)} packets/s, received ${(packets / seconds).toFixed(0)}/s; ${skipped} frames/audio packets the generator was over 100 ms late for (skipped); ${k1 - k0} keyframes sent in the window, keyframe requests ${keyframes} (by layer, whole run), ${retransmitted} retransmissions; ${measure.late - late0} late/repeated and ${measure.foreign} foreign packets${viewNote}`,
      threads,
    };
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#stopBatching();
    this.pair.close();
    await this.meeting.stop();
  }
}

/** One measured run: set up, wait for every stream, settle, wait for quiet cores, measure. */
export async function runMeeting(
  name: string,
  shape: Shape,
  setup: (m: Measure) => Promise<Meeting>,
  opts: LiveOptions & { windowMs: number; settleMs: number },
): Promise<Result> {
  const live = await LiveMeeting.start(name, shape, setup, opts);
  try {
    await live.ready();
    await sleep(opts.settleMs);
    const waited = await quiet(live.meeting.pid);
    const r = await live.window(opts.windowMs);
    r.notes = `waited ${f1(waited)} s for quiet cores; ${r.notes}`;
    return r;
  } finally {
    await live.stop();
  }
}

/**
 * `runMeeting`, repeated (at most `retries` times) while other processes disturbed it, so that
 * a figure comes from an undisturbed run if the machine allows; each run is reported.
 */
export async function runUndisturbed(
  name: string,
  shape: Shape,
  setup: (m: Measure) => Promise<Meeting>,
  opts: LiveOptions & { windowMs: number; settleMs: number; retries: number },
): Promise<Result> {
  let r: Result | undefined;
  for (let i = 0; i <= opts.retries && (!r || r.disturbed); i++) {
    r = await runMeeting(name, shape, setup, opts);
    report(`${name}${i > 0 ? ` (again, ${i})` : ''}`, r);
  }
  return r as Result;
}

export function describe(r: Result): string {
  const bound =
    (r.generatorBound ? ' GENERATOR-BOUND: these are not the SFU figures' : '') +
    (r.disturbed ? ` DISTURBED: other processes took over ${quietPct}% of a core` : '') +
    (r.crashed ? ` CRASHED: the SFU ${r.crashed}` : '');
  return `CPU ${f1(r.cpuPct)}% of one core, ${f1(r.usPerPacket)} µs per forwarded packet (${r.packets} packets${r.packetsEstimated ? `, ${r.packetsEstimated} receivers' estimated` : ''}); loss ${f2(r.lossPct)}% (${r.lost} of ${r.expected}); latency p50 ${f2(r.p50)} ms p99 ${f2(r.p99)} ms, direct pair p50 ${f2(r.directP50)} p99 ${f2(r.directP99)}, added p50 ${f2(r.addedP50)} p99 ${f2(r.addedP99)} ms; peak RSS ${f1(r.peakRssMb)} MB; generator ${f1(r.generatorPct)}% of its core${bound}`;
}

export function report(name: string, r: Result): void {
  console.log(`${name}: ${describe(r)}`);
  console.log(`  ${name}: ${r.streams}; ${r.layers}`);
  console.log(`  ${name}: ${r.notes}${r.threads}`);
}
