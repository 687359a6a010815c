/**
 * The synthetic camera and microphone of one meeting participant: Opus at 50 packets a second
 * and three VP8 simulcast layers with the packet rates and sizes of ~180p/360p/720p at 30 fps,
 * each packet carrying a real VP8 payload descriptor (RFC 7741: long PictureID, TL0PICIDX,
 * TID/Y/KEYIDX, temporal pattern TID 0,2,1,2) and, in its last 12 bytes, who sent it, which
 * layer, and when (`trailer`). All packets are written into buffers allocated once (one ring
 * per layer, also answering NACKs), so the generator allocates nothing per packet.
 */
import { randomInt } from 'node:crypto';
import type ndc from 'node-datachannel';
import { parseFeedback } from '../../packages/server/src/bridge/rtp.js';

export interface LayerSpec {
  name: string;
  width: number;
  height: number;
  /** Packets of a delta frame (a keyframe has `keyframeFactor` times as many). */
  perFrame: number;
  /** Bytes of each packet, RTP header included. */
  size: number;
}

/**
 * ~150 kbit/s, ~500 kbit/s and ~1.7 Mbit/s at 30 fps: Chromium's targets for 320x180, 640x360
 * and 1280x720 simulcast layers. 30 + 60 + 180 video packets a second per publisher.
 */
export const layerSpecs: readonly LayerSpec[] = [
  { name: '180p', width: 320, height: 180, perFrame: 1, size: 640 },
  { name: '360p', width: 640, height: 360, perFrame: 2, size: 1050 },
  { name: '720p', width: 1280, height: 720, perFrame: 6, size: 1180 },
];
export const fps = 30;
const frameMs = 1000 / fps;
const audioMs = 20;
/** A keyframe on every layer this often, and at the next frame after a PLI/FIR for its SSRC. */
export const keyframeIntervalMs = 3000;
const keyframeFactor = 3;
const temporalPattern = [0, 2, 1, 2] as const;
/** Opus payloads: a talker's ~32 kbit/s frame, and a silence frame (both + the trailer). */
const talkBytes = 80;
const silenceBytes = 3;
/** Packets kept per layer to answer NACKs (a power of two). */
const ringSize = 256;

/**
 * The last 12 bytes of every synthetic packet: u16 publisher index, u8 layer (0-2 video, 3
 * audio), u8 `trailerMagic`, f64 LE send time (`performance.now()`, ms; every participant lives
 * in this one process, so receivers read the same clock).
 */
export const trailerBytes = 12;
export const trailerMagic = 0xcf;
export const audioLayer = 3;

function writeTrailer(b: Buffer, publisher: number, layer: number): void {
  const at = b.length - trailerBytes;
  b.writeUInt16BE(publisher, at);
  b[at + 2] = layer;
  b[at + 3] = trailerMagic;
}

const stamp = (b: Buffer): void => {
  b.writeDoubleLE(performance.now(), b.length - 8);
};

class Layer {
  seq = randomInt(0, 0xffff);
  pictureId = randomInt(0, 0x7fff);
  tl0 = randomInt(0, 0xff);
  keyIdx = 0;
  keyWanted = true;
  lastKeyAt = Number.NEGATIVE_INFINITY;
  /** Paused by the SFU (dynacast): sends nothing until resumed, then a keyframe first. */
  active = true;
  readonly ssrc = randomInt(1, 0xffffffff);
  readonly ring: Buffer[];

  constructor(
    readonly index: number,
    readonly spec: LayerSpec,
    publisher: number,
  ) {
    this.ring = Array.from({ length: ringSize }, () => {
      const b = Buffer.alloc(spec.size);
      b[0] = 0x80;
      b.writeUInt32BE(this.ssrc, 8);
      writeTrailer(b, publisher, index);
      return b;
    });
  }
}

