/**
 * The same meeting participant on Janus's VideoRoom: a publisher peer connection whose offer
 * carries the three layers' SSRCs with `a=ssrc-group:SIM` (Janus's SSRC simulcast), or the
 * microphone alone in an audio-only shape, and one subscription to every other publisher's
 * feed, each with `substream` 2 for the participant on stage (the next in the ring) and 0 for
 * the others, `temporal` 2 (all temporal layers) for all, as the Confab participant asks with
 * its view; audio only (no video stream asked) from a publisher without a camera. A participant who
 * publishes nothing only subscribes.
 */
import { randomInt } from 'node:crypto';
import ndc from 'node-datachannel';
import { takeCandidates } from '../../packages/server/src/bridge/sdp.js';
import { type Janus, type JanusHandle, janusAddress } from '../bridge/janus.js';
import {
  type Participant,
  type ReceivedTrack,
  receiveOn,
  sendRembs,
  videoSsrcs,
} from './confab.js';
import { Publisher } from './media.js';
import { type Measure, Receiver } from './receive.js';
import { role, type Shape } from './shape.js';

const config: ndc.RtcConfig = { iceServers: [], bindAddress: janusAddress };

/** The local description once gathering is complete (candidates in it). */
function gathered(pc: ndc.PeerConnection, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      const sdp = pc.localDescription()?.sdp;
      if (sdp && pc.gatheringState() === 'complete') return resolve(sdp);
      if (Date.now() > deadline) return reject(new Error('node-datachannel did not gather'));
      setTimeout(check, 10);
    };
    check();
  });
}

export class JanusParticipant implements Participant {
  readonly name: string;
  readonly publisher: Publisher;
  readonly receiver: Receiver;
  readonly handles: JanusHandle[] = [];
  readonly pcs: ndc.PeerConnection[] = [];
  readonly #tracks: ndc.Track[] = [];
  readonly #received: ReceivedTrack[] = [];
  readonly #rembSsrc = randomInt(1, 0xffffffff);
  readonly #stage: number;
  feed: number | undefined;

  constructor(
    readonly janus: Janus,
    readonly room: number,
    readonly index: number,
    readonly shape: Shape,
    measure: Measure,
  ) {
    this.name = `p${index}`;
    const r = role(shape, index);
    this.#stage = r.stage;
    this.publisher = new Publisher(index, r.talking, r.camera);
    this.receiver = new Receiver(r.sampled, r.stage, measure);
  }

  /**
   * Publishes; candidates are trickled once Janus's answer is set (as `bench/bridge` does:
   * libdatachannel would otherwise meet Janus's DTLS hello before it has the fingerprint).
   */
  async publish(): Promise<void> {
    const pc = new ndc.PeerConnection(`${this.name}-pub`, config);
    this.pcs.push(pc);
    const a = new ndc.Audio('0', 'SendOnly');
    a.addOpusCodec(111);
    a.parseSdpLine('a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level');
    const v = new ndc.Video('1', 'SendOnly');
    v.addVP8Codec(96);
    this.publisher.describe(a, v, this.name);
    const audio = pc.addTrack(a);
    // Without video the offer has the microphone only: Janus then forwards no camera.
    const video = this.publisher.video ? pc.addTrack(v) : audio;
    this.#tracks.push(audio, video);
    this.publisher.attach(audio, video);
    pc.setLocalDescription();
    const offer = takeCandidates(await gathered(pc));
    const h = await this.janus.api.handle();
    this.handles.push(h);
    const joined = await h.request(
      {
        request: 'joinandconfigure',
        room: this.room,
        ptype: 'publisher',
        display: this.name,
        audio: true,
        video: this.publisher.video,
      },
      { type: 'offer', sdp: offer.sdp },
    );
    const answer = joined.jsep?.sdp;
    if (!answer) throw new Error(`janus did not answer ${this.name}'s offer`);
    pc.setRemoteDescription(answer, 'answer');
    for (const [candidate, sdpMid] of offer.candidates) await h.trickle({ candidate, sdpMid });
    await h.trickle({ completed: true });
    this.feed = joined.plugindata?.data.id as number;
    const deadline = Date.now() + 15_000;
    while (!video.isOpen()) {
      if (Date.now() > deadline) throw new Error(`${this.name} did not connect to janus`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Subscribes to the other publishers' feeds (`feeds` by publisher index, in ring order from
   * the one on stage) on one connection.
   */
  async subscribe(feeds: readonly number[]): Promise<void> {
    const others: { feed: number; stage: boolean; camera: boolean }[] = [];
    const from = Math.max(0, this.#stage);
    for (let k = 0; k < feeds.length; k++) {
      const j = (from + k) % feeds.length;
      if (j === this.index) continue;
      others.push({
        feed: feeds[j] as number,
        stage: j === this.#stage,
        camera: role(this.shape, j).camera,
      });
    }
    const h = await this.janus.api.handle();
    this.handles.push(h);
    const joined = await h.request({
      request: 'join',
      room: this.room,
      ptype: 'subscriber',
      streams: others.flatMap(({ feed, stage, camera }) =>
        camera
          ? [
              { feed, mid: '0' },
              { feed, mid: '1', substream: stage ? 2 : 0, temporal: 2 },
            ]
          : [{ feed, mid: '0' }],
      ),
    });
    const offer = joined.jsep?.sdp;
    if (!offer) throw new Error(`janus made ${this.name} no offer`);
    const pc = new ndc.PeerConnection(`${this.name}-sub`, config);
    this.pcs.push(pc);
    const offered = videoSsrcs(offer);
    pc.onTrack((track) => {
      // Kept: node-datachannel closes a track whose JavaScript object was collected.
      this.#tracks.push(track);
      this.#received.push(receiveOn(track, this.receiver, offered));
    });
    pc.setRemoteDescription(offer, 'offer');
    const answer = await gathered(pc);
    await h.request({ request: 'start', room: this.room }, { type: 'answer', sdp: answer });
  }

  remb(): void {
    sendRembs(this.#received, this.#rembSsrc);
  }

  async close(): Promise<void> {
    this.publisher.stop();
    for (const pc of this.pcs) {
      try {
        pc.close();
      } catch {}
    }
    for (const h of this.handles) await h.close();
  }
}
