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
   * Waits (at most 15 s after `from`) until the remote videos of `streams` people (camera tiles, by their
   * `data-user`; a one-to-one call's remote video as one) have each shown a frame since
   * `from`. `firstFrames` then resolves with when each did, in order (fewer on timeout):
   * the first presented frame's `presentationTime` (requestVideoFrameCallback), which the
   * compositor stamps, so a busy page's main thread does not make it later than it was, and no
   * polling loads the page meanwhile. With `poll` (the trace), `steps` also gathers when each
   * connection (by its index) changed signaling, ICE or connection state, and from `getStats`
   * every 10 ms each stream's first packet and first decoded frame, and each outbound video
   * stream's first packet and keyframes: that polling costs the pages and makes joins slower.
   */
  arm(streams: number, poll?: boolean): Promise<void>;
  /** Frames from this moment on count: when it was armed, just before the press. */
  from: number;
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
   * (for the trace) the keyframes and packets each outbound video stream has sent. `at` is when
   * the browser took the figures (the report's own timestamp, on this clock): a poll can take
   * 30-200 ms on this loaded machine before the page has its answer, and the connections are
   * asked at once, not one after another.
   */
  type Counts = { frames: number; packets: number; at: number };
  const inboundNow = async (outbound?: Map<string, Counts>) => {
    const streams = new Map<string, Counts>();
    const pcs = [...(w.__confabPeerConnections ?? []).entries()].filter(
      ([, pc]) => pc.connectionState !== 'closed',
    );
    const reports = await Promise.all(pcs.map(([, pc]) => pc.getStats()));
    const taken = now();
    for (const [n, report] of reports.entries()) {
      const i = pcs[n]?.[0] ?? n;
      report.forEach((s: { type: string; kind?: string; id: string; timestamp: number }) => {
        if (s.kind !== 'video') return;
        // Chromium's stats timestamps are on the Unix epoch, as `now()`; anything else: now.
        const at = Math.abs(s.timestamp - taken) < 10_000 ? Math.min(s.timestamp, taken) : taken;
        if (s.type === 'outbound-rtp' && outbound) {
          const { keyFramesEncoded, packetsSent } = s as {
            keyFramesEncoded?: number;
            packetsSent?: number;
          };
          outbound.set(`pc${i}/${s.id}`, {
            frames: keyFramesEncoded ?? 0,
            packets: packetsSent ?? 0,
            at,
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
          at,
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
  /** For the trace: when a remote camera tile's video changed stream, or lost its video. */
  const tileEvents: { what: string; at: number }[] = [];
  const tileShows = new Map<string, string>();
  setInterval(() => {
    for (const li of document.querySelectorAll('ul.tiles li[data-user]:not(.screen-tile)')) {
      const video = li.querySelector('video');
      const user = li.getAttribute('data-user');
      if (user) {
        const src = video?.srcObject;
        const track = src instanceof MediaStream ? src.getVideoTracks()[0] : undefined;
        const pcs = w.__confabPeerConnections ?? [];
        const owner = pcs.findIndex((pc) => pc.getReceivers().some((r) => r.track === track));
        const shows = track
          ? `track-${track.id.slice(0, 6)}-pc${owner}${pcs[owner]?.connectionState === 'closed' ? '(closed)' : ''}${track.muted ? '-muted' : ''}`
          : 'no-video';
        if (tileShows.get(user) !== shows) {
          tileShows.set(user, shows);
          tileEvents.push({ what: `tile-${user.slice(0, 6)}:${shows}`, at: now() });
          if (tileEvents.length > 200) tileEvents.shift();
        }
      }
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

  // For the trace: when the page sent and handled each signaling message (its type).
  const wsLog: { what: string; at: number }[] = [];
  const label = (data: unknown) => {
    try {
      const m = JSON.parse(String(data)) as { type?: string; subtype?: string; data?: object };
      const detail = m.data && typeof m.data === 'object' ? Object.keys(m.data)[0] : undefined;
      return [m.subtype ?? m.type, detail].filter(Boolean).join('/');
    } catch {
      return '?';
    }
  };
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.addEventListener('message', (e) => {
        wsLog.push({ what: `ws-in:${label(e.data)}`, at: now() });
        if (wsLog.length > 500) wsLog.splice(0, 100);
      });
    }
    override send(data: Parameters<WebSocket['send']>[0]): void {
      wsLog.push({ what: `ws-out:${label(data)}`, at: now() });
      super.send(data);
    }
  };

  /** Frames the page's remote videos presented (requestVideoFrameCallback), by whose they are. */
  const remoteFrames: { key: string; at: number }[] = [];
  const remoteTracks = () => {
    const ids = new Set<string>();
    for (const pc of w.__confabPeerConnections ?? [])
      for (const r of pc.getReceivers()) if (r.track?.kind === 'video') ids.add(r.track.id);
    return ids;
  };
  const hookedRemote = new WeakSet<HTMLVideoElement>();
  const hookRemote = (video: HTMLVideoElement) => {
    if (hookedRemote.has(video)) return;
    hookedRemote.add(video);
    const onFrame = (_t: number, meta: { presentationTime: number }) => {
      const stream = video.srcObject;
      const track = stream instanceof MediaStream ? stream.getVideoTracks()[0] : undefined;
      const tile = video.closest('[data-user]');
      if (track && !tile?.classList.contains('screen-tile') && remoteTracks().has(track.id)) {
        remoteFrames.push({
          key: tile?.getAttribute('data-user') ?? 'remote',
          at: performance.timeOrigin + meta.presentationTime,
        });
        if (remoteFrames.length > 5000) remoteFrames.splice(0, 1000);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const scan = () => {
    for (const v of document.querySelectorAll('video')) hookRemote(v);
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true });
  scan();

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
    async arm(streams, poll = false) {
      const steps: { what: string; at: number }[] = [];
      this.steps = steps;
      const from = now();
      this.from = from;
      let armed = true;
      this.firstFrames = new Promise((resolve) => {
        const check = () => {
          const first = new Map<string, number>();
          for (const f of remoteFrames)
            if (f.at >= from && !first.has(f.key)) first.set(f.key, f.at);
          if (first.size >= streams || now() > from + 15_000) {
            armed = false;
            resolve([...first.values()]);
          } else setTimeout(check, 10);
        };
        check();
      });
      if (!poll) return;
      const since = now();
      const copied = new Set<{ what: string; at: number }>();
      const copyWs = () => {
        for (const e of wsLog)
          if (e.at >= since && !copied.has(e)) {
            copied.add(e);
            steps.push(e);
          }
      };
      watchConnections(steps, false);
      const sentBase = new Map<string, Counts>();
      const base = await inboundNow(sentBase);
      const packets = new Set<string>();
      const decoded = new Set<string>();
      const lastDecode = new Map<string, Counts>();
      const sent = new Map<string, Counts>();
      const sending = new Set<string>();
      const tick = async () => {
        watchConnections(steps);
        const outbound = new Map<string, Counts>();
        const inbound = await inboundNow(outbound);
        for (const [key, n] of outbound) {
          const was = sent.get(key) ?? sentBase.get(key) ?? { frames: 0, packets: 0, at: 0 };
          if (n.packets > (sentBase.get(key)?.packets ?? 0) && !sending.has(key)) {
            sending.add(key);
            steps.push({ what: `${key}:first-sent`, at: n.at });
          }
          if (n.frames > was.frames) steps.push({ what: `${key}:keyframe-sent`, at: n.at });
          sent.set(key, n);
        }
        for (const [key, n] of inbound) {
          const was = base.get(key);
          if (!packets.has(key) && n.packets > (was?.packets ?? 0)) {
            packets.add(key);
            steps.push({ what: `${key}:first-packet`, at: n.at });
          }
          if (!decoded.has(key) && n.frames > (was?.frames ?? 0)) {
            decoded.add(key);
            steps.push({ what: `${key}:first-frame`, at: n.at });
          }
          // A stream that decodes again after a pause of more than 250 ms.
          const last = lastDecode.get(key);
          if (last && n.frames > last.frames && n.at - last.at > 250)
            steps.push({ what: `${key}:decodes-after-${Math.round(n.at - last.at)}ms`, at: n.at });
          if (!last || n.frames > last.frames) lastDecode.set(key, n);
        }
        copyWs();
        if (armed || now() < from + 6000) setTimeout(tick, 10);
      };
      void tick();
    },
    firstFrames: undefined,
    from: Number.POSITIVE_INFINITY,
    longestGaps(from, to) {
      const gaps: Record<string, number> = {};
      for (const [user, times] of presented) {
        const before = times.filter((t) => t < from).at(-1);
        if (before === undefined) continue;
        let last = before;
        let longest = 0;
        let at = before;
        for (const t of times) {
          if (t < from || t > to) continue;
          if (t - last > longest) {
            longest = t - last;
            at = last;
          }
          last = t;
        }
        if (to - last > longest) {
          longest = to - last;
          at = last;
        }
        gaps[user] = longest;
        this.steps.push({ what: `gap-${user.slice(0, 6)}-${Math.round(longest)}ms-from`, at });
      }
      this.steps.push(...tileEvents.filter((e) => e.at >= from - 1000 && e.at <= to));
      return gaps;
    },
    tileFrames: () => [...presented.values()].reduce((n, times) => n + times.length, 0),
  };
}
