import { randomInt } from 'node:crypto';
import type { StreamSource } from '@confab/protocol';
import type ndc from 'node-datachannel';
import type { Endpoint } from './Endpoint.js';
import { Layer } from './Layer.js';
import { safely } from './native.js';
import { pictureLossIndication } from './rtp.js';
import type { Slot } from './Slot.js';

export { nackCacheSize } from './Layer.js';

/** Dynacast: a source no receiver has needed for this long is paused at its publisher. */
export const dynacastPauseMs = 5000;

export const kindOf = (s: StreamSource): 'audio' | 'video' =>
  s === 'microphone' ? 'audio' : 'video';

/**
 * A stream one participant sends up, on one of its endpoint's own recvonly m-lines: its packets
 * go to every slot that forwards it (`sinks`, kept by the receivers' endpoints).
 *
 * Its RTP streams are `layers`: a simulcast camera's spatial layers, lowest first, bound to
 * the SSRCs its client's answer listed in `a=ssrc-group:SIM` (bound at once: the MID and RID
 * header extensions ride only on each SSRC's first packets); any other stream has one layer,
 * bound to the SSRC its packets come with (a new SSRC is the publisher restarting it).
 */
export class Source {
  readonly sinks = new Set<Slot>();
  readonly kind: 'audio' | 'video';
  /** Lowest first. Replaced whole when the client's answer lists other SSRCs. */
  layers: Layer[] = [];
  /** A microphone's silent packets not forwarded so far (mod 2^16): what its later packets'
   * sequence numbers are moved back by before they are rewritten for each receiver. */
  silenced = 0;
  /** The SSRC the bridge's own RTCP to this publisher comes from. */
  readonly localSsrc = randomInt(1, 0xffffffff);
  #simulcast = false;
  /** Dynacast: what its publisher was last told to send, per encoding (undefined: not known,
   * so the next round tells it), and when a receiver last needed it (performance.now()). */
  #sending: boolean[] | undefined;
  #neededAt: number | undefined;
  #active = false;
  #muted = false;
  readonly #requestKeyframe = (layer: Layer): void => {
    const track = this.track;
    if (track.isOpen() && layer.ssrc)
      safely(() => track.sendMessageBinary(pictureLossIndication(this.localSsrc, layer.ssrc)));
  };

  constructor(
    readonly endpoint: Endpoint,
    readonly source: StreamSource,
    readonly track: ndc.Track,
  ) {
    this.kind = kindOf(source);
  }

  /** Whether its layers are a simulcast group named in the answer. */
  get simulcast(): boolean {
    return this.#simulcast;
  }

  /**
   * The SSRCs its client's answer named for it, lowest layer first (`a=ssrc-group:SIM`); fewer
   * than two: no simulcast, layers follow the packets. Unchanged SSRCs keep their layers.
   */
  bindSimulcast(ssrcs: readonly number[]): boolean {
    const simulcast = ssrcs.length > 1;
    if (simulcast === this.#simulcast && (!simulcast || sameSsrcs(this.layers, ssrcs)))
      return false;
    for (const layer of this.layers) layer.close();
    this.#simulcast = simulcast;
    this.layers = simulcast
      ? ssrcs.map((ssrc, i) => new Layer(ssrc, i, this.kind === 'video', this.#requestKeyframe))
      : [];
    return true;
  }

  /** The layer a packet with `ssrc` belongs to, or undefined for an SSRC of no layer. */
  layerOf(ssrc: number): Layer | undefined {
    const layers = this.layers;
    for (let i = 0; i < layers.length; i++) if (layers[i]?.ssrc === ssrc) return layers[i];
    if (this.#simulcast) return undefined;
    // Without simulcast a new SSRC is the first, or the same stream restarted: a new layer.
    layers[0]?.close();
    const layer = new Layer(ssrc, 0, this.kind === 'video', this.#requestKeyframe);
    this.layers = [layer];
    return layer;
  }

  /**
   * Dynacast: what its publisher should send when receivers need up to layer `highest` (-1:
   * none): every layer while any receiver needs any, none once nobody has for
   * `dynacastPauseMs`. Returns the new list (lowest first, one per layer, at least one) when it
   * differs from what the publisher was last told, else undefined.
   *
   * Whole sources, not layers: Chromium 156 re-initialises a simulcast camera's encoder on any
   * change of an encoding's `active`, which gives every layer a keyframe and holds its frames
   * for 200-260 ms (docs/architecture.md), so every receiver of that publisher would freeze at
   * each pin or speaker change. A source nobody receives stalls nobody when it stops or starts.
   * The layers above what receivers need go off through the publisher's REMB instead, which
   * leaves no room for them (`Forwarder`): Chromium's bitrate allocator suspends a layer it
   * cannot fund without touching the others.
   */
  dynacast(highest: number, now: number): boolean[] | undefined {
    const count = Math.max(1, this.layers.length);
    if (highest >= 0 || this.#neededAt === undefined) this.#neededAt = now;
    const on = now - this.#neededAt < dynacastPauseMs;
    const next = Array.from({ length: count }, () => on);
    // Told whenever what it sends is not known (a new or restarted source, a reopened channel,
    // another number of layers): telling it again what it does changes nothing at the client.
    const told = this.#sending;
    if (told?.length === count && told.every((was, i) => was === next[i])) return undefined;
    this.#sending = next;
    this.pausedSince = on ? Number.POSITIVE_INFINITY : now;
    return next;
  }

  /**
   * When dynacast told its publisher to send none of it (performance.now(); infinity while it
   * sends). Its video still arriving a second later means the publisher sends anyway (the web
   * app turns every encoding on when it comes back from a direct pair): it is told again.
   */
  pausedSince = Number.POSITIVE_INFINITY;

  /** Dynacast told its publisher to send none of it (it is quiet because nobody watches). */
  get paused(): boolean {
    return this.#sending?.every((on) => !on) === true;
  }

  /** Its publisher's media channel (re)opened: it is told again what to send. */
  resetDynacast(): void {
    this.#sending = undefined;
    this.pausedSince = Number.POSITIVE_INFINITY;
  }

  /** Asks for a keyframe on every layer (rate-limited per layer). */
  requestKeyframes(): void {
    for (const layer of this.layers) layer.keyframes.request();
  }

  /**
   * Forwarded: a camera or microphone from its first packet (so that nobody gets an m-line for
   * one that sends nothing, such as a receive-only participant's); a screen from the client's
   * `screenshare` start to its stop, never by its packets (some still arrive after the stop).
   */
  get active(): boolean {
    return this.#active;
  }

  /** Whether this changed anything (the conference then attaches or detaches it). */
  setActive(active: boolean): boolean {
    if (this.#active === active) return false;
    this.#active = active;
    // A share started again is needed from its start, not paused by the last one's history.
    this.#neededAt = undefined;
    this.resetDynacast();
    return true;
  }

  /** The owner muted this participant: its audio is not forwarded. */
  get muted(): boolean {
    return this.#muted;
  }

  setMuted(muted: boolean): void {
    this.#muted = muted;
  }

  close(): void {
    for (const layer of this.layers) layer.close();
  }
}

function sameSsrcs(layers: readonly Layer[], ssrcs: readonly number[]): boolean {
  return layers.length === ssrcs.length && layers.every((l, i) => l.ssrc === ssrcs[i]);
}
