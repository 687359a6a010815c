/**
 * Where a one-to-one call's first frame goes: Alice calls Bob N times (as run.ts does) while
 * both pages sample `getStats` of every peer connection every 100 ms, and the timeline of each
 * call (ms after Bob's "Accept") is printed for both sides: the sender's media-source frames,
 * outbound-rtp frames encoded, key frames, PLI/FIR and bytes, the receiver's packets, frames
 * received and decoded, key frames, PLI/FIR/NACK, and the candidate pair's state.
 * Usage: node --import tsx bench/call-setup/probe.ts [--calls=N] [--rows=N]
 * (inside `unshare -n`, as bench/run.ts does).
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

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const calls = arg('calls', 4);
/** Samples printed per call and side (100 ms apart). */
const rows = arg('rows', 30);

/** Installs, once per page, a sampler of every open peer connection's stats every 100 ms. */
const samplerScript = `(() => {
  if (window.__probe) return;
  const probe = { samples: [], events: [] };
  window.__probe = probe;
  const pick = (s, keys) => Object.fromEntries(keys.map((k) => [k, s[k]]));
  setInterval(async () => {
    for (const [i, pc] of window.__confabPeerConnections.entries()) {
      if (pc.connectionState === 'closed') continue;
      const row = { t: performance.now(), pc: i };
      const sent = pc.getSenders().find((x) => x.track?.kind === 'video')?.track;
      // The camera track's own counters (Chromium's MediaStreamTrackVideoStats).
      if (sent?.stats) row.track = pick(sent.stats, ['deliveredFrames', 'discardedFrames', 'totalFrames']);
      const self = document.querySelector('video.self-view');
      if (self) row.selfTime = self.currentTime;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'media-source' && s.kind === 'video') row.src = pick(s, ['frames', 'framesPerSecond', 'width']);
        if (s.type === 'outbound-rtp' && s.kind === 'video')
          row.out = pick(s, ['framesEncoded', 'keyFramesEncoded', 'pliCount', 'firCount', 'nackCount', 'bytesSent', 'qualityLimitationReason', 'encoderImplementation', 'frameWidth']);
        if (s.type === 'inbound-rtp' && s.kind === 'video')
          row.in = pick(s, ['packetsReceived', 'framesReceived', 'framesDecoded', 'keyFramesDecoded', 'pliCount', 'firCount', 'nackCount', 'frameWidth']);
        if (s.type === 'candidate-pair' && s.nominated) row.pair = s.state;
      });
      probe.samples.push(row);
    }
  }, 100);
})()`;

/** Marks track and element events on the page's local stream and video elements. */
const watchScript = `(() => {
  const probe = window.__probe;
  const mark = (what) => probe.events.push({ t: performance.now(), what });
  for (const pc of window.__confabPeerConnections) {
    if (pc.__probed) continue;
    pc.__probed = true;
    for (const s of pc.getSenders()) {
      const tr = s.track;
      if (!tr) continue;
      mark('sender ' + tr.kind + ' muted=' + tr.muted + ' enabled=' + tr.enabled + ' state=' + tr.readyState);
      tr.addEventListener('mute', () => mark('local ' + tr.kind + ' mute'));
      tr.addEventListener('unmute', () => mark('local ' + tr.kind + ' unmute'));
    }
    pc.addEventListener('track', (e) => mark('remote track ' + e.track.kind + ' muted=' + e.track.muted));
  }
})()`;

async function idle(page: Page, name: string) {
  const close = page.getByRole('button', { name: 'Close', exact: true });
  if (await close.isVisible()) await close.click();
  await page.getByRole('heading', { level: 1, name: `Hello, ${name}` }).waitFor();
}

interface Sample {
  t: number;
  pc: number;
  src?: { frames?: number };
  track?: { deliveredFrames?: number; discardedFrames?: number; totalFrames?: number };
  selfTime?: number;
  out?: Record<string, unknown>;
  in?: Record<string, unknown>;
  pair?: string;
}

