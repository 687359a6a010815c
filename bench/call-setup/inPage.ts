/**
 * What the call-setup benchmark measures inside each page, installed with `addInitScript` (so
 * it survives the page loads between rooms) as `window.__bench`. Times are wall-clock ms with
 * sub-ms precision (`performance.timeOrigin + performance.now()`), so figures from different
 * browser processes on this machine compare.
 */
export interface BenchProbe {
  now(): number;
  /**
   * Clicks the button whose text is `name` (the first, in document order); when, or NaN. If
   * the click made a peer connection ("Accept" does), its steps go to `steps`.
   */
  press(name: string): number;
  /** The pressed connection's signaling, ICE and connection states, as `state@ms after the press`. */
  steps: string[];
  /**
   * Takes the count of decoded video frames of every inbound stream of every open peer
   * connection of the page now, then waits (at most 15 s) until `streams` inbound video
   * streams, of any connection, old or new, have decoded a frame beyond it. `firstFrames` then
   * resolves with when each did, in order (fewer on timeout).
   */
  arm(streams: number): Promise<void>;
  firstFrames: Promise<number[]> | undefined;
  /**
   * For each remote camera tile (`ul.tiles li[data-user]`) that presented a frame before
   * `from`, the longest time in [from, to] without a newly presented frame on its video
   * element (requestVideoFrameCallback), by user id.
   */
  longestGaps(from: number, to: number): Record<string, number>;
  /** Presented frames of the remote camera tiles so far (is requestVideoFrameCallback firing?). */
  tileFrames(): number;
}

/** Runs in the page: defines `window.__bench`. */
export function installBenchProbe(): void {
  const w = window as unknown as {
    __bench: BenchProbe;
    __confabPeerConnections?: RTCPeerConnection[];
  };
  const now = () => performance.timeOrigin + performance.now();

  const decodedNow = async (): Promise<Map<string, number>> => {
    const frames = new Map<string, number>();
    for (const [i, pc] of (w.__confabPeerConnections ?? []).entries()) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: { type: string; kind?: string; id: string }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video')
          frames.set(`${i}/${s.id}`, (s as { framesDecoded?: number }).framesDecoded ?? 0);
      });
    }
    return frames;
  };

  // Presented frames per remote camera tile, kept for a minute.
  const presented = new Map<string, number[]>();
  const hooked = new WeakSet<HTMLVideoElement>();
  setInterval(() => {
    for (const li of document.querySelectorAll('ul.tiles li[data-user]:not(.screen-tile)')) {
      const video = li.querySelector('video');
      const user = li.getAttribute('data-user');
      if (!video || !user || hooked.has(video)) continue;
      hooked.add(video);
      const onFrame = (t: number) => {
        const times = presented.get(user) ?? [];
        times.push(performance.timeOrigin + t);
        while ((times[0] ?? Number.POSITIVE_INFINITY) < now() - 60_000) times.shift();
        presented.set(user, times);
        if (video.isConnected) video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }, 50);

  w.__bench = {
    now,
    press(name) {
      const button = [...document.querySelectorAll('button')].find((b) => b.textContent === name);
      if (!button) return Number.NaN;
      const pcs = w.__confabPeerConnections ?? [];
      const before = pcs.length;
      const at = now();
      button.click();
      const pc = pcs.length > before ? pcs.at(-1) : undefined;
      const steps: string[] = [];
      this.steps = steps;
      const mark = (what: string) => steps.push(`${what}@${Math.round(now() - at)}`);
      pc?.addEventListener('signalingstatechange', () => mark(`signaling:${pc.signalingState}`));
      pc?.addEventListener('iceconnectionstatechange', () => mark(`ice:${pc.iceConnectionState}`));
      pc?.addEventListener('connectionstatechange', () => mark(`pc:${pc.connectionState}`));
      return at;
    },
    steps: [],
    async arm(streams) {
      const base = await decodedNow();
      const deadline = now() + 15_000;
      this.firstFrames = new Promise((resolve) => {
        const first = new Map<string, number>();
        const tick = async () => {
          for (const [key, n] of await decodedNow())
            if (!first.has(key) && n > (base.get(key) ?? 0)) first.set(key, now());
          if (first.size >= streams || now() > deadline) resolve([...first.values()]);
          else setTimeout(tick, 10);
        };
        void tick();
      });
    },
    firstFrames: undefined,
    longestGaps(from, to) {
      const gaps: Record<string, number> = {};
      for (const [user, times] of presented) {
        const before = times.filter((t) => t < from).at(-1);
        if (before === undefined) continue;
        let last = before;
        let longest = 0;
        for (const t of times) {
          if (t < from || t > to) continue;
          longest = Math.max(longest, t - last);
          last = t;
        }
        gaps[user] = Math.max(longest, to - last);
      }
      return gaps;
    },
    tileFrames: () => [...presented.values()].reduce((n, times) => n + times.length, 0),
  };
}