export class Publisher {
  readonly layers: Layer[];
  readonly audioSsrc = randomInt(1, 0xffffffff);
  #audioSeq = randomInt(0, 0xffff);
  #audioTs = randomInt(0, 0xffffffff);
  #videoTs = randomInt(0, 0xffffffff);
  readonly #audio: Buffer;
  #audioTrack: ndc.Track | undefined;
  #videoTrack: ndc.Track | undefined;
  #nextFrameAt = 0;
  #nextAudioAt = 0;
  #frame = 0;
  #running = false;
  /** Frames and audio packets not sent on time because the generator fell behind (> 100 ms). */
  skipped = 0;
  sent = 0;
  /** Keyframes sent, all layers. */
  keyframesSent = 0;
  /** PLI/FIR received, by layer. */
  readonly keyframesAsked = [0, 0, 0];
  retransmitted = 0;

  /**
   * `talking`: audio level ~25-45 dBov; else silence marked 127 (RFC 6464). `video`: false
   * sends the microphone only (the camera off).
   */
  constructor(
    readonly index: number,
    readonly talking: boolean,
    readonly video = true,
  ) {
    this.layers = layerSpecs.map((spec, i) => new Layer(i, spec, index));
    const a = Buffer.alloc(20 + (talking ? talkBytes : silenceBytes) + trailerBytes);
    a[0] = 0x90; // extension
    a[1] = 111;
    a.writeUInt32BE(this.audioSsrc, 8);
    a.writeUInt16BE(0xbede, 12);
    a.writeUInt16BE(1, 14);
    a[16] = 0x10; // id 1, one byte
    a[17] = 127;
    a[20] = 0xfc; // Opus TOC: CELT FB 20 ms, one frame
    writeTrailer(a, index, audioLayer);
    this.#audio = a;
  }

  /** The SSRCs of the video layers, low first (the order of `a=ssrc-group:SIM`). */
  get videoSsrcs(): number[] {
    return this.layers.map((l) => l.ssrc);
  }

  /** Adds this publisher's SSRCs to the sending m-lines (three for video, with the SIM group). */
  describe(audio: ndc.Audio, video: ndc.Video, cname: string): void {
    audio.addSSRC(this.audioSsrc, cname, cname, 'audio');
    for (const l of this.layers) video.addSSRC(l.ssrc, cname, cname, 'video');
    video.parseSdpLine(`a=ssrc-group:SIM ${this.videoSsrcs.join(' ')}`);
  }

