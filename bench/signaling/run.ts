/**
 * Signaling benchmark. A `confab serve` on core 0 (this load generator on core 1):
 * - 10,000 concurrent authenticated sessions (rtm/connect + WebSocket each): resident memory per
 *   session against a bare `ws` server holding as many sockets (goal ≤ 1.5×). RSS is measured in
 *   two rounds on each server: cold (idle process → all sessions held) and warm (the same again
 *   after all were closed), since a garbage-collected heap that grew for the connect traffic is
 *   reused afterwards; the cold round is the headline, being what an operator sees;
 * - ring delivery: calls at 1,000 a second between those sessions, from `webrtc_call` sent to
 *   the ring arriving at the callee (goal p99 ≤ 25 ms). Callees decline at once.
 * Access tokens are minted with the server's own signing key (the load generator's shortcut;
 * the server checks them in full). Clients do not ping (heartbeat timeout raised), so the ring
 * figures are calls alone.
 * Cold RSS swings between processes, so `--rounds=N` starts N fresh pairs and prints medians.
 * Usage: npm run bench -- signaling [--sessions=N] [--calls=N] [--rate=N] [--settle=MS] [--rounds=N]
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startConfab } from '../../test/support/confabProcess.js';
import { seedUsers, tokenMinter } from '../directory.js';
import { median, percentile } from '../stats.js';
import { GcTrace, traceGcPreload } from './gcTrace.js';

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const sessions = arg('sessions', 10_000);
const calls = arg('calls', 5000);
const rate = arg('rate', 1000);
const settleMs = arg('settle', 3000);
/** Each round a fresh process of each server: a cold round happens once per process. */
const rounds = Math.max(1, arg('rounds', 1));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/** Opens `n` WebSockets, 64 at a time; each is ready once its first message (hello) arrived. */
async function openMany(
  n: number,
  url: (i: number) => Promise<string>,
  onMessage: (i: number, data: string) => void = () => {},
): Promise<WebSocket[]> {
  const sockets: WebSocket[] = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const ws = new WebSocket(await url(i), { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('message', () => resolve());
        ws.once('error', reject);
      });
      ws.on('message', (d) => onMessage(i, String(d)));
      sockets[i] = ws;
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return sockets;
}

interface Rounds {
  coldKb: number;
  warmKb: number;
  cold: [number, number];
  warm: [number, number];
  /** V8's heap (committed, MB) at the start and end of the cold round. */
  coldHeap: [number, number];
  /** What the cold round's scavenges promoted into the old generation. */
  coldGc: { promotedMb: number; scavenges: number; markCompacts: number };
}

/**
 * RSS per held socket in a cold and a warm round, leaving the warm round's sockets open.
 * `heapTotalMb` reads the server's committed V8 heap, whose growth in the cold round is what
 * varies from process to process; `gc` reads its collections.
 */
async function measure(
  pid: number,
  url: (i: number) => Promise<string>,
  heapTotalMb: () => Promise<number>,
  gc: GcTrace,
  onMessage?: (i: number, data: string) => void,
) {
  await sleep(settleMs);
  const c0 = rssMb(pid);
  const h0 = await heapTotalMb();
  gc.take();
  const first = await openMany(sessions, url);
  await sleep(settleMs);
  const c1 = rssMb(pid);
  const h1 = await heapTotalMb();
  const coldGc = gc.take();
  for (const ws of first) ws.terminate();
  await sleep(settleMs);
  const w0 = rssMb(pid);
  const started = performance.now();
  const sockets = await openMany(sessions, url, onMessage);
  const openSeconds = (performance.now() - started) / 1000;
  await sleep(settleMs);
  const w1 = rssMb(pid);
  const rounds: Rounds = {
    coldKb: ((c1 - c0) * 1024) / sessions,
    warmKb: ((w1 - w0) * 1024) / sessions,
    cold: [c0, c1],
    warm: [w0, w1],
    coldHeap: [h0, h1],
    coldGc,
  };
  return { rounds, sockets, openSeconds };
}

// One user per session, straight into the database (shared by every round's server).
const dir = mkdtempSync(path.join(tmpdir(), 'confab-bench-signaling-'));
const seedDir = path.join(dir, 'seed');
mkdirSync(seedDir, { recursive: true, mode: 0o700 });
seedUsers(seedDir, sessions);

interface Result {
  rounds: Rounds;
  openSeconds: number;
  /** Live heap in MB after a full collection: [sessions closed, sessions held]. */
  live: [number, number];
}

