/**
 * `npm run bench -- bridge`: the Confab bridge against Janus's VideoRoom under the same load.
 * Part 1, real Chromium: one publisher (fake 640x480 camera and microphone) forwarded to K
 * subscribers (K = 1, 3, 6). Part 2, the same synthetic node-datachannel load on both (see
 * bench/README.md). The SFU under test runs on core 0, the load on core 1. Figures: CPU
 * microseconds per forwarded packet (the SFU process's utime+stime over the window ÷ the RTP
 * packets the subscribers received in it), peak RSS (VmHWM) and the subscribers' first decoded
 * frame after asking to subscribe.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../test/e2e/helpers/browser.js';
import { FakeFocus, SyntheticPeer, startBridge } from '../../test/support/bridgeHarness.js';
import { cpuMs, peakRssMb, threadCpuMs, threadDiff } from '../proc.js';
import { median } from '../stats.js';
import { type JanusHandle, startJanus } from './janus.js';
import { JanusSyntheticPeer } from './janusPeers.js';
import { type BenchWindow, pageScript } from './pages.js';

const windowMs = Number(arg('window') ?? 15) * 1000;
const ks = process.argv.includes('--no-chromium')
  ? []
  : (arg('k') ?? '1,3,6').split(',').map(Number);
/** `--rounds=N`: each K measured N times per SFU; the ratio is that of the medians. */
const rounds = Math.max(1, Number(arg('rounds') ?? 1));
const sfuCore = 0;
/** `--profile=DIR`: the bridge writes a V8 CPU profile there when it stops (figures then cost more). */
const profileDir = arg('profile');
const profile = profileDir ? { profileDir } : {};

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const showThreads = process.argv.includes('--threads');

interface Result {
  cpuUsPerPacket: number;
  packets: number;
  peakRssMb: number;
  firstFrameMs: number;
}