  /** The tracks to send on; RTCP on the video track is answered (PLI/FIR, NACK). */
  attach(audio: ndc.Track, video: ndc.Track): void {
    this.#audioTrack = audio;
    this.#videoTrack = video;
    video.onMessage((p) => this.#feedback(p));
  }

  /** Starts sending at the next `tick`; `phase` (0-1) staggers publishers' frames. */
  start(now: number, phase: number): void {
    this.#running = true;
    this.#nextFrameAt = now + phase * frameMs;
    this.#nextAudioAt = now + phase * audioMs;
  }

  stop(): void {
    this.#running = false;
  }

  /**
   * Dynacast (the bridge's `publish`): which layers to keep sending, lowest first; a layer past
   * the end stays as it is. A resumed layer starts with a keyframe, as Chromium's does.
   */
  setActive(layers: readonly boolean[]): void {
    layers.forEach((on, i) => {
      const l = this.layers[i];
      if (!l || l.active === on) return;
      l.active = on;
      if (on) l.keyWanted = true;
      this.layerChanges++;
    });
  }

  /** Layers paused or resumed by the SFU so far. */
  layerChanges = 0;

  /** Video layers sending now. */
  get activeLayers(): number {
    return this.layers.filter((l) => l.active).length;
  }

  /** Sends what is due by `now` (frames on all three layers, audio). */
  tick(now: number): void {
    if (!this.#running) return;
    if (now - this.#nextFrameAt > 100) {
      const behind = Math.floor((now - this.#nextFrameAt) / frameMs);
      this.skipped += behind;
      this.#frame += behind;
      this.#nextFrameAt += behind * frameMs;
    }
    while (this.#nextFrameAt <= now) {
      if (this.video) this.#sendFrame(now);
      this.#nextFrameAt += frameMs;
    }
    if (now - this.#nextAudioAt > 100) {
      const behind = Math.floor((now - this.#nextAudioAt) / audioMs);
      this.skipped += behind;
      this.#audioTs += behind * 960;
      this.#nextAudioAt += behind * audioMs;
    }
    while (this.#nextAudioAt <= now) {
      this.#sendAudio();
      this.#nextAudioAt += audioMs;
    }
  }

  #sendAudio(): void {
    const a = this.#audio;
    a.writeUInt16BE(this.#audioSeq, 2);
    this.#audioSeq = (this.#audioSeq + 1) & 0xffff;
    a.writeUInt32BE(this.#audioTs >>> 0, 4);
    this.#audioTs = (this.#audioTs + 960) >>> 0;
    a[17] = this.talking ? 25 + ((this.#audioSeq * 7) % 20) : 127;
    this.#send(this.#audioTrack, a);
  }

  #sendFrame(now: number): void {
    const frame = this.#frame++;
    const ts = this.#videoTs;
    this.#videoTs = (ts + 90_000 / fps) >>> 0;
    for (const layer of this.layers) {
      if (!layer.active) continue;
      const key = layer.keyWanted || now - layer.lastKeyAt >= keyframeIntervalMs;
      if (key) {
        layer.keyWanted = false;
        layer.lastKeyAt = now;
        layer.keyIdx = (layer.keyIdx + 1) & 0x1f;
        this.keyframesSent++;
      }
      // A keyframe is a base-layer picture; the pattern goes on by frame number.
      const tid = key ? 0 : temporalPattern[frame % 4];
      const sync = tid !== 0 && frame % 4 !== 3; // depends on the TL0 picture only
      if (tid === 0) layer.tl0 = (layer.tl0 + 1) & 0xff;
      layer.pictureId = (layer.pictureId + 1) & 0x7fff;
      const n = layer.spec.perFrame * (key ? keyframeFactor : 1);
      for (let i = 0; i < n; i++) {
        const seq = layer.seq;
        layer.seq = (seq + 1) & 0xffff;
        const b = layer.ring[seq & (ringSize - 1)] as Buffer;
        b[1] = i === n - 1 ? 0x80 | 96 : 96;
        b.writeUInt16BE(seq, 2);
        b.writeUInt32BE(ts, 4);
        // Payload descriptor: X, S on the frame's first packet, partition 0; I L T K.
        b[12] = i === 0 ? 0x90 : 0x80;
        b[13] = 0xf0;
        b[14] = 0x80 | (layer.pictureId >> 8);
        b[15] = layer.pictureId & 0xff;
        b[16] = layer.tl0;
        b[17] = ((tid ?? 0) << 6) | (sync ? 0x20 : 0) | layer.keyIdx;
        if (i === 0) {
          // VP8 payload header: P bit clear on keyframes, show_frame set.
          b[18] = key ? 0x10 : 0x11;
          b[19] = 0;
          b[20] = 0;
          if (key) {
            b[21] = 0x9d;
            b[22] = 0x01;
            b[23] = 0x2a;
            b.writeUInt16LE(layer.spec.width & 0x3fff, 24);
            b.writeUInt16LE(layer.spec.height & 0x3fff, 26);
          } else b.fill(0, 21, 28);
        } else b.fill(0, 18, 28);
        this.#send(this.#videoTrack, b);
      }
    }
  }

  #send(track: ndc.Track | undefined, b: Buffer): void {
    stamp(b);
    try {
      track?.sendMessageBinary(b);
      this.sent++;
    } catch {
      // not open (yet, or any more)
    }
  }

  #feedback(p: Buffer): void {
    for (const f of parseFeedback(p)) {
      if (f.kind === 'pli' || f.kind === 'fir') {
        const layer = this.layers.find((l) => l.ssrc === f.mediaSsrc);
        if (layer) {
          layer.keyWanted = true;
          this.keyframesAsked[layer.index] = (this.keyframesAsked[layer.index] ?? 0) + 1;
        }
      } else if (f.kind === 'nack') {
        const layer = this.layers.find((l) => l.ssrc === f.mediaSsrc);
        if (!layer) continue;
        for (const seq of f.lost) {
          const b = layer.ring[seq & (ringSize - 1)] as Buffer;
          if (b.readUInt16BE(2) !== seq) continue;
          try {
            this.#videoTrack?.sendMessageBinary(b); // its original send time stays in it
            this.retransmitted++;
          } catch {}
        }
      }
    }
  }
}
