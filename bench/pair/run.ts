/**
 * A room of two and the bridge: two users in Debian's Chromium (each in its own browser
 * process) meet in a group room, once with `p2p` on (the default: they connect directly) and
 * once with `p2p: false` (through the bridge, as every room did before). For each it prints
 * the bridge process's CPU and the packets it forwarded over 20 s once the room has settled.
 * Expected with p2p: nothing but ICE consent checks (the bridge session stays for the move
 * back when a third joins).
 * Usage: npm run bench -- pair [--seconds=20]
 */
import {
  addUser,
  bridgeForwardedPackets,
  bridgePids,
  type ConfabProcess,
  joinGroupByLink,
  launchBrowser,
  openUser,
  signIn,
  startConfab,
  waitForDecodingVideo,
} from '../../test/e2e/helpers/index.js';
import { cpuMs } from '../proc.js';

const seconds = Number(process.argv.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const forwarded = (server: ConfabProcess) => bridgeForwardedPackets(server.localUrl);

async function room(p2p: boolean): Promise<{ cpu: number; packets: number }> {
  const server = await startConfab({
    config: `bridge:\n  port_range: 10600-10609\np2p: ${p2p}\n`,
    env: { CONFAB_BRIDGE_WORKERS: '1' },
  });
  const browsers = [await launchBrowser(), await launchBrowser()];
  try {
    const pages = [];
    for (const [i, [name, display]] of [
      ['alice', 'Alice Liddell'],
      ['bob', 'Bob Builder'],
    ].entries()) {
      await addUser(server, name as string, display as string, `${name}-password`);
      const u = await openUser(browsers[i] as never, server.localUrl);
      await signIn(u.page, name as string, `${name}-password`, display as string);
      pages.push(u.page);
    }
    for (const page of pages) await joinGroupByLink(page, 'group/pair');
    for (const page of pages) await waitForDecodingVideo(page, 1);
    await sleep(5000); // settled, and a load report of the bridge since
    const [bridge] = bridgePids(server);
    if (!bridge) throw new Error('no bridge process');
    const cpu0 = cpuMs(bridge);
    const packets0 = await forwarded(server);
    await sleep(seconds * 1000);
    for (const page of pages) await waitForDecodingVideo(page, 1);
    return {
      cpu: ((cpuMs(bridge) - cpu0) / (seconds * 1000)) * 100,
      packets: (await forwarded(server)) - packets0,
    };
  } finally {
    for (const b of browsers) await b.close();
    await server.stop();
  }
}

const direct = await room(true);
const bridged = await room(false);
console.log(`room of two (Chromium 640x480 cameras, ${seconds} s once settled):`);
console.log(
  `p2p (default): bridge CPU ${direct.cpu.toFixed(1)}% of a core, ${direct.packets} packets forwarded`,
);
console.log(
  `p2p: false:    bridge CPU ${bridged.cpu.toFixed(1)}% of a core, ${bridged.packets} packets forwarded`,
);