/** One Confab process: sessions in a cold and a warm round, then the rings. */
async function runConfab(round: number, latencies: number[]): Promise<Result> {
  const dataDir = path.join(dir, `data-${round}`);
  cpSync(seedDir, dataDir, { recursive: true });
  const server = await startConfab({
    config: [
      `data_dir: ${dataDir}`,
      'rtm_connect_rate_limit_per_user: 1000000',
      'rtm_connect_rate_limit_per_ip: 1000000',
      'rtm_heartbeat_timeout: 600',
      'rtm_message_rate: 100000',
      'call_timeout: 600',
    ].join('\n'),
    args: ['--data-dir', dataDir],
    pinCpu: 0,
    // A heap snapshot collects garbage first: the way to read Confab's live heap from outside.
    env: { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --import ${traceGcPreload}` },
  });
  const gc = new GcTrace(server.proc.stdout as Readable);

  /** A gauge from Confab's /metrics. */
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(new URL('/metrics', server.localUrl))).text();
    return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);
  };
  /** Confab's live heap in MB after a full collection (forced by writing a heap snapshot). */
  const liveHeapMb = async (): Promise<number> => {
    const snapshots = () => readdirSync(server.dir).filter((f) => f.endsWith('.heapsnapshot'));
    const count = snapshots().length;
    server.proc.kill('SIGUSR2');
    const deadline = Date.now() + 60_000;
    while (snapshots().length === count && Date.now() < deadline) await sleep(200);
    await sleep(1000);
    for (const f of snapshots()) rmSync(path.join(server.dir, f), { force: true });
    return (await metric('nodejs_heap_size_used_bytes')) / 1048576;
  };

  try {
    const mint = await tokenMinter(dataDir, server.url);
    const connectUrl = async (i: number) => {
      const token = await mint(i);
      const res = await fetch(new URL('/api/kwm/v2/rtm/connect', server.localUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status !== 200) throw new Error(`rtm/connect ${res.status}`);
      return new URL(
        ((await res.json()) as { url: string }).url,
        server.localUrl.replace('http', 'ws'),
      ).href;
    };

    const sent = new Map<string, number>();
    let sockets: WebSocket[] = [];
    const heapTotalMb = async () => (await metric('nodejs_heap_size_total_bytes')) / 1048576;
    const measured = await measure(
      server.proc.pid as number,
      connectUrl,
      heapTotalMb,
      gc,
      (i, data) => {
        const m = JSON.parse(data) as {
          type: string;
          subtype?: string;
          initiator?: boolean;
          target?: string;
          state?: string;
          source?: string;
          channel?: string;
          hash?: string;
        };
        if (m.type !== 'webrtc' || m.subtype !== 'webrtc_call' || !m.initiator || !m.target) return;
        const t0 = sent.get(m.state as string);
        if (t0 !== undefined) latencies.push(performance.now() - t0);
        sockets[i]?.send(
          JSON.stringify({
            id: 1,
            type: 'webrtc',
            subtype: 'webrtc_call',
            target: m.source,
            initiator: false,
            channel: m.channel,
            hash: m.hash,
            state: m.state,
            data: { accept: false, reason: 'reject', state: m.state },
          }),
        );
      },
    );
    sockets = measured.sockets;

    // Calls at `rate` a second: caller i rings callee (i + half) % sessions.
    const expected = latencies.length + calls;
    const t0 = performance.now();
    for (let c = 0; c < calls; c++) {
      const wait = t0 + (c * 1000) / rate - performance.now();
      if (wait > 1) await sleep(wait);
      const caller = c % sessions;
      const callee = (caller + Math.floor(sessions / 2)) % sessions;
      sent.set(`s${c}`, performance.now());
      sockets[caller]?.send(
        JSON.stringify({
          id: c + 2,
          type: 'webrtc',
          subtype: 'webrtc_call',
          target: `user-${callee}`,
          initiator: true,
          state: `s${c}`,
        }),
      );
    }
    const deadline = performance.now() + 10_000;
    while (latencies.length < expected && performance.now() < deadline) await sleep(50);
    // Live heap with the sessions held, and after they close (the baseline): what sessions hold.
    const held = await liveHeapMb();
    for (const ws of sockets) ws.terminate();
    await sleep(2000);
    return { ...measured, live: [await liveHeapMb(), held] };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The same sockets against a bare ws server (with --expose-gc, to report its live heap). */
async function runBare(): Promise<Result> {
  const bare = spawn(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      '--expose-gc',
      '--trace-gc-nvp',
      '--import',
      'tsx',
      path.join(path.dirname(fileURLToPath(import.meta.url)), 'bareWs.ts'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const gc = new GcTrace(bare.stdout as Readable);
    // Its answers are JSON lines among V8's GC trace lines, each one after we asked.
    const lines = createInterface({ input: bare.stdout as Readable });
    const nextLine = () =>
      new Promise<string>((resolve) => {
        const answer = (line: string) => {
          if (!line.startsWith('{')) return;
          lines.off('line', answer);
          resolve(line);
        };
        lines.on('line', answer);
      });
    const port = (JSON.parse(await nextLine()) as { port: number }).port;
    const heap = async (command: 'heap' | 'memory') => {
      bare.stdin?.write(`${command}\n`);
      return JSON.parse(await nextLine()) as { heapUsed: number; heapTotal: number };
    };
    const liveHeapMb = async () => (await heap('heap')).heapUsed / 1048576;
    const measured = await measure(
      bare.pid as number,
      async () => `ws://127.0.0.1:${port}/`,
      async () => (await heap('memory')).heapTotal / 1048576,
      gc,
    );
    const held = await liveHeapMb();
    for (const ws of measured.sockets) ws.terminate();
    await sleep(2000);
    return { ...measured, live: [await liveHeapMb(), held] };
  } finally {
    bare.kill('SIGTERM');
  }
}

const mb = ([x, y]: [number, number]) => `${x.toFixed(1)} -> ${y.toFixed(1)} MB`;
/** V8's committed heap growth: it includes pages not (yet) resident, so it is no part of RSS. */
const heapGrowth = (r: Rounds) =>
  `+${(r.coldHeap[1] - r.coldHeap[0]).toFixed(1)} MB, ${r.coldGc.promotedMb.toFixed(1)} MB promoted by ${r.coldGc.scavenges} scavenges (${r.coldGc.markCompacts} full collections)`;
const liveKb = ([closed, held]: [number, number]) => ((held - closed) * 1024) / sessions;
const range = (xs: number[]) =>
  rounds > 1
    ? ` (median of ${rounds}; rounds ${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`
    : '';

console.log(
  `signaling benchmark (server on core 0, clients on core 1; ${sessions} sessions, ${calls} calls at ${rate}/s, ${rounds} round${rounds > 1 ? 's' : ''}):`,
);
const latencies: number[] = [];
const confabs: Result[] = [];
const bares: Result[] = [];
try {
  // Alternating the two servers, so that drift in the machine's load hits both alike.
  for (let round = 1; round <= rounds; round++) {
    const c = await runConfab(round, latencies);
    const b = await runBare();
    confabs.push(c);
    bares.push(b);
    const tag = rounds > 1 ? `round ${round} ` : '';
    console.log(
      `${tag}sessions: ${sessions} opened in ${c.openSeconds.toFixed(1)} s (${(sessions / c.openSeconds).toFixed(0)}/s, rtm/connect + websocket each)`,
    );
    console.log(
      `${tag}cold round: confab ${mb(c.rounds.cold)} = ${c.rounds.coldKb.toFixed(1)} KB per session; bare ws ${mb(b.rounds.cold)} = ${b.rounds.coldKb.toFixed(1)} KB per socket; ratio ${(c.rounds.coldKb / b.rounds.coldKb).toFixed(2)}`,
    );
    console.log(
      `${tag}cold round, V8 heap committed: confab ${heapGrowth(c.rounds)}; bare ws ${heapGrowth(b.rounds)}`,
    );
    console.log(
      `${tag}warm round: confab ${mb(c.rounds.warm)} = ${c.rounds.warmKb.toFixed(1)} KB per session; bare ws ${mb(b.rounds.warm)} = ${b.rounds.warmKb.toFixed(1)} KB per socket`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const each = (f: (c: Result, b: Result) => number) =>
  confabs.map((c, i) => f(c, bares[i] as Result));
const cold = each((c, b) => c.rounds.coldKb / b.rounds.coldKb);
const warm = each((c, b) => c.rounds.warmKb / b.rounds.warmKb);
const live = each((c, b) => liveKb(c.live) / liveKb(b.live));
console.log(
  `live heap after a full collection: confab ${median(confabs.map((c) => liveKb(c.live))).toFixed(2)} KB per session held; bare ws ${median(bares.map((b) => liveKb(b.live))).toFixed(2)} KB per socket; ratio ${median(live).toFixed(2)}${range(live)}`,
);
console.log(
  `memory per session vs bare ws: cold ratio ${median(cold).toFixed(2)}${range(cold)} (goal ≤ 1.5), warm ratio ${median(warm).toFixed(2)}${range(warm)}`,
);
const promoted = (rs: Result[]) => median(rs.map((r) => r.rounds.coldGc.promotedMb)).toFixed(1);
console.log(
  `promoted into the old generation in the cold round: confab ${promoted(confabs)} MB, bare ws ${promoted(bares)} MB${rounds > 1 ? ' (medians)' : ''}`,
);
latencies.sort((a, b) => a - b);
console.log(
  `ring delivery: ${latencies.length}/${calls * rounds} rings, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${(latencies.at(-1) ?? Number.NaN).toFixed(2)} ms (goal p99 ≤ 25 ms, ratio ${(percentile(latencies, 99) / 25).toFixed(2)})`,
);
