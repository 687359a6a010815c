import type { Endpoint } from './Endpoint.js';
import type { Source } from './Source.js';
import { SpeakerDetector } from './SpeakerDetector.js';

/** How many recent speakers rank ahead of those not heard (for the layers they get). */
const maxSpeakerOrder = 8;

/**
 * The endpoints of one conference on this bridge (ids are the focus's), and who forwards what
 * to whom: an active source has a slot at every other endpoint.
 */
export class Conference {
  readonly speakers = new SpeakerDetector();
  readonly #endpoints = new Map<string, Endpoint>();
  /** Endpoint ids of the latest dominant speakers, latest first. */
  #speakerOrder: string[] = [];

  constructor(readonly id: string) {}

  get size(): number {
    return this.#endpoints.size;
  }

  endpoint(id: string): Endpoint | undefined {
    return this.#endpoints.get(id);
  }

  endpoints(): IterableIterator<Endpoint> {
    return this.#endpoints.values();
  }

  /** The detector named a new dominant speaker. */
  spoke(endpointId: string): void {
    this.#speakerOrder = [endpointId, ...this.#speakerOrder.filter((id) => id !== endpointId)];
    this.#speakerOrder.length = Math.min(this.#speakerOrder.length, maxSpeakerOrder);
  }

  /** 0 for the dominant speaker, 1 for the one before…; Infinity for someone not heard lately. */
  speakerRank(endpointId: string): number {
    const i = this.#speakerOrder.indexOf(endpointId);
    return i < 0 ? Number.POSITIVE_INFINITY : i;
  }

  /** A new participant: it gets everyone's active streams in its first offer. */
  add(ep: Endpoint): void {
    this.#endpoints.set(ep.id, ep);
    for (const other of this.#endpoints.values()) {
      if (other === ep) continue;
      for (const src of other.sources()) if (src.active) ep.attach(src);
    }
    ep.negotiate();
  }

  /**
   * A participant left: the close cascade. Its endpoint closes (its sources stop, its slots
   * leave the sources they forwarded, its peer connection closes), every slot that forwarded
   * one of its sources is freed, and those receivers are offered their session without them.
   */
  remove(id: string): void {
    const ep = this.#endpoints.get(id);
    if (!ep || ep.closed) return;
    const affected = new Set<Endpoint>();
    for (const src of ep.sources()) {
      for (const slot of [...src.sinks]) {
        slot.endpoint.detach(src);
        affected.add(slot.endpoint);
      }
    }
    ep.close();
    for (const other of affected) other.negotiate();
    this.#endpoints.delete(id);
    this.speakers.remove(id);
    this.#speakerOrder = this.#speakerOrder.filter((s) => s !== id);
  }

  /**
   * The conference ended: every endpoint closes quietly. No one is offered a session without the
   * others (with each `remove()` renegotiating with all who remain, that was N² offers made).
   */
  close(): void {
    for (const ep of this.#endpoints.values()) {
      ep.close();
      this.speakers.remove(ep.id);
    }
    this.#endpoints.clear();
  }

  /** A source started or stopped: every other endpoint gets (or frees) a slot for it. */
  setActive(src: Source, active: boolean): void {
    if (!src.setActive(active)) return;
    for (const other of this.#endpoints.values()) {
      if (other === src.endpoint || other.closed) continue;
      if (active) other.attach(src);
      else other.detach(src);
      other.negotiate();
    }
  }

  /** The owner muted (or unmuted) a participant's microphone. */
  mute(src: Source, muted: boolean): void {
    src.setMuted(muted);
    if (muted) this.speakers.remove(src.endpoint.id);
  }
}
