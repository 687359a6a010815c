/**
 * A meeting participant of the Confab bridge, made of node-datachannel and driven through the
 * fake focus (`test/support/bridgeHarness.ts`): one bundled peer connection that answers the
 * bridge's offers, publishes the synthetic microphone on `a` and the three simulcast layers on
 * `v` (three SSRCs and `a=ssrc-group:SIM low mid high` in its answer), receives everyone else
 * on the `f…` m-lines, says what it shows over the media channel (`view`: the next participant
 * in the ring on stage at 1280x720, the others as 320x180 thumbnails), and sends a REMB of
 * `rembBps` every second so that bandwidth estimates limit nothing.
 */
import { randomInt } from 'node:crypto';
import {
  type ForwardedStream,
  mediaChannelLabel,
  mediaChannelServerSchema,
  type ViewMessage,
} from '@confab/protocol';
import ndc from 'node-datachannel';
import { rembPacket } from '../../packages/server/src/bridge/rtp.js';
import type { FakeFocus } from '../../test/support/bridgeHarness.js';
import { Publisher } from './media.js';
import { type Measure, Receiver, type StreamStats } from './receive.js';
import { role, type Shape } from './shape.js';

/** What receivers say they can take (REMB, bits/s): `--remb=BPS`, 10 Mbit/s unless given. */
export const rembBps = Number(
  process.argv.find((a) => a.startsWith('--remb='))?.split('=')[1] ?? 10_000_000,
);
/** Offers come in bursts while everyone starts publishing: one view after the burst. */
const viewDelayMs = 150;

/** A received m-line: its packets go to the receiver; its SSRC and kind are learnt from them. */
export interface ReceivedTrack {
  track: ndc.Track;
  stats: StreamStats;
  ssrc: number;
  video: boolean;
}

/**
 * Where `sdp` (the SFU's offer) sends video: mid → the first SSRC of its section. A receiver
 * that is not sampled learns its REMB's SSRC here, since it never sees a packet.
 */
export function videoSsrcs(sdp: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const section of sdp.split(/\r?\n(?=m=)/)) {
    if (!section.startsWith('m=video')) continue;
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    const ssrc = /^a=ssrc:(\d+) /m.exec(section)?.[1];
    if (mid && ssrc) out.set(mid, Number(ssrc));
  }
  return out;
}

/**
 * `--count-all`: receivers that are not sampled count their packets in JavaScript too. By
 * default they register no message callback at all: each packet then ends in libdatachannel's
 * receive queue (tail drop at its limit, ~1 MB a track) instead of crossing into JavaScript,
 * which saved ~10 µs of the generator's CPU per packet (measured: 30,000 packets, 1020 → 710 ms
 * for sender and receiver in one process). Their packets are then estimated from the sampled
 * receivers (`LiveMeeting`).
 */
export const countAll = process.argv.includes('--count-all');

export function receiveOn(
  track: ndc.Track,
  receiver: Receiver,
  offered: Map<string, number>,
): ReceivedTrack {
  const stats = receiver.stream();
  const entry: ReceivedTrack = { track, stats, ssrc: 0, video: false };
  if (!receiver.sampled && !countAll) {
    receiver.counts = false;
    const ssrc = offered.get(track.mid());
    if (ssrc !== undefined) [entry.ssrc, entry.video] = [ssrc, true];
    return entry;
  }
  track.onMessage((p) => {
    if (entry.ssrc === 0 && (p[1] ?? 0) < 192) {
      entry.ssrc = p.readUInt32BE(8);
      entry.video = ((p[1] ?? 0) & 0x7f) === 96;
    }
    receiver.packet(stats, p);
  });
  return entry;
}

/**
 * One REMB of `rembBps` a second per receiving connection, as Chromium sends (one estimate for
 * the connection; it names the first received video's SSRC, which routes it to that m-line).
 */
export function sendRembs(tracks: readonly ReceivedTrack[], sender: number): void {
  const r = tracks.find((t) => t.video);
  if (!r) return;
  try {
    r.track.sendMessageBinary(rembPacket(sender, rembBps, r.ssrc));
  } catch {}
}

export interface Participant {
  readonly name: string;
  readonly publisher: Publisher;
  readonly receiver: Receiver;
  /** The media channel (Confab only) and the views sent on it. */
  readonly channelOpen?: boolean;
  readonly views?: number;
  /** Streams the SFU offered this participant (Confab: its offer's `streams`). */
  readonly offered?: number;
  /** Videos the bridge says it forwards now (its `forwarded`; Confab only, once said). */
  readonly forwarded?: number;
  /** Sends its REMB (`sendRembs`). */
  remb(): void;
  close(): void | Promise<void>;
}

export class ConfabParticipant implements Participant {
  readonly name: string;
  readonly publisher: Publisher;
  readonly receiver: Receiver;
  readonly pc: ndc.PeerConnection;
  readonly #tracks: ndc.Track[] = [];
  readonly #received: ReceivedTrack[] = [];
  readonly #rembSsrc = randomInt(1, 0xffffffff);
  #channel: ndc.DataChannel | undefined;
  #streams: Record<string, ForwardedStream> = {};
  #offer = '';
  #viewTimer: NodeJS.Timeout | undefined;
  readonly #stage: number;
  views = 0;
  offers = 0;
  forwarded: number | undefined;
  closed = false;