/** Pages serve from a loopback origin (a secure context for getUserMedia). */
async function pageServer(): Promise<string> {
  const server = createServer((_q, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>bench</title>'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

async function openPage(browser: Browser, origin: string): Promise<[BrowserContext, Page]> {
  const ctx = await browser.newContext();
  await ctx.addInitScript(pageScript);
  const page = await ctx.newPage();
  await page.goto(origin);
  return [ctx, page];
}

/** What the pages' peer connections received (RTP packets, `getStats`). */
const pagesReceived = (subs: Page[]) => async () =>
  (await Promise.all(subs.map((p) => p.evaluate('bench.packetsIn()') as Promise<number>))).reduce(
    (a, b) => a + b,
    0,
  );

/** Samples the SFU's CPU and the packets the receivers counted over the window. */
async function measure(
  pid: number,
  count: () => number | Promise<number>,
  firstFrames: number[],
): Promise<Result> {
  await sleep(3000); // past the start: rates settle
  const [c0, p0, t0] = [cpuMs(pid), await count(), threadCpuMs(pid)];
  await sleep(windowMs);
  const [c1, p1, t1] = [cpuMs(pid), await count(), threadCpuMs(pid)];
  const packets = p1 - p0;
  if (showThreads) console.log(`  threads: ${threadDiff(t0, t1)}`);
  return {
    cpuUsPerPacket: ((c1 - c0) * 1000) / Math.max(1, packets),
    packets,
    peakRssMb: peakRssMb(pid),
    firstFrameMs: median(firstFrames),
  };
}

async function confabChromium(browser: Browser, origin: string, k: number): Promise<Result> {
  const focus = await FakeFocus.start();
  const bridge = await startBridge(focus, 10480, { pinCpu: sfuCore, ...profile });
  const opened: BrowserContext[] = [];
  const pages = new Map<string, Page>();
  let running = true;
  // Every (re)offer of the bridge is answered by that endpoint's page.
  const answering = (async () => {
    while (running) {
      const m = await focus.next((x) => x.type === 'offer', 3_600_000).catch(() => undefined);
      if (m?.type !== 'offer') continue;
      const page = pages.get(m.endpoint);
      const publishOn = m.endpoint === 'pub' ? { audio: 'a', video: 'v' } : null;
      const sdp = (await page?.evaluate(
        ([o, p]) => (window as unknown as BenchWindow).bench.answer(o, p),
        [m.sdp, publishOn] as const,
      )) as string;
      focus.send({ type: 'answer', conference: 'bench', endpoint: m.endpoint, sdp });
    }
  })();
  const join = async (endpoint: string) => {
    const [ctx, page] = await openPage(browser, origin);
    opened.push(ctx);
    pages.set(endpoint, page);
    await page.evaluate('bench.t0 = performance.now()');
    focus.send({ type: 'allocate', conference: 'bench', endpoint, user: endpoint });
    return page;
  };
  await join('pub');
  const subs: Page[] = [];
  for (let i = 0; i < k; i++) subs.push(await join(`sub${i}`));
  const firstFrames = await Promise.all(
    subs.map((p) => p.evaluate('bench.firstFrameMs(30000)') as Promise<number>),
  );
  const result = await measure(bridge.proc.pid as number, pagesReceived(subs), firstFrames);
  running = false;
  for (const c of opened) await c.close();
  await bridge.stop();
  focus.close();
  void answering;
  return result;
}

async function janusChromium(browser: Browser, origin: string, k: number): Promise<Result> {
  const janus = await startJanus(18088, sfuCore);
  const opened: BrowserContext[] = [];
  const handles: JanusHandle[] = [];
  const admin = await janus.api.handle();
  handles.push(admin);
  const room = 4242;
  await admin.request({
    request: 'create',
    room,
    publishers: 20,
    bitrate: 2_000_000,
    videocodec: 'vp8',
    audiocodec: 'opus',
  });
  const [pctx, pub] = await openPage(browser, origin);
  opened.push(pctx);
  const ph = await janus.api.handle();
  handles.push(ph);
  const offer = (await pub.evaluate('bench.offerToPublish()')) as string;
  const joined = await ph.request(
    {
      request: 'joinandconfigure',
      room,
      ptype: 'publisher',
      display: 'pub',
      audio: true,
      video: true,
    },
    { type: 'offer', sdp: offer },
  );
  await pub.evaluate(
    (sdp) => (window as unknown as BenchWindow).bench.takeAnswer(sdp),
    joined.jsep?.sdp as string,
  );
  const feed = joined.plugindata?.data.id as number;
  const subs: Page[] = [];
  for (let i = 0; i < k; i++) {
    const [ctx, page] = await openPage(browser, origin);
    opened.push(ctx);
    await page.evaluate('bench.t0 = performance.now()');
    const h = await janus.api.handle();
    handles.push(h);
    const sub = await h.request({
      request: 'join',
      room,
      ptype: 'subscriber',
      streams: [{ feed }],
    });
    const answer = (await page.evaluate(
      (sdp) => (window as unknown as BenchWindow).bench.answer(sdp, null),
      sub.jsep?.sdp as string,
    )) as string;
    await h.request({ request: 'start', room }, { type: 'answer', sdp: answer });
    subs.push(page);
  }
  const firstFrames = await Promise.all(
    subs.map((p) => p.evaluate('bench.firstFrameMs(30000)') as Promise<number>),
  );
  const result = await measure(janus.proc.pid as number, pagesReceived(subs), firstFrames);
  for (const c of opened) await c.close();
  for (const h of handles) await h.close();
  await janus.stop();
  return result;
}

/**
 * `publishers` synthetic participants each publishing audio (50 packets/s) and video (20
 * frames/s of five 1.1 kB packets, ~0.9 Mbit/s) and receiving `subscribers` others' streams,
 * or 1 publisher and `subscribers` receive-only peers.
 */
async function confabSynthetic(publishers: number, receivers: number): Promise<Result> {
  const focus = await FakeFocus.start();
  const bridge = await startBridge(focus, 10481, { pinCpu: sfuCore, ...profile });
  const peers: SyntheticPeer[] = [];
  const t0 = performance.now();
  for (let i = 0; i < publishers + receivers; i++) {
    const p = await SyntheticPeer.join(focus, 'synthetic', `p${i}`);
    p.follow();
    peers.push(p);
  }
  for (const p of peers) await p.connected(30_000);
  for (const p of peers.slice(0, publishers)) p.publish();
  const firstFrames: number[] = [];
  // Receive-only peers, or (in a mesh) every peer, until its first forwarded packet.
  for (const p of receivers > 0 ? peers.slice(publishers) : peers) {
    while (p.totalReceived() === 0 && performance.now() - t0 < 30_000) await sleep(20);
    firstFrames.push(performance.now() - t0);
  }
  const total = () => peers.reduce((n, p) => n + p.totalReceived(), 0);
  const result = await measure(bridge.proc.pid as number, total, firstFrames);
  for (const p of peers) p.close();
  await bridge.stop();
  focus.close();
  return result;
}

/** The same synthetic load on Janus: a publisher handle each, and one subscription per receiver. */
async function janusSynthetic(publishers: number, receivers: number): Promise<Result> {
  const janus = await startJanus(18089, sfuCore);
  const admin = await janus.api.handle();
  const room = 4343;
  await admin.request({
    request: 'create',
    room,
    publishers: publishers + 1,
    bitrate: 2_000_000,
    videocodec: 'vp8',
    audiocodec: 'opus',
  });
  const t0 = performance.now();
  const pubs: JanusSyntheticPeer[] = [];
  for (let i = 0; i < publishers; i++) {
    const p = new JanusSyntheticPeer(janus, room, `p${i}`);
    await p.publish();
    pubs.push(p);
  }
  const feeds = pubs.map((p) => p.feed as number);
  const listening: JanusSyntheticPeer[] = [];
  if (receivers === 0) {
    // A mesh: every publisher receives the others.
    for (const p of pubs) await p.subscribe(feeds.filter((f) => f !== p.feed));
    listening.push(...pubs);
  } else {
    for (let i = 0; i < receivers; i++) {
      const r = new JanusSyntheticPeer(janus, room, `r${i}`);
      await r.subscribe(feeds);
      listening.push(r);
    }
  }
  const firstFrames: number[] = [];
  for (const p of listening) {
    while (p.totalReceived() === 0 && performance.now() - t0 < 30_000) await sleep(20);
    firstFrames.push(performance.now() - t0);
  }
  const total = () => listening.reduce((n, p) => n + p.totalReceived(), 0);
  const result = await measure(janus.proc.pid as number, total, firstFrames);
  for (const p of new Set([...pubs, ...listening])) await p.close();
  await admin.close();
  await janus.stop();
  return result;
}

const fmt = (r: Result) =>
  `${r.cpuUsPerPacket.toFixed(1)} µs/packet (${r.packets} packets), peak RSS ${r.peakRssMb.toFixed(1)} MB, first frame ${r.firstFrameMs.toFixed(0)} ms`;

/**
 * Measures one load `rounds` times on each SFU, alternating them so that drift in the machine's
 * load hits both alike, prints each round and the ratio of the medians; returns that ratio.
 */
async function compare(
  label: string,
  confabRun: () => Promise<Result>,
  janusRun: () => Promise<Result>,
): Promise<number> {
  const confabs: Result[] = [];
  const januses: Result[] = [];
  for (let round = 1; round <= rounds; round++) {
    const confab = await confabRun();
    const janus = await janusRun();
    confabs.push(confab);
    januses.push(janus);
    const tag = rounds > 1 ? ` round ${round}` : '';
    console.log(`${label}${tag}: confab ${fmt(confab)}`);
    console.log(`${label}${tag}: janus  ${fmt(janus)}`);
  }
  const c = median(confabs.map((r) => r.cpuUsPerPacket));
  const j = median(januses.map((r) => r.cpuUsPerPacket));
  const ratio = c / j;
  const each = confabs.map((r, i) => r.cpuUsPerPacket / (januses[i] as Result).cpuUsPerPacket);
  const spread =
    rounds > 1
      ? `; medians of ${rounds} rounds (${c.toFixed(1)} / ${j.toFixed(1)} µs), rounds ${Math.min(...each).toFixed(2)}-${Math.max(...each).toFixed(2)}`
      : '';
  const rss = median(confabs.map((r) => r.peakRssMb)) / median(januses.map((r) => r.peakRssMb));
  console.log(
    `${label}: CPU per packet confab/janus ratio ${ratio.toFixed(2)} (goal ≤ 1.0, aim 0.7)${spread}; RSS ratio ${rss.toFixed(2)}`,
  );
  return ratio;
}

async function main(): Promise<void> {
  // The load (this process, Chromium, the synthetic peers) on core 1; the SFU alone on core 0.
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(
    `bridge benchmark: SFU on core ${sfuCore}, load on the other; ${windowMs / 1000} s windows`,
  );
  const ratios: number[] = [];
  if (ks.length) {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: chromiumArgs,
      headless: true,
    });
    const origin = await pageServer();
    for (const k of ks)
      ratios.push(
        await compare(
          `chromium K=${k}`,
          () => confabChromium(browser, origin, k),
          () => janusChromium(browser, origin, k),
        ),
      );
    await browser.close();
  }
  if (!process.argv.includes('--no-synthetic')) {
    for (const [label, publishers, receivers] of [
      ['10 publishers x 9 subscribers', 10, 0],
      ['1 publisher x 50 subscribers', 1, 50],
    ] as const)
      ratios.push(
        await compare(
          `synthetic ${label}`,
          () => confabSynthetic(publishers, receivers),
          () => janusSynthetic(publishers, receivers),
        ),
      );
  }
  console.log(`worst ratio: ${Math.max(...ratios).toFixed(2)} (goal ≤ 1.0)`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
