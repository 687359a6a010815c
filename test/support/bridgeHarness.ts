import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type BridgeMessage,
  bridgeControlPath,
  bridgeMessageSchema,
  type FocusMessage,
  type ForwardedStream,
  type MediaChannelServerMessage,
  mediaChannelLabel,
  mediaChannelServerSchema,
  type ViewTile,
} from '@confab/protocol';
import ndc from 'node-datachannel';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseFeedback, rembPacket } from '../../packages/server/src/bridge/rtp.js';
import { takeCandidates } from '../../packages/server/src/bridge/sdp.js';
import { confabBin } from './confabProcess.js';

/**
 * A focus as a bridge sees one, for tests and benchmarks that drive a real `confab bridge`
 * process without the signaling server: the control protocol over a WebSocket on loopback.
 */
export class FakeFocus {
  readonly secret = randomBytes(24).toString('base64url');
  readonly messages: BridgeMessage[] = [];
  #ws: WebSocket | undefined;
  #waiters: { match: (m: BridgeMessage) => boolean; resolve: (m: BridgeMessage) => void }[] = [];
  #takers: ((m: BridgeMessage) => boolean)[] = [];

  private constructor(
    readonly server: Server,
    readonly url: string,
    readonly maxMlines: number | undefined,
    readonly lastN: number | undefined,
  ) {}

  /** `maxMlines` and `lastN` go in the welcome (else the bridge's defaults). */
  static async start(opts: { maxMlines?: number; lastN?: number } = {}): Promise<FakeFocus> {
    const server = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const focus = new FakeFocus(server, `ws://127.0.0.1:${port}`, opts.maxMlines, opts.lastN);
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== bridgeControlPath || req.headers.authorization !== `Bearer ${focus.secret}`) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => focus.#accept(ws));
    });
    return focus;
  }

  #accept(ws: WebSocket): void {
    this.#ws = ws;
    ws.on('message', (data) => {
      const m = bridgeMessageSchema.parse(JSON.parse(String(data)));
      if (m.type === 'hello')
        this.send({
          type: 'welcome',
          videoMaxBitrate: 2_000_000,
          screenMaxBitrate: 2_500_000,
          ...(this.maxMlines ? { maxMlines: this.maxMlines } : {}),
          ...(this.lastN !== undefined ? { lastN: this.lastN } : {}),
        });
      if (this.#takers.some((take) => take(m))) return;
      const w = this.#waiters.find((x) => x.match(m));
      if (w) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(m);
      } else this.messages.push(m);
    });
  }

  /** `take` sees every message first; those it returns true for are not queued. */
  take(take: (m: BridgeMessage) => boolean): void {
    this.#takers.push(take);
  }

  send(m: FocusMessage): void {
    this.#ws?.send(JSON.stringify(m));
  }

  next(match: (m: BridgeMessage) => boolean, timeoutMs = 10_000): Promise<BridgeMessage> {
    const i = this.messages.findIndex(match);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0] as BridgeMessage);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bridge did not say that')), timeoutMs);
      timer.unref();
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.#ws?.terminate();
    this.server.close();
  }
}

