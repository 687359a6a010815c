import { randomBytes } from 'node:crypto';
import type { PipelineOffer } from '@confab/protocol';

export const newId = (): string => randomBytes(9).toString('base64url');

/** New endpoints per participant and minute after its connection to the bridge failed. */
export const endpointRestartLimit = 3;

/**
 * One member of a conference: who it is, the signaling connection it is reached on and its
 * session (endpoint) on the conference's bridge. Its conference changes its connection and its
 * place in the conference (`Conference`), so that the focus's indexes follow.
 */
export class Participant {
  /** Its signaling connection, or its last one while it is away. */
  conn: string;
  /** Its session: the endpoint on the bridge, new for every peer connection. */
  #endpoint: string;
  /** Muted by the owner: the bridge drops its audio until it unmutes itself. */
  muted = false;
  /** The bridge's last offer to it, until its answer came: sent again when it comes back. */
  offer: PipelineOffer | undefined;
  /** Its endpoint is on the conference's bridge (allocated and not yet released). */
  allocated = false;
  /** Its client can connect directly to the other member of a room of two (`data.p2p`). */
  p2p = false;
  /** When it raised its hand (ms), while the hand is up. */
  hand: number | undefined;
  /** When its signaling connection dropped, while it is away. */
  awayAt: number | undefined;
  /** When its endpoint was last replaced after failing (the bridge said its connection failed). */
  #restarts: number[] = [];
  /**
   * The `pcid` its client's signals carry (kwmjs names its peer connections), and those of its
   * connections before the current session, whose late signals are dropped.
   */
  #clientPcid: string | undefined;
  #stalePcids: string[] = [];

  constructor(
    readonly user: string,
    readonly name: string,
    conn: string,
    readonly guest: boolean,
    readonly joinedAt: number,
    /** The session its prejoin holds already (see `Conference.prejoin`). */
    endpoint = newId(),
  ) {
    this.conn = conn;
    this.#endpoint = endpoint;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  /** A new session on the bridge (its endpoint failed): the last offer is void too. */
  newSession(): void {
    this.#endpoint = newId();
    this.offer = undefined;
  }

  /** A new endpoint on another bridge (its conference moved): the lost bridge's offer is void. */
  moved(): void {
    this.#endpoint = newId();
    this.offer = undefined;
  }

  /** The endpoint is being allocated: the client's next connection names itself afresh. */
  allocating(): void {
    this.allocated = true;
    if (this.#clientPcid !== undefined)
      this.#stalePcids = [...this.#stalePcids, this.#clientPcid].slice(-4);
    this.#clientPcid = undefined;
  }

  /**
   * What a signal's `pcid` says: `stale` (from a connection before this session: dropped),
   * `current`, or `new` (kwmjs dropped its connection and waits for an offer on a new one).
   */
  pcid(pcid: string | undefined): 'stale' | 'current' | 'new' {
    if (pcid === undefined) return 'current';
    if (this.#stalePcids.includes(pcid)) return 'stale';
    this.#clientPcid ??= pcid;
    return this.#clientPcid === pcid ? 'current' : 'new';
  }

  /** A pcid whose later signals are dropped. */
  stale(pcid: string): void {
    this.#stalePcids.push(pcid);
  }

  /** One more endpoint restart, if `endpointRestartLimit` a minute allows it. */
  mayRestart(now = Date.now()): boolean {
    this.#restarts = this.#restarts.filter((t) => now - t < 60_000);
    if (this.#restarts.length >= endpointRestartLimit) return false;
    this.#restarts.push(now);
    return true;
  }
}
