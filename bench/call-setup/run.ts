/**
 * Call setup benchmark: two signed-in users in Debian's Chromium on loopback (each in its own
 * browser context, fake camera and microphone); Alice calls Bob N times. For each call it
 * measures, from the moment Bob presses "Accept":
 * - callee: until Bob's page has decoded the first frame of Alice's video (Bob's clock);
 * - caller: until Alice's page has decoded the first frame of Bob's video (wall clock, both pages
 *   being on this machine).
 * Goal (issue 5): callee p50 ≤ 1 s.
 * Usage: npm run bench -- call-setup [--calls=N] [--trace] (--trace prints each call's steps)
 */
import type { Page } from 'playwright-core';
import {
  addUser,
  launchBrowser,
  openUser,
  signIn,
  startCallFromContacts,
  startConfab,
} from '../../test/e2e/helpers/index.js';
import { percentile } from '../stats.js';

const calls = Number(process.argv.find((a) => a.startsWith('--calls='))?.slice(8) ?? 10);
const goalMs = 1000;
const trace = process.argv.includes('--trace');

/** Resolves (in the page) with the time the first remote video frame was decoded. */
const firstFrameScript = `new Promise((resolve) => {
  const tick = async () => {
    const pc = window.__confabPeerConnections.at(-1);
    if (pc && pc.connectionState !== 'closed') {
      let frames = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
      });
      if (frames > 0) return resolve({ perf: performance.now(), wall: Date.now() });
    }
    setTimeout(tick, 5);
  };
  tick();
})`;

async function idle(page: Page, name: string) {
  const close = page.getByRole('button', { name: 'Close', exact: true });
  if (await close.isVisible()) await close.click();
  await page.getByRole('heading', { level: 1, name: `Hello, ${name}` }).waitFor();
}

const server = await startConfab();
// One browser process per user, as two people on two machines: in one process the two contexts
// would share the one fake camera.
const browser = await launchBrowser();
const browser2 = await launchBrowser();
const callee: number[] = [];
const caller: number[] = [];
try {
  await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
  await addUser(server, 'bob', 'Bob Builder', 'can-we-fix-it');
  const alice = await openUser(browser, server.localUrl);
  const bob = await openUser(browser2, server.localUrl);
  await signIn(alice.page, 'alice', 'wonderland', 'Alice Liddell');
  await signIn(bob.page, 'bob', 'can-we-fix-it', 'Bob Builder');

  for (let i = 0; i < calls; i++) {
    await idle(alice.page, 'Alice Liddell');
    await idle(bob.page, 'Bob Builder');
    await startCallFromContacts(alice.page, 'Bob Builder');
    const accept = bob.page.getByRole('dialog').getByRole('button', { name: 'Accept' });
    await accept.waitFor();
    // The caller starts watching before the accept; the callee's click and watch share a clock.
    const callerFrame = alice.page.evaluate(firstFrameScript) as Promise<{ wall: number }>;
    const result = (await bob.page.evaluate(`(async () => {
      const button = [...document.querySelectorAll('[role=dialog] button')]
        .find((b) => b.textContent === 'Accept');
      const pressed = { perf: performance.now(), wall: Date.now() };
      button.click();
      // Where the time goes: the callee's connection steps, in ms after the press.
      const steps = [];
      const pc = window.__confabPeerConnections.at(-1);
      const mark = (what) => steps.push(what + '@' + Math.round(performance.now() - pressed.perf));
      pc.addEventListener('signalingstatechange', () => mark('signaling:' + pc.signalingState));
      pc.addEventListener('iceconnectionstatechange', () => mark('ice:' + pc.iceConnectionState));
      pc.addEventListener('connectionstatechange', () => mark('pc:' + pc.connectionState));
      const frame = await ${firstFrameScript};
      return { pressed, frame, steps };
    })()`)) as {
      pressed: { perf: number; wall: number };
      frame: { perf: number };
      steps: string[];
    };
    if (trace)
      console.log(
        `call ${i + 1}: ${result.steps.join(' ')} first-frame@${Math.round(result.frame.perf - result.pressed.perf)}`,
      );
    callee.push(result.frame.perf - result.pressed.perf);
    caller.push((await callerFrame).wall - result.pressed.wall);
    await alice.page.mouse.move(300, 200);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
    await bob.page.getByRole('status').filter({ hasText: 'Call ended' }).waitFor();
  }
} finally {
  await browser.close();
  await browser2.close();
  await server.stop();
}

const fmt = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    text: `p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(0)} ms`,
  };
};
const a = fmt(callee);
const b = fmt(caller);
console.log(
  `call setup benchmark (Chromium on loopback, ${calls} calls, "Accept" → first decoded remote frame):`,
);
console.log(`callee (Bob decodes Alice): ${a.text}`);
console.log(`caller (Alice decodes Bob): ${b.text}`);
console.log(`goal: callee p50 ≤ ${goalMs} ms, ratio ${(a.p50 / goalMs).toFixed(2)} (≤ 1 meets it)`);