export interface BridgeProcess {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** Starts `confab bridge` against the fake focus and resolves once it said hello. */
export async function startBridge(
  focus: FakeFocus,
  port: number,
  opts: {
    pinCpu?: number /** Write a V8 CPU profile of the bridge into this folder. */;
    profileDir?: string;
    /** More options for the bridge's node (a `--require` a benchmark measures it with). */
    nodeArgs?: string[];
    /** More environment for the bridge process (not `CONFAB_*`: those are the config's). */
    env?: Record<string, string>;
  } = {},
): Promise<BridgeProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-bridge-'));
  writeFileSync(path.join(dir, 'secret'), focus.secret);
  writeFileSync(path.join(dir, 'confab.yaml'), 'bridge:\n  shared_secret: secret\n');
  const args = [
    ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
    ...(opts.nodeArgs ?? []),
    confabBin,
    'bridge',
    '--config',
    path.join(dir, 'confab.yaml'),
    '--data-dir',
    path.join(dir, 'data'),
    '--focus',
    focus.url,
    '--port',
    String(port),
    '--name',
    'bench',
  ];
  const pinned =
    opts.pinCpu === undefined
      ? [process.execPath, ...args]
      : ['taskset', '-c', String(opts.pinCpu), process.execPath, ...args];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CONFAB_')) env[k] = v;
  // The bridge dies with this process even when it exits without `stop()` (an aborted test or
  // benchmark left bridges running); setpriv and taskset exec, so the pid is the bridge's.
  const proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...pinned], {
    env: { ...env, ...opts.env, CONFAB_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await focus.next((m) => m.type === 'hello', 15_000);
  return {
    proc,
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** A VP8 RTP packet; `key` makes it the start of a keyframe as the bridge recognises one. */
export function vp8Packet(
  ssrc: number,
  seq: number,
  ts: number,
  key: boolean,
  size = 1100,
): Buffer {
  const b = Buffer.alloc(size);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b[12] = 0x10; // S bit, partition 0
  b[13] = key ? 0x00 : 0x01; // VP8 frame header: P bit clear on keyframes
  return b;
}

/** An Opus RTP packet with an RFC 6464 audio level (extension id 1). */
export function opusPacket(ssrc: number, seq: number, ts: number, level: number): Buffer {
  const b = Buffer.alloc(12 + 8 + 80);
  b[0] = 0x90;
  b[1] = 111;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b.writeUInt16BE(0xbede, 12);
  b.writeUInt16BE(1, 14);
  b[16] = 0x10;
  b[17] = level & 0x7f;
  return b;
}

/** The synthetic simulcast layers: picture width and height, packets per frame, bytes each. */
export const syntheticLayers = [
  { width: 320, height: 180, perFrame: 1, size: 800 }, // ~130 kbit/s at 20 fps
  { width: 640, height: 360, perFrame: 3, size: 1000 }, // ~480 kbit/s
  { width: 1280, height: 720, perFrame: 8, size: 1100 }, // ~1.4 Mbit/s
] as const;

/** Where a synthetic simulcast packet says which layer it is (after its VP8 headers). */
export const layerMarkerOffset = 30;

/**
 * A VP8 packet as Chromium writes them: the full payload descriptor (PictureID of 15 bits,
 * TL0PICIDX, TID and KEYIDX), a keyframe's start code and picture size, and at
 * `layerMarkerOffset` the layer it belongs to (for tests to read at the receiver).
 */
export function simulcastPacket(
  ssrc: number,
  seq: number,
  ts: number,
  p: { picture: number; tl0: number; tid: number; key: boolean; start: boolean; layer: number },
  size: number,
): Buffer {
  const b = Buffer.alloc(Math.max(size, layerMarkerOffset + 1));
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b[12] = 0x80 | (p.start ? 0x10 : 0); // X, S (partition 0)
  b[13] = 0x80 | 0x40 | 0x20 | 0x10; // I, L, T, K
  b[14] = 0x80 | ((p.picture >> 8) & 0x7f);
  b[15] = p.picture & 0xff;
  b[16] = p.tl0 & 0xff;
  b[17] = ((p.tid & 3) << 6) | (p.tid === 0 ? 0x20 : 0) | 0;
  // The VP8 frame: P bit clear on a keyframe, which starts with 9d 01 2a and the picture size.
  b[18] = p.key ? 0x00 : 0x01;
  if (p.key && p.start) {
    b[21] = 0x9d;
    b[22] = 0x01;
    b[23] = 0x2a;
    const l = syntheticLayers[p.layer] ?? syntheticLayers[0];
    b.writeUInt16LE(l.width, 24);
    b.writeUInt16LE(l.height, 26);
  }
  b[layerMarkerOffset] = p.layer;
  return b;
}

/**
 * A synthetic simulcast camera on one track: the three `syntheticLayers` under their own SSRCs
 * (lowest first), 20 frames a second with temporal layers TID 0, 2, 1, 2; each layer a keyframe
 * every 3 s and at its next frame after a PLI for its SSRC; NACKs answered. A layer `sending`
 * says is off sends nothing, and starts again with a keyframe (as Chromium does for an encoding
 * set active again). While `holdKeyframes` says so it sends none (a busy publisher): those asked
 * for come once it stops. Returns the timer.
 */
export function syntheticSimulcast(
  track: ndc.Track,
  ssrcs: readonly number[],
  sending: () => readonly boolean[] = () => [],
  onRemb: (bitrate: number) => void = () => {},
  holdKeyframes: () => boolean = () => false,
): NodeJS.Timeout {
  const fps = 20;
  const seqs = ssrcs.map(() => randomInt(0, 0xffff));
  const asked = ssrcs.map(() => false);
  const sent = new Map<string, Buffer>();
  track.onMessage((packet) => {
    for (const f of parseFeedback(packet)) {
      if (f.kind === 'remb') onRemb(f.bitrate);
      else if (f.kind === 'pli' || f.kind === 'fir') {
        const i = ssrcs.indexOf(f.mediaSsrc);
        if (i >= 0) asked[i] = true;
      } else if (f.kind === 'nack')
        for (const seq of f.lost) {
          const again = sent.get(`${f.mediaSsrc}/${seq}`);
          if (again)
            try {
              track.sendMessageBinary(again);
            } catch {}
        }
    }
  });
  let frame = 0;
  return setInterval(() => {
    const tid = [0, 2, 1, 2][frame % 4] as number;
    const tl0 = Math.floor(frame / 4);
    const on = sending();
    ssrcs.forEach((ssrc, layer) => {
      if (on[layer] === false) {
        asked[layer] = true; // a keyframe when it starts again
        return;
      }
      const spec = syntheticLayers[layer] ?? syntheticLayers[0];
      const key = !holdKeyframes() && (asked[layer] === true || frame % (fps * 3) === 0);
      if (key) asked[layer] = false;
      const ts = frame * (90_000 / fps);
      for (let i = 0; i < spec.perFrame; i++) {
        const seq = (seqs[layer] ?? 0) & 0xffff;
        seqs[layer] = seq + 1;
        const p = simulcastPacket(
          ssrc,
          seq,
          ts,
          { picture: frame & 0x7fff, tl0, tid: key ? 0 : tid, key, start: i === 0, layer },
          spec.size,
        );
        if (i === spec.perFrame - 1) p[1] = (p[1] ?? 0) | 0x80;
        const k = `${ssrc}/${seq}`;
        sent.set(k, p);
        sent.delete(`${ssrc}/${(seq - 512) & 0xffff}`);
        try {
          track.sendMessageBinary(p);
        } catch {}
      }
    });
    frame++;
  }, 1000 / fps);
}

/**
 * A synthetic camera and microphone on two sending tracks: video as `fps` frames (20) of
 * `perFrame` 1.1 kB packets (5; ~0.9 Mbit/s), a keyframe every 3 s and, as a browser does, at
 * the next frame after a PLI or FIR came on the video track, and video packets sent again when
 * NACKed (from the last 512); audio at 50 packets a second with an RFC 6464 level. Returns the
 * timers; clear them to stop.
 */
export function syntheticMedia(
  audio: { track: ndc.Track; ssrc: number; level: () => number },
  video: { track: ndc.Track; ssrc: number; asked?: () => void },
  opts: { fps?: number; perFrame?: number } = {},
): NodeJS.Timeout[] {
  const fps = opts.fps ?? 20;
  const perFrame = opts.perFrame ?? 5;
  let vseq = randomInt(0, 0xffff);
  let aseq = randomInt(0, 0xffff);
  let frame = 0;
  let ats = 0;
  let asked = false;
  const sent = new Map<number, Buffer>();
  video.track.onMessage((packet) => {
    for (const f of parseFeedback(packet)) {
      if (f.kind === 'pli' || f.kind === 'fir') {
        asked = true;
        video.asked?.();
      } else if (f.kind === 'nack')
        for (const seq of f.lost) {
          const again = sent.get(seq);
          if (again)
            try {
              video.track.sendMessageBinary(again);
            } catch {}
        }
    }
  });
  return [
    setInterval(() => {
      const key = asked || frame % (fps * 3) === 0;
      asked = false;
      const ts = frame * Math.round(90_000 / fps);
      for (let i = 0; i < perFrame; i++) {
        const seq = vseq++ & 0xffff;
        const p = vp8Packet(video.ssrc, seq, ts, key && i === 0);
        if (i === perFrame - 1) p[1] = (p[1] ?? 0) | 0x80;
        sent.set(seq, p);
        sent.delete((seq - 512) & 0xffff);
        try {
          video.track.sendMessageBinary(p);
        } catch {}
      }
      frame++;
    }, 1000 / fps),
    setInterval(() => {
      try {
        audio.track.sendMessageBinary(opusPacket(audio.ssrc, aseq++, ats, audio.level()));
      } catch {}
      ats += 960;
    }, 20),
  ];
}

export interface PeerOptions {
  /** Changes the bridge's candidates before they are added (to reach it through a relay). */
  rewriteCandidate?(candidate: string): string;
  /**
   * false: the bridge learns this peer's address only from its checks (peer reflexive): no
   * candidate messages, and none in its answers (a re-offer's answer would carry them).
   */
  sendCandidates?: boolean;
  /** Sends each answer this much later (a slow client or signaling path). */
  answerDelayMs?: number;
  /** Publishes its camera as three simulcast layers (`a=ssrc-group:SIM` in its answers). */
  simulcast?: boolean;
  /** A prejoin's endpoint: allocated `held` (forwarded nothing until the focus's `admit`). */
  held?: boolean;
}

/**
 * How a synthetic peer reaches the bridge: the control protocol itself (a `FakeFocus`), or any
 * path that carries the same messages (signaling through a real focus: `RtmPipeline`).
 */
export interface PeerSignaling {
  send(m: FocusMessage): void;
  next(match: (m: BridgeMessage) => boolean, timeoutMs?: number): Promise<BridgeMessage>;
  take(take: (m: BridgeMessage) => boolean): void;
}

/**
 * A participant made of node-datachannel: answers the bridge's offers through the fake focus,
 * publishes synthetic audio and video on the upstream mids, and counts what it receives.
 */
export class SyntheticPeer {
  readonly pc: ndc.PeerConnection;
  readonly audio: ndc.Track;
  readonly video: ndc.Track;
  readonly audioSsrc = randomInt(1, 0xffffffff);
  readonly videoSsrc = randomInt(1, 0xffffffff);
  /** With `simulcast`: the camera's three SSRCs, lowest first (the first is `videoSsrc`). */
  readonly simulcastSsrcs: number[];
  /** The bridge's media channel once it opened, and what the bridge said on it. */
  mediaChannel: ndc.DataChannel | undefined;
  readonly channelMessages: MediaChannelServerMessage[] = [];
  /** Received forwarded tracks by mid, with the RTP packets that came on each. */
  readonly received = new Map<
    string,
    { track: ndc.Track; packets: number; rtcp: number; ssrc: number }
  >();
  streams: Record<string, ForwardedStream> = {};
  /** The first offer as it came, and when the first answer left and the bridge's candidate came. */
  firstOffer: string | undefined;
  answeredAt: number | undefined;
  bridgeCandidateAt: number | undefined;
  onPacket: ((mid: string, packet: Buffer) => void) | undefined;
  #timers: NodeJS.Timeout[] = [];

  constructor(
    readonly focus: PeerSignaling,
    readonly conference: string,
    readonly endpoint: string,
    readonly opts: PeerOptions = {},
  ) {
    this.simulcastSsrcs = opts.simulcast
      ? [this.videoSsrc, randomInt(1, 0xffffffff), randomInt(1, 0xffffffff)]
      : [];
    this.pc = new ndc.PeerConnection(endpoint, { iceServers: [], bindAddress: '127.0.0.1' });
    this.pc.onDataChannel((dc) => {
      if (dc.getLabel() !== mediaChannelLabel) return;
      this.mediaChannel = dc;
      dc.onMessage((data) => {
        const m = mediaChannelServerSchema.safeParse(JSON.parse(String(data)));
        if (!m.success) return;
        this.channelMessages.push(m.data);
        if (m.data.type === 'publish' && m.data.camera) {
          const told = m.data.camera;
          this.cameraSending = this.cameraSending.map((on, i) => told[i] ?? on);
        }
      });
    });
    const a = new ndc.Audio('a', 'SendOnly');
    a.addOpusCodec(111);
    a.parseSdpLine('a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level');
    a.addSSRC(this.audioSsrc, endpoint, endpoint, 'audio');
    this.audio = this.pc.addTrack(a);
    const v = new ndc.Video('v', 'SendOnly');
    v.addVP8Codec(96);
    v.addSSRC(this.videoSsrc, endpoint, endpoint, 'video');
    this.video = this.pc.addTrack(v);
    this.pc.onTrack((track) => {
      const mid = track.mid();
      if (mid === 'a' || mid === 'v' || mid === 's') return;
      const entry = { track, packets: 0, rtcp: 0, ssrc: 0 };
      this.received.set(mid, entry);
      track.onMessage((p) => {
        if (this.closed) return;
        const pt = p[1] ?? 0;
        if (pt >= 192 && pt <= 223) entry.rtcp++;
        else {
          entry.packets++;
          entry.ssrc = p.readUInt32BE(8);
          // A throw inside a native callback aborts the whole process (std::terminate): hand
          // it to the event loop instead, where the test runner reports it.
          try {
            this.onPacket?.(mid, p);
          } catch (err) {
            setImmediate(() => {
              throw err;
            });
          }
        }
      });
    });
    this.pc.onLocalDescription((sdp, type) => {
      if (type !== 'answer') return;
      const send = () => {
        this.answeredAt ??= Date.now();
        const plain = opts.sendCandidates === false ? takeCandidates(sdp).sdp : sdp;
        const answer = opts.simulcast ? withSimulcast(plain, this.simulcastSsrcs) : plain;
        focus.send({ type: 'answer', conference, endpoint, sdp: answer });
      };
      if (opts.answerDelayMs) setTimeout(send, opts.answerDelayMs);
      else send();
    });
    // The bridge's candidates, which it sends once it has our answer.
    focus.take((m) => {
      if (m.type !== 'candidate' || m.conference !== conference || m.endpoint !== endpoint)
        return false;
      this.bridgeCandidateAt ??= Date.now();
      if (!this.closed)
        try {
          this.pc.addRemoteCandidate(opts.rewriteCandidate?.(m.candidate) ?? m.candidate, m.mid);
        } catch {}
      return true;
    });
    this.pc.onLocalCandidate((candidate, mid) => {
      if (opts.sendCandidates !== false)
        focus.send({ type: 'candidate', conference, endpoint, candidate, mid });
    });
  }

  /** Asks the bridge for this endpoint and answers its offers from now on. */
  static async join(
    focus: PeerSignaling,
    conference: string,
    endpoint: string,
    opts: PeerOptions = {},
  ): Promise<SyntheticPeer> {
    const peer = new SyntheticPeer(focus, conference, endpoint, opts);
    focus.send({
      type: 'allocate',
      conference,
      endpoint,
      user: endpoint,
      ...(opts.held ? { held: true } : {}),
    });
    await peer.takeOffer();
    return peer;
  }

  /** Offers the bridge made it. */
  offers = 0;

  /** Answers the next offer the bridge makes for this endpoint. */
  async takeOffer(timeoutMs = 10_000): Promise<void> {
    const m = await this.focus.next(
      (x) => x.type === 'offer' && x.conference === this.conference && x.endpoint === this.endpoint,
      timeoutMs,
    );
    if (m.type !== 'offer') return;
    this.streams = m.streams;
    this.offers++;
    this.firstOffer ??= m.sdp;
    this.pc.setRemoteDescription(m.sdp, 'offer');
  }

  /** Keeps answering re-offers (other participants joining) in the background. */
  follow(): void {
    const loop = (): void => {
      this.takeOffer(3_600_000).then(
        () => {
          if (!this.closed) loop();
        },
        () => {},
      );
    };
    loop();
  }

  closed = false;

  connected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.pc.state() === 'connected' && this.video.isOpen()) return resolve();
        if (Date.now() > deadline)
          return reject(
            new Error(
              `${this.endpoint} did not connect (peer ${this.pc.state()}, ICE ${this.pc.iceState()}, signaling ${this.pc.signalingState()}, video open ${this.video.isOpen()})`,
            ),
          );
        setTimeout(check, 20);
      };
      check();
    });
  }

  /** The audio level the synthetic microphone sends (0 loud … 127 silent). */
  level = 40;
  /** Which of its simulcast camera's layers it sends (the bridge's `publish`: dynacast). */
  cameraSending = [true, true, true];
  /** The last REMB the bridge sent its simulcast camera (bits/s; 0: none yet). */
  remb = 0;
  /** Its simulcast camera sends no keyframe while this is true (asked ones come after). */
  holdKeyframes = false;
  /** PLIs and FIRs that came for its camera (without simulcast). */
  keyframeRequests = 0;

  /** Sends the synthetic load of `syntheticMedia` on the upstream tracks (the camera as
   * `syntheticSimulcast` with the `simulcast` option). */
  publish(opts: { fps?: number; perFrame?: number } = {}): void {
    if (this.opts.simulcast) {
      let seq = randomInt(0, 0xffff);
      let ts = 0;
      this.#timers.push(
        setInterval(() => {
          try {
            this.audio.sendMessageBinary(opusPacket(this.audioSsrc, seq++, ts, this.level));
          } catch {}
          ts += 960;
        }, 20),
        syntheticSimulcast(
          this.video,
          this.simulcastSsrcs,
          () => this.cameraSending,
          (bitrate) => {
            this.remb = bitrate;
          },
          () => this.holdKeyframes,
        ),
      );
      return;
    }
    this.#timers.push(
      ...syntheticMedia(
        { track: this.audio, ssrc: this.audioSsrc, level: () => this.level },
        {
          track: this.video,
          ssrc: this.videoSsrc,
          asked: () => {
            this.keyframeRequests++;
          },
        },
        opts,
      ),
    );
  }

  /** Tells the bridge what it shows, on the media channel (once it opened). */
  sendView(tiles: Record<string, ViewTile>): void {
    this.mediaChannel?.sendMessage(JSON.stringify({ type: 'view', tiles }));
  }

  /**
   * Sends the bridge a bandwidth estimate (REMB) for everything it receives, every 250 ms, on
   * a track it receives video on, naming that track's SSRC (libdatachannel routes RTCP by it),
   * and with `lost` above 0 a receiver report saying that share (of 256) was lost.
   */
  estimate(bitrate: () => number, lost: () => number = () => 0): void {
    const ssrc = randomInt(1, 0xffffffff);
    this.#timers.push(
      setInterval(() => {
        for (const r of this.received.values()) {
          if (!r.ssrc || !r.track.isOpen()) continue;
          const fraction = lost();
          try {
            r.track.sendMessageBinary(rembPacket(ssrc, bitrate(), r.ssrc));
            if (fraction > 0) r.track.sendMessageBinary(receiverReport(ssrc, r.ssrc, fraction));
          } catch {}
          return;
        }
      }, 250),
    );
  }

  /** Packets received over all forwarded tracks. */
  totalReceived(): number {
    let n = 0;
    for (const r of this.received.values()) n += r.packets;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const t of this.#timers) clearInterval(t);
    try {
      this.pc.close();
    } catch {}
  }
}

