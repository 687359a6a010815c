/**
 * `npm run bench -- meeting`: a simulcast meeting of synthetic node-datachannel participants
 * (this process, pinned to core 1) on the Confab bridge and on Janus's VideoRoom (each alone on
 * core 0). Every participant publishes Opus and three VP8 layers and receives everyone else:
 * the next participant in the ring at its high layer, the others at their low layer. Two
 * participants talk, the others send silence marked 127. Figures per SFU over the window: its
 * CPU (% of one core, and µs per packet the receivers got), loss, latency through it and what
 * it adds over a direct pair, peak RSS, and this generator's own CPU (bench/README.md).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { FakeFocus, startBridge } from '../../test/support/bridgeHarness.js';
import { startJanus } from '../bridge/janus.js';
import { clk, cpuMs, peakRssMb, threadCpuMs, threadDiff } from '../proc.js';
import { median } from '../stats.js';
import { DirectPair } from './baseline.js';
import { ConfabParticipant, type Participant } from './confab.js';
import { JanusParticipant } from './janusPeers.js';
import { layerSpecs } from './media.js';
import { Measure } from './receive.js';

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}
const participants = Math.max(2, Number(arg('participants') ?? 20));
const sampled = Math.min(participants, Number(arg('sampled') ?? 20));
const windowMs = Number(arg('window') ?? 20) * 1000;
const settleMs = Number(arg('settle') ?? 5) * 1000;
const rounds = Math.max(1, Number(arg('rounds') ?? 1));
/** `--sfu=confab` or `--sfu=janus`: one of them only. */
const only = arg('sfu');
const showThreads = process.argv.includes('--threads');
/** `--timeline`: the highest latency of each second of the window, via the SFU and direct. */
const showTimeline = process.argv.includes('--timeline');
/** `--profile=DIR`: the Confab bridge writes a V8 CPU profile there when it stops. */
const profileDir = arg('profile');
/**
 * `--batch=MS`: the generator's main thread sleeps this long between turns of its event loop,
 * so that the packets node-datachannel hands it queue up and each wake-up takes many (0: off).
 * 2 ms took 12-15% off its main thread at 20 participants; every received packet waits up to
 * that much more, on the direct pair as on the SFU's path, so the added latency keeps.
 */
const batchMs = Number(arg('batch') ?? 2);
const sfuCore = 0;
/** The generator's core above this share: its figures are not the SFU's. */
const generatorBound = 85;
const goals = { cpuPct: 60, lossPct: 1, addedP99: 15, perPacketRatio: 0.7 };

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Busy ms of each core (/proc/stat: all but idle and iowait). */
function coreBusyMs(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = (m[2] ?? '').split(' ').map(Number);
    const busy = f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
    out[Number(m[1])] = (busy * 1000) / clk;
  }
  return out;
}

/** Other processes' share of a core above this: the window waits (another test is running). */
const quietPct = 10;
const maxQuietWaitMs = 30_000;
/** `--retries=N`: a disturbed run is repeated up to N times (2). */
const retries = Math.max(0, Number(arg('retries') ?? 2));

/**
 * Waits (at most `maxQuietWaitMs`) until the two cores carry little besides the SFU and this
 * generator, measured a second at a time; returns the seconds waited.
 */
