import type { Rtc } from './PeerLink.js';

/**
 * A stand-in for the browser's WebRTC, for the controllers' unit tests (never shipped: only tests
 * import it). It keeps the state a real RTCPeerConnection keeps where the controllers look:
 * signaling states with implicit rollback, transceivers with mids and negotiated directions,
 * `negotiationneeded` when something changed while stable, tracks on receivers, candidates,
 * ICE states, SSRCs with simulcast by answer munging as Chromium 156 takes it, data channels the
 * other side opens. Descriptions are a small subset of SDP (one line per fact): two fakes read
 * each other's, a test writes a bridge's offer with `fakeSdp`, and the simulcast munger reads
 * and rewrites them as it does the browser's.
 */

export interface FakeMLine {
  mid: string;
  kind: 'audio' | 'video';
  /** The direction from the side that wrote the description. */
  dir: RTCRtpTransceiverDirection;
  /** The stream id its track belongs to, when it sends one. */
  msid?: string | undefined;
  /** The SSRCs it sends with (`a=ssrc`), in order. */
  ssrcs?: number[] | undefined;
  /** Its `a=ssrc-group:SIM`, lowest layer first. */
  simulcast?: number[] | undefined;
}

export function fakeSdp(mlines: FakeMLine[], iceRestart = 0): string {
  const lines = ['v=0', `a=x-fake-ice-restart:${iceRestart}`];
  for (const m of mlines) {
    lines.push(`m=${m.kind} 9 UDP/TLS/RTP/SAVPF 96`, `a=mid:${m.mid}`, `a=${m.dir}`);
    if (m.msid) lines.push(`a=msid:${m.msid} ${m.mid}-track`);
    if (m.simulcast) lines.push(`a=ssrc-group:SIM ${m.simulcast.join(' ')}`);
    for (const ssrc of m.ssrcs ?? []) lines.push(`a=ssrc:${ssrc} cname:fake`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function readFakeSdp(sdp: string): { mlines: FakeMLine[]; iceRestart: number } {
  const mlines: FakeMLine[] = [];
  let iceRestart = 0;
  for (const line of sdp.split(/\r?\n/)) {
    const m = mlines.at(-1);
    const [key, value = ''] = line.split(/:(.*)/s);
    if (line.startsWith('m=')) {
      const kind = line.slice(2).split(' ')[0] === 'audio' ? 'audio' : 'video';
      mlines.push({ mid: '', kind, dir: 'inactive' });
    } else if (key === 'a=x-fake-ice-restart') iceRestart = Number(value);
    else if (!m) continue;
    else if (key === 'a=mid') m.mid = value;
    else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line))
      m.dir = line.slice(2) as RTCRtpTransceiverDirection;
    else if (key === 'a=msid') m.msid = value.split(' ')[0];
    else if (key === 'a=ssrc-group' && value.startsWith('SIM '))
      m.simulcast = value.slice(4).split(' ').map(Number);
    else if (key === 'a=ssrc') {
      const ssrc = Number(value.split(' ')[0]);
      if (!m.ssrcs?.includes(ssrc)) m.ssrcs = [...(m.ssrcs ?? []), ssrc];
    }
  }
  return { mlines, iceRestart };
}

let nextId = 0;

export class FakeTrack {
  readonly id = `track${++nextId}`;
  stopped = false;
  enabled = true;
  contentHint = '';
  /** A remote track's muted flag, as a test sets it (a browser's unmutes at its first media). */
  muted: boolean | undefined;
  /** What getSettings() gives (the fake camera's 640x480 unless a test says otherwise). */
  settings: MediaTrackSettings = { width: 640, height: 480 };
  readonly #ended = new Set<() => void>();

  constructor(readonly kind: 'audio' | 'video') {}

  stop(): void {
    this.stopped = true;
  }

  get readyState(): MediaStreamTrackState {
    return this.stopped ? 'ended' : 'live';
  }

  getSettings(): MediaTrackSettings {
    return { ...this.settings };
  }

  addEventListener(type: string, fn: () => void): void {
    if (type === 'ended') this.#ended.add(fn);
  }

  removeEventListener(type: string, fn: () => void): void {
    if (type === 'ended') this.#ended.delete(fn);
  }

  /** The browser ended it (its own "Stop sharing" button). */
  end(): void {
    this.stopped = true;
    for (const fn of this.#ended) fn();
  }
}

export class FakeStream {
  constructor(
    readonly tracks: FakeTrack[],
    readonly id = `stream${++nextId}`,
  ) {}

  getTracks(): FakeTrack[] {
    return [...this.tracks];
  }

  addTrack(track: FakeTrack): void {
    if (!this.tracks.some((t) => t.id === track.id)) this.tracks.push(track);
  }

  removeTrack(track: FakeTrack): void {
    const i = this.tracks.indexOf(track);
    if (i >= 0) this.tracks.splice(i, 1);
  }

  getAudioTracks(): FakeTrack[] {
    return this.tracks.filter((t) => t.kind === 'audio');
  }

  getVideoTracks(): FakeTrack[] {
    return this.tracks.filter((t) => t.kind === 'video');
  }
}

/** A camera and a microphone. */
export function fakeCamera(): FakeStream {
  return new FakeStream([new FakeTrack('audio'), new FakeTrack('video')]);
}

let nextSsrc = 1000;

/** An encoding's parameters as the controllers set them (Chromium starts each active). */
interface FakeEncoding {
  maxBitrate?: number;
  active?: boolean;
}

class FakeSender {
  #params: { encodings: FakeEncoding[] } = { encodings: [{ active: true }] };
  /** Every setParameters, in order (what the encodings became). */
  readonly setLog: FakeEncoding[][] = [];
  /** The SSRC the browser chose for it, for good. */
  readonly ssrc = nextSsrc++;
  /** The SIM layers a local description gave it (then one encoding per layer). */
  simulcast: number[] | undefined;
  #described = false;

  constructor(
    public track: FakeTrack | null,
    public streams: FakeStream[],
  ) {}

  async replaceTrack(track: FakeTrack | null): Promise<void> {
    this.track = track;
  }

  getParameters() {
    return structuredClone(this.#params);
  }

  async setParameters(params: { encodings: FakeEncoding[] }): Promise<void> {
    if (params.encodings.length !== this.#params.encodings.length)
      throw operationError('the number of encodings may not change');
    this.#params = structuredClone(params);
    this.setLog.push(structuredClone(params.encodings));
  }

  setStreams(...streams: FakeStream[]): void {
    this.streams = streams;
  }

  /**
   * @internal A local description named this sender's SSRCs: `layers` its SIM group, if any.
   * As in Chromium 156, only the first description that names the sender decides: a SIM group
   * added later is taken but changes nothing (one encoding stays one), and other SSRCs than the
   * sender's are refused.
   */
  described(layers: number[] | undefined): void {
    const first = !this.#described;
    this.#described = true;
    if (!layers) return;
    if (layers[0] !== this.ssrc)
      throw operationError(
        `Failed to add send stream ssrc: ${layers[0]} (the sender's: ${this.ssrc})`,
      );
    if (this.simulcast && this.simulcast.join() !== layers.join())
      throw operationError(`Failed to add send stream ssrc: ${layers[1]}: other SSRCs mid-session`);
    if (!first || this.simulcast) return;
    this.simulcast = layers;
    this.#params = { encodings: layers.map(() => ({ active: true })) };
  }
}

function operationError(what: string): Error {
  const err = new Error(what);
  err.name = 'OperationError';
  return err;
}

class FakeTransceiver {
  mid: string | null = null;
  currentDirection: RTCRtpTransceiverDirection | null = null;
  readonly receiver: {
    track: FakeTrack;
    /** What its `inbound-rtp` stats say, as a test sets them. */
    inbound: { framesDecoded: number; packetsReceived: number };
    getStats(): Promise<Map<string, object>>;
  };
  /** Made for a remote offer's m-line, not by addTrack or addTransceiver. */
  fromRemote = false;
  /** Made by addTrack: the only kind a remote offer's new m-line may take (JSEP 5.10). */
  byAddTrack = false;
  /** The other side's direction when it last offered this m-line (this side answered). */
  offered: RTCRtpTransceiverDirection | undefined;
  /** A track arrived on it (ontrack fired). */
  receiving = false;
  #direction: RTCRtpTransceiverDirection;

  constructor(
    private readonly pc: FakePeerConnection,
    readonly kind: 'audio' | 'video',
    direction: RTCRtpTransceiverDirection,
    readonly sender: FakeSender,
  ) {
    this.#direction = direction;
    const receiver = {
      track: new FakeTrack(kind),
      inbound: { framesDecoded: 0, packetsReceived: 0 },
      getStats: async () => new Map([['in', { type: 'inbound-rtp', ...receiver.inbound }]]),
    };
    this.receiver = receiver;
  }

  get direction(): RTCRtpTransceiverDirection {
    return this.#direction;
  }

  set direction(d: RTCRtpTransceiverDirection) {
    if (d === this.#direction) return;
    this.#direction = d;
    this.pc.changed();
  }
}

const sends = (d: RTCRtpTransceiverDirection | null) => d === 'sendrecv' || d === 'sendonly';
const receives = (d: RTCRtpTransceiverDirection | null) => d === 'sendrecv' || d === 'recvonly';

function answerDirection(
  mine: RTCRtpTransceiverDirection,
  offered: RTCRtpTransceiverDirection,
): RTCRtpTransceiverDirection {
  const send = sends(mine) && receives(offered);
  const recv = receives(mine) && sends(offered);
  return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : 'inactive';
}

function reverse(d: RTCRtpTransceiverDirection): RTCRtpTransceiverDirection {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

function invalidState(what: string): Error {
  const err = new Error(what);
  err.name = 'InvalidStateError';
  return err;
}

type Handler = ((ev: unknown) => void) | null;

/** A data channel the other side (the bridge) opened; the test plays that side. */
export class FakeDataChannel {
  readyState: RTCDataChannelState = 'connecting';
  /** What this side sent, in order. */
  readonly sent: string[] = [];
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;

  constructor(readonly label: string) {}

  send(data: string): void {
    if (this.readyState !== 'open') throw invalidState(`data channel ${this.readyState}`);
    this.sent.push(data);
  }

  close(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.onclose?.({});
  }

  /** The other side's message. */
  receive(data: string): void {
    if (this.readyState === 'open') this.onmessage?.({ data });
  }

  /** What was sent, parsed. */
  messages(): unknown[] {
    return this.sent.map((m) => JSON.parse(m) as unknown);
  }
}

export class FakePeerConnection {
  signalingState: RTCSignalingState = 'stable';
  iceConnectionState: RTCIceConnectionState = 'new';
  connectionState: RTCPeerConnectionState = 'new';
  localDescription: { type: RTCSdpType; sdp: string } | null = null;
  remoteDescription: { type: RTCSdpType; sdp: string } | null = null;
  readonly transceivers: FakeTransceiver[] = [];
  /** What happened, for tests: `offer`, `answer`, `rollback`, `restartIce`, `close`. */
  readonly log: string[] = [];
  readonly remoteCandidates: RTCIceCandidateInit[] = [];
  closed = false;
  onnegotiationneeded: Handler = null;
  onicecandidate: Handler = null;
  ontrack: Handler = null;
  onsignalingstatechange: Handler = null;
  oniceconnectionstatechange: Handler = null;
  onconnectionstatechange: Handler = null;
  ondatachannel: Handler = null;
  readonly channels: FakeDataChannel[] = [];
  #config: RTCConfiguration;
  #iceRestart = 0;
  #restartPending = false;
  #nnQueued = false;
  #midCounter = 0;
  #gathered = false;
  /** Mids given by the local offer being made, taken back on rollback. */
  #offeredMids: FakeTransceiver[] = [];
  readonly #remoteStreams = new Map<string, FakeStream>();

  constructor(
    config: RTCConfiguration,
    /** Later answers repeat a SIM group set before, as Chromium 156's do. */
    readonly keepsSimulcast = true,
  ) {
    this.#config = config;
  }

  /**
   * The other side opens a data channel: announced open (`datachannel`), then its `open` event,
   * as an in-band (DCEP) channel is in the browser.
   */
  async openRemoteChannel(label: string): Promise<FakeDataChannel> {
    await Promise.resolve();
    const channel = new FakeDataChannel(label);
    this.channels.push(channel);
    channel.readyState = 'open';
    this.ondatachannel?.({ channel });
    await Promise.resolve();
    channel.onopen?.({});
    return channel;
  }

  getConfiguration(): RTCConfiguration {
    return this.#config;
  }

  setConfiguration(config: RTCConfiguration): void {
    if (this.closed) throw invalidState('closed');
    this.#config = config;
  }

  getTransceivers(): FakeTransceiver[] {
    return [...this.transceivers];
  }

  getSenders(): FakeSender[] {
    return this.transceivers.map((t) => t.sender);
  }

  addTrack(track: FakeTrack, ...streams: FakeStream[]): FakeSender {
    if (this.closed) throw invalidState('closed');
    // A transceiver made for the other side's offer, not sending yet, takes the track.
    const reuse = this.transceivers.find(
      (t) => t.fromRemote && t.kind === track.kind && !t.sender.track && !sends(t.direction),
    );
    if (reuse) {
      reuse.sender.track = track;
      reuse.sender.streams = streams;
      reuse.direction = reuse.direction === 'recvonly' ? 'sendrecv' : 'sendonly';
      return reuse.sender;
    }
    const tx = new FakeTransceiver(this, track.kind, 'sendrecv', new FakeSender(track, streams));
    tx.byAddTrack = true;
    this.transceivers.push(tx);
    this.changed();
    return tx.sender;
  }

  addTransceiver(
    trackOrKind: FakeTrack | 'audio' | 'video',
    init: { direction?: RTCRtpTransceiverDirection; streams?: FakeStream[] } = {},
  ): FakeTransceiver {
    if (this.closed) throw invalidState('closed');
    const track = typeof trackOrKind === 'string' ? null : trackOrKind;
    const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind;
    const tx = new FakeTransceiver(
      this,
      kind,
      init.direction ?? 'sendrecv',
      new FakeSender(track, init.streams ?? []),
    );
    this.transceivers.push(tx);
    this.changed();
    return tx;
  }

  restartIce(): void {
    this.log.push('restartIce');
    this.#restartPending = true;
    this.changed();
  }

  /** The answer as the browser would write it now (nothing changes until it is set). */
  async createAnswer(): Promise<{ type: 'answer'; sdp: string }> {
    await Promise.resolve();
    if (this.closed) throw invalidState('closed');
    if (this.signalingState !== 'have-remote-offer') throw invalidState('no offer to answer');
    return { type: 'answer', sdp: this.#answerSdp() };
  }

  async setLocalDescription(desc?: { type: RTCSdpType; sdp?: string }): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw invalidState('closed');
    const type = desc?.type ?? (this.signalingState === 'have-remote-offer' ? 'answer' : 'offer');
    if (type === 'rollback') return this.#rollback();
    if (type === 'offer') {
      if (this.signalingState === 'have-remote-offer') throw invalidState('answer first');
      this.#offeredMids = [];
      for (const t of this.transceivers)
        if (t.mid === null) {
          t.mid = this.#freeMid();
          this.#offeredMids.push(t);
        }
      if (this.#restartPending) {
        this.#restartPending = false;
        this.#iceRestart++;
      }
      this.localDescription = { type: 'offer', sdp: this.#describe((t) => t.direction) };
      this.log.push('offer');
      this.#setSignaling('have-local-offer');
    } else {
      if (this.signalingState !== 'have-remote-offer') throw invalidState('no offer to answer');
      const sdp = desc?.sdp || this.#answerSdp();
      // A munged answer: its SIM groups become the senders' layers (or it is refused whole).
      const given = new Map(readFakeSdp(sdp).mlines.map((m) => [m.mid, m]));
      for (const t of this.transceivers) {
        const m = given.get(t.mid ?? '');
        if (m?.ssrcs?.length) t.sender.described(m.simulcast);
      }
      const offered = this.#offeredDirections();
      for (const t of this.transceivers) {
        if (t.mid === null || !offered.has(t.mid)) continue;
        t.offered = offered.get(t.mid) ?? 'inactive';
        t.currentDirection = answerDirection(t.direction, t.offered);
      }
      this.localDescription = { type: 'answer', sdp };
      this.log.push('answer');
      this.#setSignaling('stable');
    }
    this.#gather();
  }

  #offeredDirections(): Map<string, RTCRtpTransceiverDirection> {
    return new Map(
      readFakeSdp(this.remoteDescription?.sdp ?? '').mlines.map((m) => [m.mid, m.dir]),
    );
  }

  #answerSdp(): string {
    const offered = this.#offeredDirections();
    return this.#describe(
      (t) => answerDirection(t.direction, offered.get(t.mid ?? '') ?? 'inactive'),
      new Set(offered.keys()),
    );
  }

  async setRemoteDescription(desc: { type: RTCSdpType; sdp?: string }): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw invalidState('closed');
    const { mlines } = readFakeSdp(desc.sdp ?? '');
    if (desc.type === 'offer') {
      // Perfect negotiation's polite side: an offer while ours is out rolls ours back.
      if (this.signalingState === 'have-local-offer') this.#rollback();
      if (this.signalingState !== 'stable') throw invalidState(`offer in ${this.signalingState}`);
      this.remoteDescription = { type: 'offer', sdp: desc.sdp ?? '' };
      for (const m of mlines) {
        let tx = this.transceivers.find((t) => t.mid === m.mid);
        if (!tx) {
          tx =
            this.transceivers.find((t) => t.mid === null && t.byAddTrack && t.kind === m.kind) ??
            this.#remoteTransceiver(m.kind);
          tx.mid = m.mid;
        }
        this.#receive(tx, m, sends(m.dir));
      }
      this.#setSignaling('have-remote-offer');
    } else if (desc.type === 'answer') {
      if (this.signalingState !== 'have-local-offer') throw invalidState('no offer out');
      this.remoteDescription = { type: 'answer', sdp: desc.sdp ?? '' };
      for (const m of mlines) {
        const tx = this.transceivers.find((t) => t.mid === m.mid);
        if (!tx) continue;
        tx.currentDirection = reverse(m.dir);
        tx.offered = undefined;
        this.#receive(tx, m, sends(m.dir));
      }
      this.#offeredMids = [];
      this.#setSignaling('stable');
    }
  }

  async addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    await Promise.resolve();
    if (!this.remoteDescription) throw invalidState('no remote description');
    this.remoteCandidates.push(candidate);
  }

  /** Moves ICE (and so the connection) to a state, as the network would. */
  setIceState(state: RTCIceConnectionState): void {
    this.iceConnectionState = state;
    this.oniceconnectionstatechange?.({});
    const conn: RTCPeerConnectionState =
      state === 'connected' || state === 'completed'
        ? 'connected'
        : state === 'checking'
          ? 'connecting'
          : state === 'disconnected' || state === 'failed' || state === 'closed'
            ? state
            : 'new';
    if (conn !== this.connectionState) {
      this.connectionState = conn;
      this.onconnectionstatechange?.({});
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.push('close');
    for (const c of this.channels) c.close();
    this.signalingState = 'closed';
    this.iceConnectionState = 'closed';
    this.connectionState = 'closed';
  }

  /** @internal Something negotiated changed: `negotiationneeded` once stable. */
  changed(): void {
    if (this.closed || this.#nnQueued) return;
    this.#nnQueued = true;
    queueMicrotask(() => {
      this.#nnQueued = false;
      if (this.closed || this.signalingState !== 'stable' || !this.#needsNegotiation()) return;
      this.onnegotiationneeded?.({});
    });
  }

  #freeMid(): string {
    const used = new Set(this.transceivers.map((t) => t.mid));
    while (used.has(String(this.#midCounter))) this.#midCounter++;
    return String(this.#midCounter++);
  }

  #needsNegotiation(): boolean {
    return (
      this.#restartPending ||
      this.transceivers.some(
        (t) =>
          t.mid === null ||
          // An answerer compares what it would answer now (webrtc-pc "negotiation needed").
          (t.offered ? answerDirection(t.direction, t.offered) : t.direction) !==
            t.currentDirection,
      )
    );
  }

  #rollback(): void {
    this.log.push('rollback');
    for (const t of this.#offeredMids) t.mid = null;
    this.#offeredMids = [];
    this.localDescription = null;
    this.#setSignaling('stable');
  }

  #remoteTransceiver(kind: 'audio' | 'video'): FakeTransceiver {
    const tx = new FakeTransceiver(this, kind, 'recvonly', new FakeSender(null, []));
    tx.fromRemote = true;
    this.transceivers.push(tx);
    return tx;
  }

  #receive(tx: FakeTransceiver, m: FakeMLine, remoteSends: boolean): void {
    if (!remoteSends || tx.receiving) return;
    tx.receiving = true;
    const id = m.msid ?? `remote-${m.mid}`;
    let stream = this.#remoteStreams.get(id);
    if (!stream) {
      stream = new FakeStream([], id);
      this.#remoteStreams.set(id, stream);
    }
    stream.tracks.push(tx.receiver.track);
    this.ontrack?.({ track: tx.receiver.track, streams: [stream], transceiver: tx });
  }

  #describe(dirOf: (t: FakeTransceiver) => RTCRtpTransceiverDirection, only?: Set<string>): string {
    const mlines: FakeMLine[] = [];
    for (const t of this.transceivers) {
      if (t.mid === null || (only && !only.has(t.mid))) continue;
      const dir = dirOf(t);
      // Chromium names a sender's SSRC even while it has no track; the SIM group once set,
      // unless this fake plays a browser that forgets it.
      const sim = this.keepsSimulcast ? t.sender.simulcast : undefined;
      mlines.push({
        mid: t.mid,
        kind: t.kind,
        dir,
        msid: sends(dir) ? t.sender.streams[0]?.id : undefined,
        ssrcs: sends(dir) ? (sim ?? [t.sender.ssrc]) : undefined,
        simulcast: sends(dir) ? sim : undefined,
      });
    }
    return fakeSdp(mlines, this.#iceRestart);
  }

  #setSignaling(state: RTCSignalingState): void {
    if (this.signalingState === state) return;
    this.signalingState = state;
    this.onsignalingstatechange?.({});
    if (state === 'stable') {
      if (this.localDescription && this.remoteDescription && this.iceConnectionState === 'new')
        queueMicrotask(() => {
          if (this.closed) return;
          this.setIceState('checking');
          this.setIceState('connected');
        });
      this.changed();
    }
  }

  /** One host candidate and the end of candidates, after the first local description. */
  #gather(): void {
    if (this.#gathered) return;
    this.#gathered = true;
    queueMicrotask(() => {
      if (this.closed) return;
      const init = { candidate: `candidate:1 1 udp 1 127.0.0.1 9 typ host`, sdpMid: '0' };
      this.onicecandidate?.({ candidate: { ...init, toJSON: () => init } });
      this.onicecandidate?.({ candidate: null });
    });
  }
}

/** The fake WebRTC, remembering every peer connection it made, and what the screen picker gives. */
export class FakeRtc {
  readonly pcs: FakePeerConnection[] = [];
  /** Whether later answers repeat a SIM group set before (Chromium 156: they do). */
  keepsSimulcast = true;
  /** What the next `getDisplayMedia` resolves to; undefined: the user cancels. */
  nextScreen: () => FakeStream | undefined = () => new FakeStream([new FakeTrack('video')]);

  get last(): FakePeerConnection {
    const pc = this.pcs.at(-1);
    if (!pc) throw new Error('no peer connection was made');
    return pc;
  }

  /** The seam the controllers take, typed as the browser's (the fakes have what they use). */
  get api(): Rtc {
    return {
      createPeerConnection: (config) => {
        const pc = new FakePeerConnection(config, this.keepsSimulcast);
        this.pcs.push(pc);
        return pc as unknown as RTCPeerConnection;
      },
      createMediaStream: (tracks) =>
        new FakeStream(tracks as unknown as FakeTrack[]) as unknown as MediaStream,
      getDisplayMedia: async () => {
        const screen = this.nextScreen();
        if (!screen) throw new Error('NotAllowedError');
        return screen as unknown as MediaStream;
      },
    };
  }
}

/** Lets queued microtasks and timers of zero run, until nothing more happens. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}