/** The answer with the camera's (mid `v`) SSRC made a simulcast group of `ssrcs`, as the web app
 * writes it. */
function withSimulcast(sdp: string, ssrcs: readonly number[]): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(/\r?\n(?=m=)/)
    .map((section) => {
      if (!/^a=mid:v\r?$/m.test(section)) return section;
      const trailing = section.endsWith(eol);
      const lines = section.split(eol);
      if (trailing) lines.pop();
      const first = ssrcs[0];
      const own = lines.filter((l) => l.startsWith(`a=ssrc:${first} `));
      const more = ssrcs
        .slice(1)
        .flatMap((ssrc) => own.map((l) => l.replace(`a=ssrc:${first} `, `a=ssrc:${ssrc} `)));
      const group = `a=ssrc-group:SIM ${ssrcs.join(' ')}`;
      return [...lines, ...more, group].join(eol) + (trailing ? eol : '');
    })
    .join(eol);
}

/** A receiver report with one block: `fraction` (of 256) of `media` lost. */
function receiverReport(sender: number, media: number, fraction: number): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  b.writeUInt32BE(media >>> 0, 8);
  b[12] = fraction & 0xff;
  return b;
}

/** Waits until `ok()` holds, polling every 25 ms; throws naming `what` after `timeoutMs`. */
export async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A test file's bridge with synthetic peers: a fake focus and a bridge process started in the
 * suite's `before` and stopped in its `after` with every peer `join` made. Call it inside a
 * `describe`; `join` gives a connected peer that answers all its offers.
 */
export function syntheticBridge(
  hooks: { before(fn: () => Promise<void>): void; after(fn: () => Promise<void>): void },
  port: number,
  focusOptions: Parameters<typeof FakeFocus.start>[0] = {},
) {
  const state = {
    focus: undefined as unknown as FakeFocus,
    bridge: undefined as unknown as BridgeProcess,
    peers: [] as SyntheticPeer[],
    async join(conference: string, name: string, simulcast = false): Promise<SyntheticPeer> {
      const p = await SyntheticPeer.join(state.focus, conference, name, { simulcast });
      p.follow();
      state.peers.push(p);
      await p.connected();
      return p;
    },
  };
  hooks.before(async () => {
    state.focus = await FakeFocus.start(focusOptions);
    state.bridge = await startBridge(state.focus, port);
  });
  hooks.after(async () => {
    for (const p of state.peers) p.close();
    await state.bridge.stop();
    state.focus.close();
    // node-datachannel's threads keep the process alive (see bridgeMedia.test.ts).
    setTimeout(() => process.exit(0), 1000).unref();
  });
  return state;
}
