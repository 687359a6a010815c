/**
 * The parts of the browser's WebRTC that the call controllers use, so that unit tests can hand
 * them a fake peer connection (the one seam; everything else runs as in the browser).
 */
export interface Rtc {
  createPeerConnection(config: RTCConfiguration): RTCPeerConnection;
  createMediaStream(tracks: MediaStreamTrack[]): MediaStream;
  /** The browser's screen picker (a rejected promise when the user cancels). */
  getDisplayMedia(): Promise<MediaStream>;
}

export const browserRtc: Rtc = {
  createPeerConnection: (config) => new RTCPeerConnection(config),
  createMediaStream: (tracks) => new MediaStream(tracks),
  getDisplayMedia: () => navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }),
};

/** The events of a peer connection a link may listen to. */
export interface PeerEvents {
  negotiationneeded?: () => void;
  icecandidate?: (candidate: RTCIceCandidate | null) => void;
  track?: (event: RTCTrackEvent) => void;
  signalingstatechange?: () => void;
  iceconnectionstatechange?: () => void;
  connectionstatechange?: () => void;
  /** The other side opened a data channel. */
  datachannel?: (event: RTCDataChannelEvent) => void;
}

/**
 * One RTCPeerConnection and everything that belongs to it: its listeners, its timers, the
 * tracks it alone sends (a shared screen) and the transceivers the controller picked out.
 * `close()` undoes all of it at once, and from then on no listener of it runs, so a late event
 * of an old connection never touches the next one.
 */
export class PeerLink {
  readonly pc: RTCPeerConnection;
  /** The camera's and microphone's senders, once added. */
  senders: { audio?: RTCRtpSender; video?: RTCRtpSender } = {};
  /** The transceiver that sends this side's screen, once there is one. */
  screenTx: RTCRtpTransceiver | undefined;
  #closed = false;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #owned = new Set<MediaStreamTrack>();
  readonly #deferred: (() => void)[] = [];

  constructor(rtc: Rtc, config: RTCConfiguration, events: PeerEvents) {
    const pc = rtc.createPeerConnection(config);
    this.pc = pc;
    const live =
      <A extends unknown[]>(fn: ((...args: A) => void) | undefined) =>
      (...args: A) => {
        if (!this.#closed) fn?.(...args);
      };
    pc.onnegotiationneeded = live(events.negotiationneeded);
    pc.onicecandidate = live((e: RTCPeerConnectionIceEvent) => events.icecandidate?.(e.candidate));
    pc.ontrack = live(events.track);
    pc.onsignalingstatechange = live(events.signalingstatechange);
    pc.oniceconnectionstatechange = live(events.iceconnectionstatechange);
    pc.onconnectionstatechange = live(events.connectionstatechange);
    pc.ondatachannel = live(events.datachannel);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` after `ms` unless the link closes first; the same name replaces a pending one. */
  setTimer(name: string, fn: () => void, ms: number): void {
    this.clearTimer(name);
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        if (!this.#closed) fn();
      }, ms),
    );
  }

  clearTimer(name: string): void {
    clearTimeout(this.#timers.get(name));
    this.#timers.delete(name);
  }

  /** A track this connection alone uses: stopped when it closes. */
  own(track: MediaStreamTrack): void {
    this.#owned.add(track);
  }

  /** Stops an owned track now (sharing ended), keeping the connection. */
  release(track: MediaStreamTrack): void {
    if (this.#owned.delete(track)) track.stop();
  }

  /** Runs `fn` when the link closes (a listener elsewhere that belongs to this connection). */
  defer(fn: () => void): void {
    if (this.#closed) fn();
    else this.#deferred.push(fn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#deferred.splice(0)) fn();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    for (const track of this.#owned) track.stop();
    this.#owned.clear();
    const pc = this.pc;
    pc.onnegotiationneeded = null;
    pc.onicecandidate = null;
    pc.ontrack = null;
    pc.onsignalingstatechange = null;
    pc.oniceconnectionstatechange = null;
    pc.onconnectionstatechange = null;
    pc.ondatachannel = null;
    pc.close();
  }
}
