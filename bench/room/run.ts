/**
 * `npm run bench -- room`: issue 23's check that `max_participants` (100) holds. A real
 * `confab serve` with its own bridge process (both on core 0) takes a group room of 100
 * synthetic node-datachannel participants (this process, on core 1), joining one after another
 * through the focus over signaling as a client does (`RtmPipeline`). Everyone publishes a
 * microphone (two talk, the others send silence marked 127) and a light camera (5 frames a
 * second of one packet: the point is the focus and the bridge with 100 members, not media
 * capacity, which `meeting --find-max` measures). Nobody sends a `view`, so each receiver gets
 * the bridge's own choice under last-N (20 by default).
 *
 * Prints: each join's time from the join message to a connected session (p50/p95/max), whether
 * everyone got everyone's m-lines and what last-N forwards (two talkers' audio, `last_n`
 * cameras), the focus's and the bridge's event-loop delay (p50/p99/max) during the joins and
 * during a quiet window, their CPU and peak RSS, and any error the server logged.
 *
 * Usage: npm run bench -- room [--participants=100] [--window=20] [--fps=5] [--profile=DIR]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyntheticPeer } from '../../test/support/bridgeHarness.js';
import { startConfab } from '../../test/support/confabProcess.js';
import { RtmClient } from '../../test/support/rtmClient.js';
import { RtmPipeline } from '../../test/support/rtmPipeline.js';
import { seedUsers, tokenMinter } from '../directory.js';
import { LoopLagProbe } from '../meeting/loopLag.js';
import { childPids, cpuMs, peakRssMb } from '../proc.js';
import { percentile } from '../stats.js';

const cpuProbe = fileURLToPath(new URL('../cpuProfile.cjs', import.meta.url));

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const participants = arg('participants', 100);
const windowMs = arg('window', 20) * 1000;
const fps = arg('fps', 5);
const talkers = 2;
const lastN = 20;
const group = 'group/bench-room';
const bridgePorts = '10440-10449';
/** `--profile=DIR`: the server and its bridge write V8 CPU profiles there when they stop. */
const profileDir = process.argv.find((a) => a.startsWith('--profile='))?.split('=')[1];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number) => n.toFixed(1);

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`room: timed out waiting for ${what}`);
    await sleep(50);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'confab-bench-room-'));
