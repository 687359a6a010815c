/**
 * The latency baseline: one more synthetic publisher (the same three layers and audio) sending
 * straight to a node-datachannel receiver in this process over loopback, no SFU between, during
 * the same window and under the same load. What the SFU adds is the latency through it less
 * this one (compared percentile by percentile).
 */
import ndc from 'node-datachannel';
import { audioLayer, Publisher } from './media.js';
import { type Measure, Receiver, type StreamStats } from './receive.js';

export class DirectPair {
  readonly publisher: Publisher;
  readonly receiver: Receiver;
  readonly #a: ndc.PeerConnection;
  readonly #b: ndc.PeerConnection;
  readonly #tracks: ndc.Track[] = [];

  /** `withVideo`: false sends the microphone only, as the audio room's speakers do. */
  constructor(index: number, measure: Measure, withVideo = true) {
    this.publisher = new Publisher(index, !withVideo, withVideo);
    this.receiver = new Receiver(true, -1, measure);
    const cfg: ndc.RtcConfig = { iceServers: [], bindAddress: '127.0.0.1' };
    const a = new ndc.PeerConnection('direct-send', cfg);
    const b = new ndc.PeerConnection('direct-recv', cfg);
    this.#a = a;
    this.#b = b;
    const audio = new ndc.Audio('a', 'SendOnly');
    audio.addOpusCodec(111);
    const video = new ndc.Video('v', 'SendOnly');
    video.addVP8Codec(96);
    this.publisher.describe(audio, video, 'direct');
    const at = a.addTrack(audio);
    const vt = a.addTrack(video);
    this.#tracks.push(at, vt);
    this.publisher.attach(at, vt);
    // One stream per layer: the three SSRCs come on one m-line here.
    const byLayer: StreamStats[] = [0, 1, 2, 3].map(() => this.receiver.stream());
    const receiver = this.receiver;
    b.onTrack((track) => {
      this.#tracks.push(track);
      track.onMessage((p) => {
        const layer = p.length > 10 ? (p[p.length - 10] ?? 0) : 0;
        receiver.packet(byLayer[Math.min(layer, audioLayer)] as StreamStats, p);
      });
    });
    // Each callback is its own native queue: a candidate may come before the description it
    // belongs to, so candidates wait until the other side has it. Nothing may throw in a
    // native callback (that aborts the process).
    const link = (from: ndc.PeerConnection, to: ndc.PeerConnection) => {
      let described = false;
      const held: [string, string][] = [];
      from.onLocalDescription((sdp, type) => {
        try {
          to.setRemoteDescription(sdp, type);
          described = true;
          for (const [c, mid] of held.splice(0)) to.addRemoteCandidate(c, mid);
        } catch (err) {
          console.error(`direct pair: ${(err as Error).message}`);
        }
      });
      from.onLocalCandidate((c, mid) => {
        if (!described) held.push([c, mid]);
        else
          try {
            to.addRemoteCandidate(c, mid);
          } catch {}
      });
    };
    link(a, b);
    link(b, a);
    a.setLocalDescription();
  }

  async connected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#tracks[1]?.isOpen()) {
      if (Date.now() > deadline) throw new Error('the direct pair did not connect');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.publisher.stop();
    for (const pc of [this.#a, this.#b])
      try {
        pc.close();
      } catch {}
  }
}
