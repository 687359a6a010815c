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
 * Usage: npm run bench -- signaling [--sessions=N] [--calls=N] [--rate=N] [--settle=MS]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { importJWK, type JWK, SignJWT } from 'jose';
import WebSocket from 'ws';
import { openDatabase } from '../../packages/server/src/storage/index.js';
import { startConfab } from '../../test/support/confabProcess.js';
import { percentile } from '../stats.js';

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const sessions = arg('sessions', 10_000);
const calls = arg('calls', 5000);
const rate = arg('rate', 1000);
const settleMs = arg('settle', 3000);

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
}

/** RSS per held socket in a cold and a warm round, leaving the warm round's sockets open. */
async function measure(
  pid: number,
  url: (i: number) => Promise<string>,
  onMessage?: (i: number, data: string) => void,
) {
  await sleep(settleMs);
  const c0 = rssMb(pid);
  const first = await openMany(sessions, url);
  await sleep(settleMs);
  const c1 = rssMb(pid);
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
  };
  return { rounds, sockets, openSeconds };
}

// One user per session, straight into the database.
const dir = mkdtempSync(path.join(tmpdir(), 'confab-bench-signaling-'));
const dataDir = path.join(dir, 'data');
mkdirSync(dataDir, { recursive: true, mode: 0o700 });
{
  const db = openDatabase(dataDir);
  const insert = db.prepare(
    "INSERT INTO users (id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at) VALUES (?, ?, ?, '', '', 'x', ?, 0, 0)",
  );
  db.transaction(() => {
    for (let i = 0; i < sessions; i++) insert.run(`user-${i}`, `user${i}`, `User ${i}`, `user${i}`);
  })();
  db.close();
}

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
  env: { NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' },
});

/** Confab's live heap in MB after a full collection (forced by writing a heap snapshot). */
async function confabLiveHeapMb(): Promise<number> {
  const snapshots = () => readdirSync(server.dir).filter((f) => f.endsWith('.heapsnapshot'));
  const count = snapshots().length;
  server.proc.kill('SIGUSR2');
  const deadline = Date.now() + 60_000;
  while (snapshots().length === count && Date.now() < deadline) await sleep(200);
  await sleep(1000);
  for (const f of snapshots()) rmSync(path.join(server.dir, f), { force: true });
  const text = await (await fetch(new URL('/metrics', server.localUrl))).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1]) / 1048576;
}

let confab: Awaited<ReturnType<typeof measure>>;
let confabLive: [number, number] = [Number.NaN, Number.NaN];
const latencies: number[] = [];
try {
  const stored = JSON.parse(
    readFileSync(path.join(dataDir, 'identity/signing-keys.json'), 'utf8'),
  ) as { keys: { kid: string; alg: string; jwk: JWK }[] };
  const es = stored.keys.find((k) => k.alg === 'ES256') as { kid: string; jwk: JWK };
  const key = await importJWK(es.jwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const connectUrl = async (i: number) => {
    const token = await new SignJWT({ scope: 'kopano/kwm kopano/gc', client_id: 'bench' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: es.kid })
      .setIssuer(server.url)
      .setAudience(`${server.url}/api`)
      .setSubject(`user-${i}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
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
  confab = await measure(server.proc.pid as number, connectUrl, (i, data) => {
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
  });
  sockets = confab.sockets;

  // Calls at `rate` a second: caller i rings callee (i + half) % sessions.
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
  while (latencies.length < calls && performance.now() < deadline) await sleep(50);
  // Live heap with the sessions held, and after they close (the baseline): what sessions hold.
  const held = await confabLiveHeapMb();
  for (const ws of sockets) ws.terminate();
  await sleep(2000);
  confabLive = [await confabLiveHeapMb(), held];
} finally {
  await server.stop();
}

// The same sockets against a bare ws server (with --expose-gc, to report its live heap).
const bare = spawn(
  'taskset',
  [
    '-c',
    '0',
    process.execPath,
    '--expose-gc',
    '--import',
    'tsx',
    path.join(path.dirname(fileURLToPath(import.meta.url)), 'bareWs.ts'),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const bareLines = createInterface({ input: bare.stdout as NodeJS.ReadableStream });
const nextLine = () => new Promise<string>((resolve) => bareLines.once('line', resolve));
const port = (JSON.parse(await nextLine()) as { port: number }).port;
const bareLiveHeapMb = async () => {
  bare.stdin?.write('heap\n');
  return (JSON.parse(await nextLine()) as { heapUsed: number }).heapUsed / 1048576;
};
const peer = await measure(bare.pid as number, async () => `ws://127.0.0.1:${port}/`);
const bareHeld = await bareLiveHeapMb();
for (const ws of peer.sockets) ws.terminate();
await sleep(2000);
const bareLive: [number, number] = [await bareLiveHeapMb(), bareHeld];
bare.kill('SIGTERM');

latencies.sort((a, b) => a - b);
const c = confab.rounds;
const b = peer.rounds;
const mb = ([x, y]: [number, number]) => `${x.toFixed(1)} -> ${y.toFixed(1)} MB`;
console.log(
  `signaling benchmark (server on core 0, clients on core 1; ${sessions} sessions, ${calls} calls at ${rate}/s):`,
);
console.log(
  `sessions: ${sessions} opened in ${confab.openSeconds.toFixed(1)} s (${(sessions / confab.openSeconds).toFixed(0)}/s, rtm/connect + websocket each)`,
);
console.log(
  `cold round: confab ${mb(c.cold)} = ${c.coldKb.toFixed(1)} KB per session; bare ws ${mb(b.cold)} = ${b.coldKb.toFixed(1)} KB per socket`,
);
console.log(
  `warm round: confab ${mb(c.warm)} = ${c.warmKb.toFixed(1)} KB per session; bare ws ${mb(b.warm)} = ${b.warmKb.toFixed(1)} KB per socket`,
);
const liveKb = ([closed, held]: [number, number]) => ((held - closed) * 1024) / sessions;
console.log(
  `live heap after a full collection: confab ${liveKb(confabLive).toFixed(2)} KB per session held; bare ws ${liveKb(bareLive).toFixed(2)} KB per socket; ratio ${(liveKb(confabLive) / liveKb(bareLive)).toFixed(2)}`,
);
console.log(
  `memory per session vs bare ws: cold ratio ${(c.coldKb / b.coldKb).toFixed(2)} (goal ≤ 1.5), warm ratio ${(c.warmKb / b.warmKb).toFixed(2)}`,
);
console.log(
  `ring delivery: ${latencies.length}/${calls} rings, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${(latencies.at(-1) ?? Number.NaN).toFixed(2)} ms (goal p99 ≤ 25 ms, ratio ${(percentile(latencies, 99) / 25).toFixed(2)})`,
);