  constructor(
    readonly focus: FakeFocus,
    readonly conference: string,
    readonly index: number,
    shape: Shape,
    measure: Measure,
  ) {
    const name = `p${index}`;
    this.name = name;
    const r = role(shape, index);
    this.#stage = r.stage;
    this.publisher = new Publisher(index, r.talking, r.camera);
    this.receiver = new Receiver(r.sampled, r.stage, measure);
    const pc = new ndc.PeerConnection(name, { iceServers: [], bindAddress: '127.0.0.1' });
    this.pc = pc;
    const a = new ndc.Audio('a', 'SendOnly');
    a.addOpusCodec(111);
    a.parseSdpLine('a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level');
    const v = new ndc.Video('v', 'SendOnly');
    v.addVP8Codec(96);
    // libdatachannel writes all three SSRCs and the SIM group into its answer by itself (and
    // then also routes RTCP about any of them to this track): no munging of the text needed.
    this.publisher.describe(a, v, name);
    const audio = pc.addTrack(a);
    const video = pc.addTrack(v);
    this.#tracks.push(audio, video);
    this.publisher.attach(audio, video);
    pc.onTrack((track) => {
      const mid = track.mid();
      if (mid === 'a' || mid === 'v' || mid === 's') return;
      this.#tracks.push(track);
      this.#received.push(receiveOn(track, this.receiver, videoSsrcs(this.#offer)));
    });
    pc.onDataChannel((dc) => {
      if (dc.getLabel() !== mediaChannelLabel) return;
      this.#channel = dc;
      dc.onOpen(() => this.#view());
      dc.onMessage((msg) => {
        if (typeof msg !== 'string') return;
        // Nothing may throw in a native callback (that aborts the process).
        let json: unknown;
        try {
          json = JSON.parse(msg);
        } catch {
          return;
        }
        const m = mediaChannelServerSchema.safeParse(json);
        if (!m.success) return;
        if (m.data.type === 'error') console.error(`${name}: media channel: ${msg}`);
        else if (m.data.type === 'forwarded') this.forwarded = m.data.video.length;
        // Dynacast: the bridge pauses the layers nobody receives, as a browser would obey.
        else if (m.data.type === 'publish' && m.data.camera)
          this.publisher.setActive(m.data.camera);
      });
      if (dc.isOpen()) this.#view();
    });
    pc.onLocalDescription((sdp, type) => {
      if (type !== 'answer' || this.closed) return;
      focus.send({ type: 'answer', conference, endpoint: name, sdp });
      this.#scheduleView();
    });
    pc.onLocalCandidate((candidate, mid) => {
      focus.send({ type: 'candidate', conference, endpoint: name, candidate, mid });
    });
    focus.take((m) => {
      if (m.type !== 'candidate' || m.conference !== conference || m.endpoint !== name)
        return false;
      if (!this.closed)
        try {
          pc.addRemoteCandidate(m.candidate, m.mid);
        } catch {}
      return true;
    });
  }

  /** Asks the bridge for this endpoint and answers its offers until closed. */
  async join(): Promise<void> {
    this.focus.send({
      type: 'allocate',
      conference: this.conference,
      endpoint: this.name,
      user: this.name,
    });
    await this.#takeOffer(15_000);
    const loop = (): void => {
      this.#takeOffer(3_600_000).then(
        () => {
          if (!this.closed) loop();
        },
        () => {},
      );
    };
    loop();
  }

  async #takeOffer(timeoutMs: number): Promise<void> {
    const m = await this.focus.next(
      (x) => x.type === 'offer' && x.conference === this.conference && x.endpoint === this.name,
      timeoutMs,
    );
    if (m.type !== 'offer' || this.closed) return;
    this.offers++;
    this.#streams = m.streams;
    this.#offer = m.sdp;
    this.pc.setRemoteDescription(m.sdp, 'offer');
  }

  async connected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.pc.state() === 'connected' && this.#tracks[1]?.isOpen())) {
      if (Date.now() > deadline)
        throw new Error(`${this.name} did not connect (peer ${this.pc.state()})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get offered(): number {
    return Object.keys(this.#streams).length;
  }

  /** Whether the media channel is open (the bridge opened it). */
  get channelOpen(): boolean {
    return this.#channel?.isOpen() ?? false;
  }

  #scheduleView(): void {
    clearTimeout(this.#viewTimer);
    this.#viewTimer = setTimeout(() => this.#view(), viewDelayMs);
  }

  /** The stage: the next participant in the ring at 720p; every other camera a thumbnail. */
  #view(): void {
    const dc = this.#channel;
    if (!dc?.isOpen() || this.closed) return;
    const stage = `p${this.#stage}`;
    const tiles: ViewMessage['tiles'] = {};
    for (const [mid, s] of Object.entries(this.#streams)) {
      if (s.source !== 'camera') continue;
      tiles[mid] =
        s.user === stage ? { width: 1280, height: 720, stage: true } : { width: 320, height: 180 };
    }
    const view: ViewMessage = { type: 'view', tiles };
    try {
      dc.sendMessage(JSON.stringify(view));
      this.views++;
    } catch {}
  }

  remb(): void {
    sendRembs(this.#received, this.#rembSsrc);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.#viewTimer);
    this.publisher.stop();
    try {
      this.pc.close();
    } catch {}
  }
}
