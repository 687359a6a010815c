/**
 * Failover benchmark: two signed-in Chromium users in a group on `confab serve` with one local
 * bridge. Each round kills the bridge process (SIGKILL) or freezes it (SIGSTOP, so that only
 * the heartbeat can tell) and measures
 * - detection: from the kill to the focus logging that it moves the conference;
 * - recovery: from the kill until both pages decode video again (no reloads).
 * Targets (issue 7): ≤ 3 s to notice, ≤ 10 s to media.
 * Usage: npm run bench -- failover [--rounds=N]
 */
import {
  addUser,
  bridgePids,
  joinGroupByLink,
  launchBrowser,
  openUser,
  pollUntil,
  signIn,
  startConfab,
  waitForDecodingVideo,
} from '../../test/e2e/helpers/index.js';
import { percentile } from '../stats.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 3);

async function main(): Promise<void> {
  const server = await startConfab({
    config: 'bridge:\n  port_range: 10490-10499\n',
    env: { CONFAB_BRIDGE_WORKERS: '1', CONFAB_LOG_LEVEL: 'info' },
  });
  const browser = await launchBrowser();
  const pages = [];
  for (const [u, n, p] of [
    ['alice', 'Alice Liddell', 'wonderland-1'],
    ['bob', 'Bob Builder', 'can-we-fix-it'],
  ] as const) {
    await addUser(server, u, n, p);
    const user = await openUser(browser, server.localUrl, { smallVideo: true });
    await signIn(user.page, u, p, n);
    await joinGroupByLink(user.page, 'group/failover');
    pages.push(user.page);
  }
  for (const page of pages) await waitForDecodingVideo(page, 1, 60_000);

  const detect: Record<string, number[]> = { SIGKILL: [], SIGSTOP: [] };
  const recover: Record<string, number[]> = { SIGKILL: [], SIGSTOP: [] };
  for (let round = 0; round < rounds; round++) {
    for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
      const [pid] = await pollUntil(
        async () => bridgePids(server),
        (p) => p.length === 1,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 3000)); // a settled call
      const seen = server.logs.length;
      const at = Date.now();
      process.kill(pid as number, signal);
      const moved = await pollUntil(
        async () =>
          server.logs.slice(seen).find((l) => l.msg === 'moving conference off a lost bridge') as
            | { time?: number }
            | undefined,
        (l) => l !== undefined,
        30_000,
      );
      detect[signal]?.push(Number(moved?.time ?? Date.now()) - at);
      for (const page of pages) await waitForDecodingVideo(page, 1, 60_000);
      recover[signal]?.push(Date.now() - at);
    }
  }
  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    const d = [...(detect[signal] ?? [])].sort((a, b) => a - b);
    const r = [...(recover[signal] ?? [])].sort((a, b) => a - b);
    console.log(
      `${signal === 'SIGKILL' ? 'bridge killed ' : 'bridge frozen '}: detection p50 ${percentile(d, 50).toFixed(0)} ms, max ${Math.max(...d).toFixed(0)} ms (target ≤ 3000, ratio ${(Math.max(...d) / 3000).toFixed(2)}); media back p50 ${percentile(r, 50).toFixed(0)} ms, max ${Math.max(...r).toFixed(0)} ms (target ≤ 10000, ratio ${(Math.max(...r) / 10000).toFixed(2)}); ${d.length} rounds`,
    );
  }
  await browser.close();
  await server.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
