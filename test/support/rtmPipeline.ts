import {
  type BridgeMessage,
  type FocusMessage,
  type ForwardedStream,
  pipelinePeerId,
  type ServerMessage,
} from '@confab/protocol';
import type { PeerSignaling } from './bridgeHarness.js';
import type { LooseWebrtcFrame, RtmClient } from './rtmClient.js';

/**
 * A synthetic peer's way to the bridge through a real focus: the signaling a client speaks in a
 * group (docs/protocol.md "Group calls"), shown to `SyntheticPeer` as the control protocol it
 * knows. `allocate` joins the group; `answer` and `candidate` go to the pipeline peer; the
 * pipeline's offers and candidates come back as `offer` and `candidate` for (group, name),
 * whatever session the focus gives it. Everything else the client hears is in `others`.
 */
export class RtmPipeline implements PeerSignaling {
  readonly others: ServerMessage[] = [];
  /** Offers and candidates from the pipeline, as bridge messages, until taken. */
  readonly #queue: BridgeMessage[] = [];
  #waiters: { match: (m: BridgeMessage) => boolean; resolve: (m: BridgeMessage) => void }[] = [];
  #takers: ((m: BridgeMessage) => boolean)[] = [];
  #hash = '';
  /** Every session (bridge endpoint) the focus gave this peer, in order. */
  readonly sessions: string[] = [];

  constructor(
    readonly client: RtmClient,
    readonly group: string,
    readonly name: string,
  ) {
    client.listen((m) => this.#receive(m));
  }

  /** Joins and waits for the channel's hash, which signals to the pipeline carry. */
  async join(): Promise<void> {
    this.client.send({
      type: 'webrtc',
      subtype: 'webrtc_group',
      target: this.group,
      group: this.group,
      state: 'synthetic',
    });
    const deadline = Date.now() + 10_000;
    while (!this.#hash) {
      if (Date.now() > deadline) throw new Error(`${this.name} got no channel for ${this.group}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A signal to the pipeline peer; its id. */
  signal(data: unknown): number {
    return this.client.send({
      type: 'webrtc',
      subtype: 'webrtc_signal',
      target: pipelinePeerId,
      group: this.group,
      channel: `@${this.group}`,
      hash: this.#hash,
      data,
    });
  }

  send(m: FocusMessage): void {
    if (m.type === 'allocate') void this.join();
    else if (m.type === 'answer') this.signal({ type: 'answer', sdp: m.sdp });
    else if (m.type === 'candidate')
      this.signal({ candidate: { candidate: m.candidate, sdpMid: m.mid } });
  }

  next(match: (m: BridgeMessage) => boolean, timeoutMs = 10_000): Promise<BridgeMessage> {
    const i = this.#queue.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0] as BridgeMessage);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no such signal`)), timeoutMs);
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

  take(take: (m: BridgeMessage) => boolean): void {
    this.#takers.push(take);
  }

  #receive(m: ServerMessage): void {
    if (m.type === 'webrtc' && m.subtype === 'webrtc_channel' && m.hash && m.group === this.group)
      this.#hash = m.hash;
    const bridged = this.#fromPipeline(m);
    if (!bridged) {
      this.others.push(m);
      return;
    }
    if (this.#takers.some((take) => take(bridged))) return;
    const w = this.#waiters.find((x) => x.match(bridged));
    if (w) {
      this.#waiters = this.#waiters.filter((x) => x !== w);
      w.resolve(bridged);
    } else this.#queue.push(bridged);
  }

  #fromPipeline(m: ServerMessage): BridgeMessage | undefined {
    if (m.type !== 'webrtc' || m.subtype !== 'webrtc_signal' || m.source !== pipelinePeerId)
      return undefined;
    const data = (m as LooseWebrtcFrame).data as {
      type?: string;
      sdp?: string;
      streams?: Record<string, ForwardedStream>;
      session?: string;
      candidate?: { candidate: string; sdpMid?: string };
    };
    const ids = { conference: this.group, endpoint: this.name };
    if (data.type === 'offer' && data.sdp) {
      if (data.session && this.sessions.at(-1) !== data.session) this.sessions.push(data.session);
      return { type: 'offer', ...ids, sdp: data.sdp, streams: data.streams ?? {} };
    }
    if (data.candidate)
      return {
        type: 'candidate',
        ...ids,
        candidate: data.candidate.candidate,
        mid: data.candidate.sdpMid ?? '',
      };
    return undefined;
  }
}
