/**
 * The same repeated one-to-one call without Confab: two pages in two Chromium processes (as in
 * run.ts), one RTCPeerConnection each per call, SDP relayed through this script after ICE
 * gathering. Tells whether a late first frame is the browser's (fake camera, WebRTC) or the
 * app's. Prints, per call, the ms from the start of negotiation until each side decodes its
 * first remote frame, and when each sender's media-source delivered its first frame.
 * Usage: node --import tsx bench/call-setup/bare.ts [--calls=N] [--track=reuse|clone|fresh]
 *   [--bitrate] (setParameters maxBitrate after negotiation, as CallController does)
 *   [--preview] (the camera also plays in a video element, as the app's self view)
 *   [--swap=keep|detach|clear] (each call moves the self view to a new element, the old one
 *   removed still holding the stream, or emptied first) [--twice] (moves it again after addTrack)
 *   [--gap=MS] (pause between calls) [--y4m=FILE] (--use-file-for-fake-video-capture)
 * (inside `unshare -n`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Page } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../test/e2e/helpers/index.js';
import { percentile } from '../stats.js';

const opt = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const calls = Number(opt('calls') ?? 10);
const trackMode = opt('track') ?? 'reuse';
const gapMs = Number(opt('gap') ?? 500);
const y4m = opt('y4m');
const setBitrate = process.argv.includes('--bitrate');
/** How each call swaps the self view: 'keep' one element, 'detach' it or 'clear' it first. */
const swap = opt('swap') ?? 'keep';
const preview = process.argv.includes('--preview') || swap !== 'keep';
/** With --twice, the self view moves again once the tracks are added, as the app's does. */
const twice = swap !== 'keep' && process.argv.includes('--twice');
const extraArgs = (opt('args') ?? '').split(',').filter(Boolean);

const pageScript = `(() => {
  window.__bare = {
    stream: undefined,
    pc: undefined,
    async open() {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: 640, height: 480, frameRate: { ideal: 24 } },
      });
      if (${preview}) this.showPreview();
    },
    showPreview() {
      const v = document.createElement('video');
      v.muted = true; v.autoplay = true; v.playsInline = true; v.srcObject = this.stream;
      document.body.append(v);
      this.preview = v;
    },
    /** A new self view replaces the old one, as when the app's screens change. */
    swapPreview(how) {
      const old = this.preview;
      if (how === 'clear') old.srcObject = null;
      old.remove();
      this.showPreview();
    },
    async tracks(mode) {
      if (mode === 'fresh') {
        for (const t of this.stream.getTracks()) t.stop();
        await this.open();
      }
      const tracks = this.stream.getTracks();
      return mode === 'clone' ? tracks.map((t) => t.clone()) : tracks;
    },
    async start(mode) {
      this.pc?.close();
      if ('${swap}' !== 'keep') this.swapPreview('${swap}');
      const pc = new RTCPeerConnection();
      this.pc = pc;
      this.t0 = performance.now();
      this.firstDecoded = undefined;
      this.firstSource = undefined;
      for (const t of await this.tracks(mode)) pc.addTrack(t, this.stream);
      // The app's caller moves its self view twice: ringing, then in the call.
      if (${twice}) this.swapPreview('${swap}');
      const poll = async () => {
        if (pc.connectionState === 'closed') return;
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0)
            this.firstDecoded ??= performance.now() - this.t0;
          if (s.type === 'media-source' && s.kind === 'video' && s.frames > 0)
            this.firstSource ??= performance.now() - this.t0;
        });
        if (this.firstDecoded === undefined || this.firstSource === undefined) setTimeout(poll, 5);
      };
      poll();
    },
    async gathered() {
      const pc = this.pc;
      if (pc.iceGatheringState !== 'complete')
        await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
      return pc.localDescription.sdp;
    },
    async offer() { await this.pc.setLocalDescription(); return this.gathered(); },
    async answer(sdp) {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.pc.setLocalDescription();
      return this.gathered();
    },
    async accept(sdp) { await this.pc.setRemoteDescription({ type: 'answer', sdp }); },
    async capBitrate() {
      for (const sender of this.pc.getSenders()) {
        if (sender.track?.kind !== 'video') continue;
        const p = sender.getParameters();
        for (const e of p.encodings) e.maxBitrate = 1000000;
        await sender.setParameters(p);
      }
    },
    async result() {
      const deadline = performance.now() + 8000;
      while ((this.firstDecoded === undefined || this.firstSource === undefined) && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      return { decoded: this.firstDecoded, source: this.firstSource };
    },
  };
})()`;

// getUserMedia needs a secure context: an empty page from loopback.
const http = createServer((_req, res) => res.end('<!doctype html><title>bare</title>'));
await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;

async function newPage(): Promise<{ page: Page; close: () => Promise<void> }> {
  const args = [...chromiumArgs, ...extraArgs];
  if (y4m) args.push(`--use-file-for-fake-video-capture=${y4m}`);
  const browser = await chromium.launch({ executablePath: chromiumPath, args, headless: true });
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  await page.goto(origin);
  await page.evaluate(pageScript);
  await page.evaluate('window.__bare.open()');
  return { page, close: () => browser.close() };
}

const a = await newPage();
const b = await newPage();
const rows: { caller?: number; callee?: number }[] = [];
try {
  for (let i = 0; i < calls; i++) {
    await Promise.all([a, b].map((u) => u.page.evaluate(`window.__bare.start('${trackMode}')`)));
    const offer = await a.page.evaluate('window.__bare.offer()');
    const answer = await b.page.evaluate(`window.__bare.answer(${JSON.stringify(offer)})`);
    await a.page.evaluate(`window.__bare.accept(${JSON.stringify(answer)})`);
    if (setBitrate)
      await Promise.all([a, b].map((u) => u.page.evaluate('window.__bare.capBitrate()')));
    const [ra, rb] = (await Promise.all(
      [a, b].map((u) => u.page.evaluate('window.__bare.result()')),
    )) as { decoded?: number; source?: number }[];
    const f = (n?: number) => (n === undefined ? 'none' : `${Math.round(n)}`);
    console.log(
      `call ${i + 1}: caller decodes @${f(ra?.decoded)} (its camera's first frame to the sender @${f(ra?.source)}), callee decodes @${f(rb?.decoded)} (camera @${f(rb?.source)})`,
    );
    rows.push({ caller: ra?.decoded, callee: rb?.decoded });
    await new Promise((r) => setTimeout(r, gapMs));
  }
} finally {
  await a.close();
  await b.close();
  http.close();
}
const summary = (xs: (number | undefined)[]) => {
  const s = xs.map((x) => x ?? 8000).sort((p, q) => p - q);
  return `p50 ${percentile(s, 50).toFixed(0)} ms, p95 ${percentile(s, 95).toFixed(0)} ms, max ${(s.at(-1) ?? Number.NaN).toFixed(0)} ms`;
};
console.log(
  `bare RTCPeerConnection, ${calls} calls, track ${trackMode}${setBitrate ? ', setParameters' : ''}${preview ? `, self view ${swap}${twice ? ' twice' : ''}` : ''}${y4m ? `, y4m ${y4m}` : ''}:`,
);
console.log(`callee decodes caller: ${summary(rows.map((r) => r.callee))}`);
console.log(`caller decodes callee: ${summary(rows.map((r) => r.caller))}`);
