/**
 * What the call-setup benchmark measures inside each page, installed with `addInitScript` (so
 * it survives the page loads between rooms) as `window.__bench`. Times are wall-clock ms with
 * sub-ms precision (`performance.timeOrigin + performance.now()`), so figures from different
 * browser processes on this machine compare.
 */
export interface BenchProbe {
  now(): number;
  /** Clicks the button whose text is `name` (the first, in document order); when, or NaN. */
  press(name: string): number;
  /**
   * Takes the count of decoded video frames of every inbound stream of every open peer
   * connection of the page now, then waits (at most 15 s) until `streams` inbound video
   * streams, of any connection, old or new, have decoded a frame beyond it. `firstFrames` then
   * resolves with when each did, in order (fewer on timeout). Meanwhile `steps` gathers, for
   * the trace, when each connection (by its index) changed signaling, ICE or connection state,
   * and when each stream's first packet and first decoded frame came.
   */
  arm(streams: number): Promise<void>;
  firstFrames: Promise<number[]> | undefined;
  steps: { what: string; at: number }[];
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

  /**
   * Decoded frames and received packets of each inbound video stream, by `pc/stats id`, and
   * (for the trace) the keyframes and packets each outbound video stream has sent.
   */
  const inboundNow = async (outbound?: Map<string, { frames: number; packets: number }>) => {
    const streams = new Map<string, { frames: number; packets: number }>();
    for (const [i, pc] of (w.__confabPeerConnections ?? []).entries()) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: { type: string; kind?: string; id: string }) => {
        if (s.kind !== 'video') return;
        if (s.type === 'outbound-rtp' && outbound) {
          const { keyFramesEncoded, packetsSent } = s as {
            keyFramesEncoded?: number;
            packetsSent?: number;
          };
          outbound.set(`pc${i}/${s.id}`, {
            frames: keyFramesEncoded ?? 0,
            packets: packetsSent ?? 0,
          });
        }
        if (s.type !== 'inbound-rtp') return;
        const { framesDecoded, packetsReceived } = s as {
          framesDecoded?: number;
          packetsReceived?: number;
        };
        streams.set(`pc${i}/${s.id}`, {
          frames: framesDecoded ?? 0,
          packets: packetsReceived ?? 0,
        });
      });
    }
    return streams;
  };

  /** Marks the state changes of each connection not yet watched in `steps` (`new` ones too). */
  const watched = new WeakSet<RTCPeerConnection>();
  const watchConnections = (steps: { what: string; at: number }[], fresh = true) => {
    for (const [i, pc] of (w.__confabPeerConnections ?? []).entries()) {
      if (watched.has(pc) || pc.connectionState === 'closed') continue;
      watched.add(pc);
      const mark = (what: string) => steps.push({ what: `pc${i}:${what}`, at: now() });
      if (fresh) mark('new');
      pc.addEventListener('signalingstatechange', () => mark(pc.signalingState));
      pc.addEventListener('iceconnectionstatechange', () => mark(`ice-${pc.iceConnectionState}`));
      pc.addEventListener('connectionstatechange', () => mark(`pc-${pc.connectionState}`));
    }
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
      const at = now();
      button.click();
      // A connection the click made ("Accept" makes one) gets its first events watched.
      watchConnections(this.steps);
      return at;
    },
    steps: [],
    async arm(streams) {
      const steps: { what: string; at: number }[] = [];
      this.steps = steps;
      watchConnections(steps, false);
      const sentBase = new Map<string, { frames: number; packets: number }>();
      const base = await inboundNow(sentBase);
      const deadline = now() + 15_000;
      this.firstFrames = new Promise((resolve) => {
        const first = new Map<string, number>();
        const packets = new Set<string>();
        const sent = new Map<string, { frames: number; packets: number }>();
        const sending = new Set<string>();
        const tick = async () => {
          watchConnections(steps);
          const outbound = new Map<string, { frames: number; packets: number }>();
          const inbound = await inboundNow(outbound);
          for (const [key, n] of outbound) {
            const was = sent.get(key) ?? sentBase.get(key) ?? { frames: 0, packets: 0 };
            if (n.packets > (sentBase.get(key)?.packets ?? 0) && !sending.has(key)) {
              sending.add(key);
              steps.push({ what: `${key}:first-sent`, at: now() });
            }
            if (n.frames > was.frames) steps.push({ what: `${key}:keyframe-sent`, at: now() });
            sent.set(key, n);
          }
          for (const [key, n] of inbound) {
            const was = base.get(key);
            if (!packets.has(key) && n.packets > (was?.packets ?? 0)) {
              packets.add(key);
              steps.push({ what: `${key}:first-packet`, at: now() });
            }
            if (!first.has(key) && n.frames > (was?.frames ?? 0)) {
              first.set(key, now());
              steps.push({ what: `${key}:first-frame`, at: now() });
            }
          }
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
