import type { Endpoint } from './Endpoint.js';
import type { Source } from './Source.js';
import { SpeakerDetector } from './SpeakerDetector.js';

/** How many recent speakers rank ahead of those not heard (for the layers they get). */
const maxSpeakerOrder = 8;
const never = Number.POSITIVE_INFINITY;

/**
 * The endpoints of one conference on this bridge (ids are the focus's), and who forwards what
 * to whom: an active source has a slot at every other endpoint.
 */
export class Conference {
  readonly speakers = new SpeakerDetector();
  readonly #endpoints = new Map<string, Endpoint>();
  /**
   * Every endpoint id, the latest dominant speaker first, then the one before…, then those never
   * heard in the order they joined (as Jitsi Videobridge orders its last-N), with each id's
   * place; and how many at the front were heard.
   */
  #order: string[] = [];
  readonly #place = new Map<string, number>();
  #heard = 0;

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
    const at = this.#place.get(endpointId);
    if (at === undefined) return;
    if (at >= this.#heard) this.#heard++;
    this.#order = [endpointId, ...this.#order.filter((id) => id !== endpointId)];
    this.#renumber();
  }

  /** 0 for the dominant speaker, 1 for the one before…; Infinity for someone not heard lately. */
  speakerRank(endpointId: string): number {
    const at = this.#place.get(endpointId) ?? never;
    return at < this.#heard && at < maxSpeakerOrder ? at : never;
  }

  /**
   * Its place in the last-N order: the latest speakers first, then those never heard by when
   * they joined (0 first; Infinity: not in the conference).
   */
  lastNRank(endpointId: string): number {
    return this.#place.get(endpointId) ?? never;
  }

  #renumber(): void {
    this.#place.clear();
    for (const [i, id] of this.#order.entries()) this.#place.set(id, i);
  }

  /** A new participant: it gets everyone's active streams in its first offer. */
  add(ep: Endpoint): void {
    this.#endpoints.set(ep.id, ep);
    if (!this.#place.has(ep.id)) {
      this.#place.set(ep.id, this.#order.length);
      this.#order.push(ep.id);
    }
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
    for (const other of affected) other.negotiateSoon();
    this.#endpoints.delete(id);
    this.speakers.remove(id);
    const at = this.#place.get(id);
    if (at !== undefined && at < this.#heard) this.#heard--;
    this.#order = this.#order.filter((s) => s !== id);
    this.#renumber();
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
      other.negotiateSoon();
    }
  }

  /** The owner muted (or unmuted) a participant's microphone. */
  mute(src: Source, muted: boolean): void {
    src.setMuted(muted);
    if (muted) this.speakers.remove(src.endpoint.id);
  }
}
