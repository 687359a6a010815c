/**
 * Synthetic participants of Janus's VideoRoom made of node-datachannel, sending the same load as
 * the Confab bridge's synthetic peers (`syntheticMedia`). Janus's model is one peer connection to
 * publish and one to subscribe (to any number of feeds), where Confab bundles both in one.
 */
import { randomInt } from 'node:crypto';
import ndc from 'node-datachannel';
import { takeCandidates } from '../../packages/server/src/bridge/sdp.js';
import { syntheticMedia } from '../../test/support/bridgeHarness.js';
import { type Janus, type JanusHandle, janusAddress } from './janus.js';

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

export class JanusSyntheticPeer {
  readonly handles: JanusHandle[] = [];
  readonly pcs: ndc.PeerConnection[] = [];
  #timers: NodeJS.Timeout[] = [];
  #received = 0;
  readonly #tracks: ndc.Track[] = [];
  feed: number | undefined;

  constructor(
    readonly janus: Janus,
    readonly room: number,
    readonly name: string,
  ) {}

  /**
   * Publishes the synthetic camera and microphone. The offer goes without candidates, which are
   * trickled once Janus's answer is set: libdatachannel would otherwise meet Janus's DTLS hello
   * before it has the answer's fingerprint (see `takeCandidates`).
   */
  async publish(): Promise<void> {
    const pc = new ndc.PeerConnection(`${this.name}-pub`, config);
    this.pcs.push(pc);
    const audio = new ndc.Audio('0', 'SendOnly');
    audio.addOpusCodec(111);
    audio.parseSdpLine('a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level');
    const audioSsrc = randomInt(1, 0xffffffff);
    audio.addSSRC(audioSsrc, this.name, this.name, 'audio');
    const video = new ndc.Video('1', 'SendOnly');
    video.addVP8Codec(96);
    const videoSsrc = randomInt(1, 0xffffffff);
    video.addSSRC(videoSsrc, this.name, this.name, 'video');
    const audioTrack = pc.addTrack(audio);
    const videoTrack = pc.addTrack(video);
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
        video: true,
      },
      { type: 'offer', sdp: offer.sdp },
    );
    const answer = joined.jsep?.sdp;
    if (!answer) throw new Error(`janus did not answer ${this.name}'s offer`);
    pc.setRemoteDescription(answer, 'answer');
    for (const [candidate, sdpMid] of offer.candidates) await h.trickle({ candidate, sdpMid });
    await h.trickle({ completed: true });
    this.feed = joined.plugindata?.data.id as number;
    await this.#open(videoTrack);
    this.#timers.push(
      ...syntheticMedia(
        { track: audioTrack, ssrc: audioSsrc, level: () => 40 },
        { track: videoTrack, ssrc: videoSsrc },
      ),
    );
  }

  /** Subscribes to these feeds on one peer connection, counting the RTP packets that come. */
  async subscribe(feeds: number[]): Promise<void> {
    const h = await this.janus.api.handle();
    this.handles.push(h);
    const joined = await h.request({
      request: 'join',
      room: this.room,
      ptype: 'subscriber',
      streams: feeds.map((feed) => ({ feed })),
    });
    const offer = joined.jsep?.sdp;
    if (!offer) throw new Error(`janus made ${this.name} no offer`);
    const pc = new ndc.PeerConnection(`${this.name}-sub`, config);
    this.pcs.push(pc);
    pc.onTrack((track) => {
      // Kept: node-datachannel closes a track whose JavaScript object was collected.
      this.#tracks.push(track);
      track.onMessage((p) => {
        const pt = p[1] ?? 0;
        if (pt < 192 || pt > 223) this.#received++;
      });
    });
    pc.setRemoteDescription(offer, 'offer');
    const answer = await gathered(pc);
    await h.request({ request: 'start', room: this.room }, { type: 'answer', sdp: answer });
  }

  async #open(track: ndc.Track, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!track.isOpen()) {
      if (Date.now() > deadline) throw new Error(`${this.name} did not connect to janus`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  totalReceived(): number {
    return this.#received;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    for (const pc of this.pcs) {
      try {
        pc.close();
      } catch {}
    }
    for (const h of this.handles) await h.close();
  }
}