async function quiet(sfuPid: number): Promise<number> {
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

/** A meeting set up on one SFU, not yet sending. */
interface Meeting {
  pid: number;
  participants: Participant[];
  stop(): Promise<void>;
}

interface Result {
  cpuPct: number;
  usPerPacket: number;
  packets: number;
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
  generatorPct: number;
  generatorBound: boolean;
  /** Other processes took more than `quietPct` of either core in the window. */
  disturbed: boolean;
  streams: string;
  layers: string;
  notes: string;
  threads: string;
}

async function confabMeeting(measure: Measure): Promise<Meeting> {
  const focus = await FakeFocus.start();
  const bridge = await startBridge(focus, 10490, {
    pinCpu: sfuCore,
    ...(profileDir ? { profileDir } : {}),
  });
  const peers: ConfabParticipant[] = [];
  for (let i = 0; i < participants; i++) {
    const p = new ConfabParticipant(focus, 'meeting', i, participants, i < sampled, measure);
    await p.join();
    peers.push(p);
  }
  for (const p of peers) await p.connected(30_000);
  return {
    pid: bridge.proc.pid as number,
    participants: peers,
    async stop() {
      for (const p of peers) p.close();
      await bridge.stop();
      focus.close();
    },
  };
}

async function janusMeeting(measure: Measure): Promise<Meeting> {
  const janus = await startJanus(18090, sfuCore);
  const admin = await janus.api.handle();
  const room = 4444;
  await admin.request({
    request: 'create',
    room,
    publishers: participants + 1,
    bitrate: 3_000_000,
    videocodec: 'vp8',
    audiocodec: 'opus',
  });
  const peers: JanusParticipant[] = [];
  for (let i = 0; i < participants; i++) {
    const p = new JanusParticipant(janus, room, i, participants, i < sampled, measure);
    await p.publish();
    peers.push(p);
  }
  const feeds = peers.map((p) => p.feed as number);
  for (const p of peers) await p.subscribe(feeds);
  return {
    pid: janus.proc.pid as number,
    participants: peers,
    async stop() {
      for (const p of peers) await p.close();
      await admin.close();
      await janus.stop();
    },
  };
}

const pct = (part: number, whole: number) => (whole > 0 ? (100 * part) / whole : Number.NaN);

function layerShare(counts: number[]): string {
  const all = counts.reduce((a, b) => a + b, 0);
  if (all === 0) return 'nothing';
  return counts
    .map((n, i) => `${layerSpecs[i]?.name} ${pct(n, all).toFixed(1)}%`)
    .filter((s) => !s.includes(' 0.0%'))
    .join(' ');
}

async function run(name: string, setup: (m: Measure) => Promise<Meeting>): Promise<Result> {
  const measure = new Measure();
  const direct = new Measure();
  const meeting = await setup(measure);
  const pair = new DirectPair(participants, direct);
  await pair.connected(10_000);
  const peers = meeting.participants;
  const pubs = [...peers.map((p) => p.publisher), pair.publisher];
  const t0 = performance.now();
  pubs.forEach((p, i) => {
    p.start(t0, i / pubs.length);
  });
  const stopBatching = batchMs > 0 ? batchTurns(batchMs) : () => {};
  // One timer sends for everyone: due frames and audio packets, every 5 ms.
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const p of pubs) p.tick(now);
  }, 5);
  const rembs = setInterval(() => {
    for (const p of peers) p.remb();
  }, 1000);
  // Until every sampled receiver has all streams (video from a keyframe), at most 30 s.
  const want = 2 * (participants - 1);
  const sampledPeers = peers.filter((p) => p.receiver.sampled);
  const allStarted = () => sampledPeers.every((p) => p.receiver.started() >= want);
  while (!allStarted() && performance.now() - t0 < 30_000) await sleep(100);
  const ready = performance.now() - t0;
  await sleep(settleMs);
  const waited = await quiet(meeting.pid);

  const total = () => peers.reduce((n, p) => n + p.receiver.total, 0);
  const sentAll = () => pubs.reduce((n, p) => n + p.sent, 0);
  const streams = () => [...sampledPeers.flatMap((p) => p.receiver.streams)];
  for (const s of [...streams(), ...pair.receiver.streams]) s.mark();
  const cores0 = coreBusyMs();
  const k0 = pubs.reduce((n, p) => n + p.keyframesSent, 0);
  const late0 = pubs.reduce((n, p) => n + p.skipped, 0);
  const [c0, g0, n0, s0, t0c] = [
    cpuMs(meeting.pid),
    cpuMs(process.pid),
    total(),
    sentAll(),
    performance.now(),
  ];
  const [th0, gth0] = showThreads ? [threadCpuMs(meeting.pid), threadCpuMs(process.pid)] : [];
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
  await sleep(windowMs);
  measure.measuring = false;
  direct.measuring = false;
  loop.disable();
  gc.disconnect();
  const loopNote = `generator event loop delay p50 ${f1(loop.percentile(50) / 1e6)} p99 ${f1(loop.percentile(99) / 1e6)} max ${f1(loop.max / 1e6)} ms, ${gcs} GCs ${f1(gcMs)} ms`;
  const cores1 = coreBusyMs();
  const k1 = pubs.reduce((n, p) => n + p.keyframesSent, 0);
  const late1 = pubs.reduce((n, p) => n + p.skipped, 0);
  const [c1, g1, n1, s1, t1c] = [
    cpuMs(meeting.pid),
    cpuMs(process.pid),
    total(),
    sentAll(),
    performance.now(),
  ];
  const secs = Math.ceil(windowMs / 1000);
  const maxes = (m: Measure) =>
    [...m.maxBySecond.slice(0, secs)].map((x) => x.toFixed(0)).join(' ');
  const timeline = showTimeline
    ? `\n  ${name} max latency per second (ms), via the SFU: ${maxes(measure)}\n  direct pair: ${maxes(direct)}`
    : '';
  const threads =
    timeline +
    (showThreads && th0 && gth0
      ? `\n  ${name} threads: ${threadDiff(th0, threadCpuMs(meeting.pid))}\n  generator threads: ${threadDiff(gth0, threadCpuMs(process.pid))}`
      : '');
  const rss = peakRssMb(meeting.pid);
  let expected = 0;
  let received = 0;
  for (const s of streams()) {
    const [e, r] = s.sinceMark();
    expected += e;
    received += r;
  }
  const started = sampledPeers.reduce((n, p) => n + p.receiver.started(), 0);
  clearInterval(ticker);
  clearInterval(rembs);
  stopBatching();
  const skipped = late1 - late0;
  const keyframes = [0, 1, 2]
    .map((l) => pubs.reduce((n, p) => n + (p.keyframesAsked[l] ?? 0), 0))
    .join('/');
  const retransmitted = pubs.reduce((n, p) => n + p.retransmitted, 0);
  const channels = peers.filter((p) => p.channelOpen).length;
  const views = peers.reduce((n, p) => n + (p.views ?? 0), 0);
  const viewNote =
    name === 'confab'
      ? `; media channel open at ${channels}/${peers.length}, ${views} views sent`
      : '';
  pair.close();
  await meeting.stop();

  const seconds = (t1c - t0c) / 1000;
  const packets = n1 - n0;
  const lost = Math.max(0, expected - received);
  const [p50, p99] = [measure.latency.quantile(0.5), measure.latency.quantile(0.99)];
  const [d50, d99] = [direct.latency.quantile(0.5), direct.latency.quantile(0.99)];
  const generatorPct = pct(g1 - g0, seconds * 1000);
  // What else ran on the two cores meanwhile (another test on this machine shows here).
  const other = (core: number, own: number) =>
    pct((cores1[core] ?? 0) - (cores0[core] ?? 0) - own, seconds * 1000);
  const [other0, other1] = [other(sfuCore, c1 - c0), other(1, g1 - g0)];
  const otherNote = `waited ${f1(waited)} s for quiet cores; other load in the window: core ${sfuCore} ${f1(other0)}%, core 1 ${f1(other1)}%`;
  return {
    cpuPct: pct(c1 - c0, seconds * 1000),
    usPerPacket: ((c1 - c0) * 1000) / Math.max(1, packets),
    packets,
    lossPct: pct(lost, expected),
    lost,
    expected,
    p50,
    p99,
    directP50: d50,
    directP99: d99,
    addedP50: p50 - d50,
    addedP99: p99 - d99,
    peakRssMb: rss,
    generatorPct,
    generatorBound: generatorPct > generatorBound,
    disturbed: other0 > quietPct || other1 > quietPct,
    streams: `${started}/${want * sampledPeers.length} streams at ${sampledPeers.length} sampled receivers after ${(ready / 1000).toFixed(1)} s`,
    layers: `stage tiles ${layerShare(measure.stage)}; thumbnails ${layerShare(measure.thumbs)}`,
    notes: `${otherNote}; ${loopNote}; generator sent ${((s1 - s0) / seconds).toFixed(0)} packets/s, received ${(packets / seconds).toFixed(0)}/s; ${skipped} frames/audio packets the generator was over 100 ms late for (skipped); ${k1 - k0} keyframes sent in the window, keyframe requests ${keyframes} (by layer, whole run), ${retransmitted} retransmissions; ${measure.late} late/repeated and ${measure.foreign} foreign packets${viewNote}`,
    threads,
  };
}

