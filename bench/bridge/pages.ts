/**
 * What the benchmark's Chromium pages run (as a string, so that no bundler is involved): one
 * RTCPeerConnection each, publishing the fake camera (640x480) and microphone or receiving,
 * answering an SFU's offer or offering to it, with the candidates in the SDP (no trickle).
 */
/** The part of `window.bench` that the benchmark calls with arguments (`page.evaluate`). */
export interface BenchPage {
  answer(sdp: string, publishOn: { audio: string; video: string } | null): Promise<string>;
  takeAnswer(sdp: string): Promise<void>;
}
export type BenchWindow = { bench: BenchPage };

export const pageScript = `
window.bench = {
  pc: undefined,
  t0: 0,
  async media() {
    return navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: 640, height: 480, frameRate: 20 },
    });
  },
  async gathered(pc) {
    if (pc.iceGatheringState === 'complete') return;
    await new Promise((r) => {
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
      setTimeout(r, 3000);
    });
  },
  peer() {
    this.pc ??= new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    return this.pc;
  },
  async offerToPublish() {
    const pc = this.peer();
    const s = await this.media();
    for (const t of s.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [s] });
    await pc.setLocalDescription(await pc.createOffer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async takeAnswer(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  },
  async answer(sdp, publishOn) {
    const pc = this.peer();
    if (!this.t0) this.t0 = performance.now();
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const s = publishOn ? (this.stream ??= await this.media()) : undefined;
    for (const tx of pc.getTransceivers()) {
      if (publishOn && tx.mid === publishOn.audio) {
        tx.direction = 'sendonly';
        await tx.sender.replaceTrack(s.getAudioTracks()[0]);
      } else if (publishOn && tx.mid === publishOn.video) {
        tx.direction = 'sendonly';
        await tx.sender.replaceTrack(s.getVideoTracks()[0]);
      } else if (tx.receiver && /^f\\d|^\\d/.test(tx.mid ?? '')) tx.direction = 'recvonly';
      else if (['a', 'v', 's'].includes(tx.mid)) tx.direction = 'inactive';
      else tx.direction = 'recvonly';
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async firstFrameMs(timeoutMs) {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      if (!this.pc) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      let frames = 0;
      (await this.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
      });
      if (frames > 0) return performance.now() - this.t0;
      await new Promise((r) => setTimeout(r, 20));
    }
    return -1;
  },
  async packetsIn() {
    let n = 0;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') n += s.packetsReceived ?? 0;
    });
    return n;
  },
};
`;