function printSide(who: string, samples: Sample[], events: { t: number; what: string }[]) {
  console.log(`  ${who}:`);
  for (const e of events) console.log(`    @${Math.round(e.t)} ${e.what}`);
  for (const s of samples.slice(0, rows)) {
    const o = s.out ?? {};
    const i = s.in ?? {};
    console.log(
      `    @${Math.round(s.t).toString().padStart(5)} pc${s.pc} ${s.pair ?? '-'} track ${s.track ? `${s.track.deliveredFrames}/${s.track.discardedFrames}/${s.track.totalFrames}` : '-'} self ${s.selfTime?.toFixed(1) ?? '-'} src ${s.src?.frames ?? '-'} | out enc ${o.framesEncoded ?? '-'} key ${o.keyFramesEncoded ?? '-'} pli ${o.pliCount ?? '-'} fir ${o.firCount ?? '-'} bytes ${o.bytesSent ?? '-'} ql ${o.qualityLimitationReason ?? '-'} | in pkts ${i.packetsReceived ?? '-'} rcv ${i.framesReceived ?? '-'} dec ${i.framesDecoded ?? '-'} key ${i.keyFramesDecoded ?? '-'} pli ${i.pliCount ?? '-'} fir ${i.firCount ?? '-'} nack ${i.nackCount ?? '-'}`,
    );
  }
}

const server = await startConfab();
const browser = await launchBrowser();
const browser2 = await launchBrowser();
try {
  await addUser(server, 'alice', 'Alice Liddell', 'wonderland');
  await addUser(server, 'bob', 'Bob Builder', 'can-we-fix-it');
  const alice = await openUser(browser, server.localUrl);
  const bob = await openUser(browser2, server.localUrl);
  await signIn(alice.page, 'alice', 'wonderland', 'Alice Liddell');
  await signIn(bob.page, 'bob', 'can-we-fix-it', 'Bob Builder');
  for (const p of [alice.page, bob.page]) await p.evaluate(samplerScript);
  const flags = process.argv.find((a) => a.startsWith('--flags='))?.slice(8);
  if (flags) for (const p of [alice.page, bob.page]) await p.evaluate(flags);

  for (let i = 0; i < calls; i++) {
    await idle(alice.page, 'Alice Liddell');
    await idle(bob.page, 'Bob Builder');
    for (const p of [alice.page, bob.page])
      await p.evaluate('window.__probe.samples = []; window.__probe.events = []');
    await startCallFromContacts(alice.page, 'Bob Builder');
    const accept = bob.page.getByRole('dialog').getByRole('button', { name: 'Accept' });
    await accept.waitFor();
    // Both pages' performance clocks differ: each side's times are made relative to the press
    // through the wall clock.
    const offsets = await Promise.all(
      [alice.page, bob.page].map((p) => p.evaluate('Date.now() - performance.now()')),
    );
    const pressedWall = (await bob.page.evaluate(`(() => {
      const button = [...document.querySelectorAll('[role=dialog] button')]
        .find((b) => b.textContent === 'Accept');
      const wall = Date.now();
      button.click();
      return wall;
    })()`)) as number;
    await new Promise((r) => setTimeout(r, 400));
    for (const p of [alice.page, bob.page]) await p.evaluate(watchScript);
    await new Promise((r) => setTimeout(r, rows * 100));
    console.log(`call ${i + 1}:`);
    for (const [k, p] of [alice.page, bob.page].entries()) {
      const { samples, events } = (await p.evaluate('window.__probe')) as {
        samples: Sample[];
        events: { t: number; what: string }[];
      };
      const shift = (offsets[k] as number) - pressedWall;
      const first = samples.find((x) => (x.src?.frames ?? 0) > 0);
      const firstIn = samples.find((x) => ((x.in?.framesDecoded as number) ?? 0) > 0);
      console.log(
        `  ${k === 0 ? 'Alice' : 'Bob'}: sender's first frame @${first ? Math.round(first.t + shift) : 'none'}, first decoded @${firstIn ? Math.round(firstIn.t + shift) : 'none'}`,
      );
      if (!process.argv.includes('--quiet'))
        printSide(
          k === 0 ? 'Alice (caller)' : 'Bob (callee)',
          samples.map((s) => ({ ...s, t: s.t + shift })),
          events.map((e) => ({ ...e, t: e.t + shift })),
        );
    }
    await alice.page.mouse.move(300, 200);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
    await bob.page.getByRole('status').filter({ hasText: 'Call ended' }).waitFor();
  }
} finally {
  await browser.close();
  await browser2.close();
  await server.stop();
}