function report(name: string, r: Result): void {
  const bound =
    (r.generatorBound ? ' GENERATOR-BOUND: these are not the SFU figures' : '') +
    (r.disturbed ? ` DISTURBED: other processes took over ${quietPct}% of a core` : '');
  console.log(
    `${name}: CPU ${f1(r.cpuPct)}% of one core, ${f1(r.usPerPacket)} µs per forwarded packet (${r.packets} packets); loss ${f2(r.lossPct)}% (${r.lost} of ${r.expected}); latency p50 ${f2(r.p50)} ms p99 ${f2(r.p99)} ms, direct pair p50 ${f2(r.directP50)} p99 ${f2(r.directP99)}, added p50 ${f2(r.addedP50)} p99 ${f2(r.addedP99)} ms; peak RSS ${f1(r.peakRssMb)} MB; generator ${f1(r.generatorPct)}% of its core${bound}`,
  );
  console.log(`  ${name}: ${r.streams}; ${r.layers}`);
  console.log(`  ${name}: ${r.notes}${r.threads}`);
}

async function main(): Promise<void> {
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(
    `meeting benchmark: ${participants} participants (${sampled} sampled), SFU on core ${sfuCore}, generator on core 1 (batching ${batchMs} ms); ${settleMs / 1000} s settling, ${windowMs / 1000} s windows`,
  );
  const confabs: Result[] = [];
  const januses: Result[] = [];
  // A run that other processes disturbed is repeated (at most `retries` times), so that each
  // round has an undisturbed run of each SFU if the machine allows; the medians use those.
  const attempt = async (name: string, tag: string, setup: (m: Measure) => Promise<Meeting>) => {
    let r: Result | undefined;
    for (let i = 0; i <= retries && (!r || r.disturbed); i++) {
      r = await run(name, setup);
      report(`${name}${tag}${i > 0 ? ` (again, ${i})` : ''}`, r);
    }
    return r as Result;
  };
  for (let round = 1; round <= rounds; round++) {
    const tag = rounds > 1 ? ` round ${round}` : '';
    if (only !== 'janus') confabs.push(await attempt('confab', tag, confabMeeting));
    if (only !== 'confab') januses.push(await attempt('janus', tag, janusMeeting));
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
      `confab/janus${of}: CPU per packet ${ratio('usPerPacket')}, CPU ${ratio('cpuPct')}, peak RSS ${ratio('peakRssMb')}, added latency p50 ${ratio('addedP50')} p99 ${ratio('addedP99')}`,
    );
  }
  const label = participants === 20 ? 'W-meet-20' : `W-meet-20 goals at ${participants}`;
  for (const [name, rs] of [
    ['confab', confabs],
    ['janus', januses],
  ] as const) {
    if (!rs.length) continue;
    const perPacket =
      name === 'confab' && januses.length
        ? `, CPU per packet vs janus ${f2(med(rs, 'usPerPacket') / med(januses, 'usPerPacket'))} (goal ≤ ${goals.perPacketRatio})`
        : '';
    const bound =
      (clean(rs).some((r) => r.generatorBound) ? ' [generator-bound]' : '') +
      (clean(rs).some((r) => r.disturbed) ? ' [disturbed]' : '');
    console.log(
      `${label} ${name}${of}: CPU ${f1(med(rs, 'cpuPct'))}% of one core (goal ≤ ${goals.cpuPct}%), loss ${f2(med(rs, 'lossPct'))}% (goal ≤ ${goals.lossPct}%), added latency p99 ${f2(med(rs, 'addedP99'))} ms (goal ≤ ${goals.addedP99} ms)${perPacket}${bound}`,
    );
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
