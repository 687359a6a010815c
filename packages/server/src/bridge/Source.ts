import { randomInt } from 'node:crypto';
import type { StreamSource } from '@confab/protocol';
import type ndc from 'node-datachannel';
import type { Endpoint } from './Endpoint.js';
import { KeyframeGate } from './KeyframeGate.js';
import { LossTracker } from './LossTracker.js';
import { safely } from './native.js';
import { PacketCache } from './PacketCache.js';
import { ReceiveStats } from './ReceiveStats.js';
import { pictureLossIndication } from './rtp.js';
import type { Slot } from './Slot.js';

/** Packets kept per published video stream to answer NACKs (about 1.5 s at 1.7 Mbit/s). */
export const nackCacheSize = 256;

export const kindOf = (s: StreamSource): 'audio' | 'video' =>
  s === 'microphone' ? 'audio' : 'video';

/**
 * A stream one participant sends up, on one of its endpoint's own recvonly m-lines: its packets
 * go to every slot that forwards it (`sinks`, kept by the receivers' endpoints).
 */
export class Source {
  readonly sinks = new Set<Slot>();
  readonly keyframes: KeyframeGate;
  readonly kind: 'audio' | 'video';
  /** Recent video packets, for receivers' NACKs. */
  readonly cache: PacketCache | undefined;
  /** Video packets lost on the way from the publisher, asked for again. */
  readonly loss: LossTracker | undefined;
  /** What arrived, for the receiver reports the bridge sends the publisher. */
  readonly stats: ReceiveStats;
  /** The SSRC the bridge's own RTCP to this publisher comes from. */
  readonly localSsrc = randomInt(1, 0xffffffff);
  #active = false;
  #muted = false;

  constructor(
    readonly endpoint: Endpoint,
    readonly source: StreamSource,
    readonly track: ndc.Track,
  ) {
    this.kind = kindOf(source);
    this.cache = source === 'microphone' ? undefined : new PacketCache(nackCacheSize);
    this.loss = source === 'microphone' ? undefined : new LossTracker();
    this.stats = new ReceiveStats(source === 'microphone' ? 48_000 : 90_000);
    this.keyframes = new KeyframeGate(() => {
      if (track.isOpen() && this.stats.ssrc)
        safely(() =>
          track.sendMessageBinary(pictureLossIndication(this.localSsrc, this.stats.ssrc)),
        );
    });
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
    this.keyframes.close();
  }
}