mkdirSync(path.join(dir, 'data'), { recursive: true, mode: 0o700 });
seedUsers(path.join(dir, 'data'), participants);
const lag = new LoopLagProbe();
const server = await startConfab({
  dir,
  config: [
    'rtm_connect_rate_limit_per_user: 1000000',
    'rtm_connect_rate_limit_per_ip: 1000000',
    'rtm_message_rate: 100000',
    'rtm_heartbeat_timeout: 600',
    `last_n: ${lastN}`,
    'bridge:',
    `  port_range: ${bridgePorts}`,
    '',
  ].join('\n'),
  pinCpu: 0,
  env: {
    CONFAB_BRIDGE_WORKERS: '1',
    NODE_OPTIONS: [...lag.nodeArgs, ...(profileDir ? ['--require', cpuProbe] : [])].join(' '),
    ...(profileDir ? { BENCH_CPU_PROFILE_DIR: path.resolve(profileDir) } : {}),
    ...lag.env,
  },
});
const peers: SyntheticPeer[] = [];
const clients: RtmClient[] = [];
try {
  await waitFor('the bridge', () => server.logs.some((l) => l.msg === 'bridge joined'), 30_000);
  const serverPid = server.proc.pid as number;
  const bridgePid = childPids(serverPid)[0];
  if (!bridgePid) throw new Error('room: no bridge process under the server');
  const mint = await tokenMinter(server.dataDir, server.url);

  // Everyone joins, one after another, as people come into a meeting.
  const joinMs: number[] = [];
  const joinsFrom = Date.now();
  const cpu0 = { focus: cpuMs(serverPid), bridge: cpuMs(bridgePid) };
  for (let i = 0; i < participants; i++) {
    const started = performance.now();
    const client = await RtmClient.open(server.localUrl, await mint(i));
    clients.push(client);
    const pipeline = new RtmPipeline(client, group, `user-${i}`);
    const peer = await SyntheticPeer.join(pipeline, group, `user-${i}`);
    peer.follow();
    peers.push(peer);
    await peer.connected(60_000);
    joinMs.push(performance.now() - started);
    if ((i + 1) % 10 === 0)
      console.log(
        `  ${i + 1} joined, the last in ${f1(joinMs.at(-1) ?? 0)} ms; CPU so far focus ${f1((cpuMs(serverPid) - cpu0.focus) / 1000)} s, bridge ${f1((cpuMs(bridgePid) - cpu0.bridge) / 1000)} s`,
      );
    peer.level = i < talkers ? 40 : 127;
    peer.publish({ fps, perFrame: 1 });
  }
  const joinsTo = Date.now();
  const cpu1 = { focus: cpuMs(serverPid), bridge: cpuMs(bridgePid) };

  // Everyone has everyone's streams offered: two m-lines per other participant.
  const offered = (p: SyntheticPeer) => Object.keys(p.streams).length;
  await waitFor(
    'every member offered every other member’s camera and microphone',
    () => peers.every((p) => offered(p) >= 2 * (participants - 1)),
    120_000,
  ).catch((err: Error) => console.log(`  ${err.message}`));
  await sleep(5000);

  const before = peers.map((p) => new Map([...p.received].map(([mid, r]) => [mid, r.packets])));
  const windowFrom = Date.now();
  const cpu2 = { focus: cpuMs(serverPid), bridge: cpuMs(bridgePid) };
  await sleep(windowMs);
  const cpu3 = { focus: cpuMs(serverPid), bridge: cpuMs(bridgePid) };
  const windowTo = Date.now();

  /** Per receiver: how many audio and video mids got packets in the window. */
  const got = peers.map((p, i) => {
    let audio = 0;
    let video = 0;
    for (const [mid, r] of p.received) {
      if (r.packets - (before[i]?.get(mid) ?? 0) < 3) continue;
      if (p.streams[mid]?.source === 'microphone') audio++;
      else video++;
    }
    return { audio, video, offered: offered(p) };
  });
  const audioOk = got.filter((g, i) => g.audio === (i < talkers ? talkers - 1 : talkers)).length;
  const videoOk = got.filter((g) => g.video === Math.min(lastN, participants - 1)).length;
  const fullyOffered = got.filter((g) => g.offered >= 2 * (participants - 1)).length;
  const errors = server.logs.filter((l) => l.level >= 50);
  const full = server.logs.filter((l) => /full|m-line limit/.test(String(l.msg)));

  const loop = (pid: number, from: number, to: number) => {
    const l = lag.between(from, to, pid);
    return `p50 ${f1(l.p50)} p99 ${f1(l.p99)} max ${f1(l.max)} ms`;
  };
  const pct = (a: number, b: number, ms: number) => `${f1(((b - a) / ms) * 100)}%`;
  const joinsSpan = joinsTo - joinsFrom;
  const sorted = [...joinMs].sort((a, b) => a - b);
  console.log(
    `\nroom benchmark: ${participants} participants in one group room through the real focus and one bridge (server and bridge on core 0, participants on core 1); ${talkers} talk, cameras at ${fps} fps, last_n ${lastN}`,
  );
  console.log(
    `joins: ${participants} in ${f1(joinsSpan / 1000)} s, each from join to connected p50 ${f1(percentile(sorted, 50))} p95 ${f1(percentile(sorted, 95))} max ${f1(sorted.at(-1) ?? 0)} ms; CPU meanwhile focus ${pct(cpu0.focus, cpu1.focus, joinsSpan)} bridge ${pct(cpu0.bridge, cpu1.bridge, joinsSpan)} of a core`,
  );
  console.log(
    `  event-loop delay during the joins: focus ${loop(serverPid, joinsFrom, joinsTo)}; bridge ${loop(bridgePid, joinsFrom, joinsTo)}`,
  );
  console.log(
    `window ${windowMs / 1000} s: focus CPU ${pct(cpu2.focus, cpu3.focus, windowMs)}, bridge ${pct(cpu2.bridge, cpu3.bridge, windowMs)} of a core; event-loop delay focus ${loop(serverPid, windowFrom, windowTo)}; bridge ${loop(bridgePid, windowFrom, windowTo)}`,
  );
  console.log(
    `  ${fullyOffered}/${participants} offered all ${2 * (participants - 1)} streams; ${audioOk}/${participants} hear the talkers and only them; ${videoOk}/${participants} get exactly ${Math.min(lastN, participants - 1)} cameras (last-N)`,
  );
  console.log(
    `  peak RSS focus ${f1(peakRssMb(serverPid))} MB, bridge ${f1(peakRssMb(bridgePid))} MB; ${errors.length} error lines logged, ${full.length} session-full lines${errors[0] ? ` (first: ${errors[0].msg})` : ''}`,
  );
  const holds =
    fullyOffered === participants &&
    audioOk === participants &&
    videoOk === participants &&
    errors.length === 0;
  console.log(`max_participants ${participants}: ${holds ? 'holds' : 'DOES NOT HOLD'}`);
} catch (err) {
  console.log(`room: ${(err as Error).message}; ${peers.length} joined`);
  const warnings = server.logs.filter((l) => l.level >= 40);
  console.log(`  the server's last warnings (${warnings.length}):`);
  for (const l of warnings.slice(-15)) console.log(`  ${JSON.stringify(l).slice(0, 300)}`);
  process.exitCode = 1;
} finally {
  for (const p of peers) p.close();
  for (const c of clients) await c.close().catch(() => {});
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  // node-datachannel's native threads keep the process alive.
  setTimeout(() => process.exit(0), 1000).unref();
}
