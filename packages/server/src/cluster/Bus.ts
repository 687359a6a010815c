import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/index.js';
import type { RedisLink } from './redis.js';

/** What one node hands another: messages numbered per sender and receiver. */
interface Envelope {
  /** The sender node. */
  f: string;
  /** The sender's boot: a node that started again numbers from 1 under a new one. */
  b: string;
  /** Data: the first message's number; tick: the last number sent. */
  s: number;
  /** Data: the messages, numbered s, s+1, … */
  m?: unknown[];
  /** `t`: a tick (the sender's last number, for a receiver to notice what it missed); `a`: an
   * acknowledgement (the receiver has everything up to `s`). */
  k?: 't' | 'a';
}

export interface BusOptions {
  nodeId: string;
  link: RedisLink;
  logger: Logger;
  /** A message from another node, in the order that node sent it. */
  onMessage(from: string, message: unknown): void;
  /**
   * Messages from `from` were lost beyond repair (its backlog no longer holds them): what this
   * node learnt from it must be read again from the shared state.
   */
  onLost(from: string): void;
  /** Messages kept per sender and receiver for repairs. */
  backlogSize?: number;
  /** How long they are kept. */
  backlogTtlMs?: number;
  /** How often acknowledgements and ticks go out. */
  tickMs?: number;
}

interface Outbox {
  /** A new one each time the box is made (a node forgotten and met again numbers from 1). */
  boot: string;
  seq: number;
  acked: number;
  queue: unknown[];
  /** When the last data or tick went out (performance.now()). */
  sentAt: number;
}

interface Inbox {
  boot: string;
  /** The number of the next message expected. */
  next: number;
  acked: number;
  /** Envelopes that came while a repair ran, handled after it. */
  held: Envelope[] | undefined;
}

/**
 * Messages between nodes over Redis pub/sub, which delivers at most once and drops a subscriber
 * that falls behind (its output buffer, 32 MB by default, overflows and Redis cuts it off
 * without a word). So each message is numbered per sender and receiver and also kept, for a
 * minute, in a backlog list in Redis; the receiver acknowledges what it has, the sender ticks
 * with its last number while something is unacknowledged, and a receiver that sees a number
 * beyond the next it expects reads what it missed from the backlog before going on. What the
 * backlog no longer holds is reported (`onLost`) so the receiver reads that node's state again.
 *
 * Messages given in one turn of the event loop go to a node as one envelope: one MULTI of
 * RPUSH, LTRIM, PEXPIRE and PUBLISH.
 */
export class Bus {
  readonly #out = new Map<string, Outbox>();
  readonly #in = new Map<string, Inbox>();
  readonly #log: Logger;
  readonly #backlogSize: number;
  readonly #backlogTtlMs: number;
  readonly #timer: NodeJS.Timeout;
  #flushing = false;
  #closed = false;
  /** Messages this node repaired from backlogs, and losses it reported. */
  repaired = 0;
  lost = 0;

  constructor(private readonly opts: BusOptions) {
    this.#log = opts.logger.child({ module: 'bus' });
    this.#backlogSize = opts.backlogSize ?? 10_000;
    this.#backlogTtlMs = opts.backlogTtlMs ?? 60_000;
    this.#timer = setInterval(() => this.#tick(), opts.tickMs ?? 1000);
    this.#timer.unref();
  }

  #channel(node: string): string {
    return `${this.opts.link.prefix}bus:${node}`;
  }

  #backlog(from: string, to: string): string {
    return `${this.opts.link.prefix}backlog:${from}:${to}`;
  }

  /** Subscribes to this node's channel. */
  async start(): Promise<void> {
    await this.opts.link.sub.subscribe(this.#channel(this.opts.nodeId), (raw: string) => {
      let env: Envelope;
      try {
        env = JSON.parse(raw) as Envelope;
      } catch {
        return;
      }
      if (typeof env?.f !== 'string' || typeof env.s !== 'number') return;
      this.#receive(env);
    });
  }

  /** Sends `message` to node `to`; it arrives in order with what else this node sent it. */
  send(to: string, message: unknown): void {
    if (this.#closed) return;
    let box = this.#out.get(to);
    if (!box) {
      box = { boot: randomBytes(6).toString('base64url'), seq: 0, acked: 0, queue: [], sentAt: 0 };
      this.#out.set(to, box);
    }
    box.queue.push(message);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** A node that left: what was kept for it and from it is forgotten. */
  forget(node: string): void {
    this.#out.delete(node);
    this.#in.delete(node);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #flush(): void {
    this.#flushing = false;
    const cmd = this.opts.link.cmd;
    for (const [to, box] of this.#out) {
      if (box.queue.length === 0) continue;
      const env: Envelope = { f: this.opts.nodeId, b: box.boot, s: box.seq + 1, m: box.queue };
      box.seq += box.queue.length;
      box.queue = [];
      box.sentAt = performance.now();
      const raw = JSON.stringify(env);
      const key = this.#backlog(this.opts.nodeId, to);
      cmd
        .multi()
        .rPush(key, raw)
        .lTrim(key, -this.#backlogSize, -1)
        .pExpire(key, this.#backlogTtlMs)
        .publish(this.#channel(to), raw)
        .exec()
        .catch((err: Error) =>
          // Not published: the receiver finds the gap at the next tick (if the backlog write
          // failed too, it reads the shared state again).
          this.#log.debug({ to, err: err.message }, 'bus: send failed'),
        );
    }
  }

  /** Acknowledgements for what came in; ticks for what went out and is not acknowledged. */
  #tick(): void {
    const now = performance.now();
    for (const [from, box] of this.#in) {
      if (box.next - 1 > box.acked) {
        box.acked = box.next - 1;
        this.#control(from, { f: this.opts.nodeId, b: box.boot, s: box.acked, k: 'a' });
      }
    }
    for (const [to, box] of this.#out) {
      if (box.seq > box.acked && now - box.sentAt >= 500) {
        box.sentAt = now;
        this.#control(to, { f: this.opts.nodeId, b: box.boot, s: box.seq, k: 't' });
      }
    }
  }

  #control(to: string, env: Envelope): void {
    this.opts.link.cmd
      .publish(this.#channel(to), JSON.stringify(env))
      .catch((err: Error) => this.#log.debug({ to, err: err.message }, 'bus: control failed'));
  }

  #receive(env: Envelope): void {
    if (env.k === 'a') {
      const box = this.#out.get(env.f);
      if (box && box.boot === env.b && env.s > box.acked) box.acked = env.s;
      return;
    }
    let box = this.#in.get(env.f);
    if (!box || box.boot !== env.b) {
      // First word from this sender (or it numbers anew): its numbers count from here. Not from
      // 1: what it said before may be a minute old, meant for an earlier run of this node; but
      // what this node should know of it is read again (onLost), since that may be lost too.
      const first = env.k === 't' ? env.s + 1 : env.s;
      box = { boot: env.b, next: first, acked: 0, held: undefined };
      this.#in.set(env.f, box);
      if (first > 1) this.opts.onLost(env.f);
      if (env.k === 't') return;
    }
    if (box.held) {
      box.held.push(env);
      return;
    }
    this.#take(env.f, box, env);
  }

  /** Handles an envelope in order: delivers what is new, repairs a gap before it first. */
  #take(from: string, box: Inbox, env: Envelope): void {
    const last = env.k === 't' ? env.s : env.s + (env.m?.length ?? 0) - 1;
    if (last < box.next) return; // nothing new (a duplicate, or a tick for what it has)
    if (env.s > box.next || (env.k === 't' && env.s >= box.next)) {
      box.held = [env];
      void this.#repair(from, box);
      return;
    }
    this.#deliver(from, box, env);
  }

  /** Delivers what of `env` is new; returns how many. */
  #deliver(from: string, box: Inbox, env: Envelope): number {
    if (env.k === 't' || !env.m) return 0;
    let n = 0;
    for (let i = 0; i < env.m.length; i++) {
      if (env.s + i < box.next) continue;
      box.next = env.s + i + 1;
      n++;
      try {
        this.opts.onMessage(from, env.m[i]);
      } catch (err) {
        this.#log.error({ err, from }, 'bus: a message failed');
      }
    }
    return n;
  }

  /** Reads what was missed from `from` from its backlog, then what was held meanwhile. */
  async #repair(from: string, box: Inbox): Promise<void> {
    let entries: string[] = [];
    try {
      entries = await this.opts.link.cmd.lRange(this.#backlog(from, this.opts.nodeId), 0, -1);
    } catch (err) {
      this.#log.warn({ from, err: (err as Error).message }, 'bus: backlog unreadable');
    }
    if (this.#in.get(from) !== box) return; // forgotten meanwhile
    const backlog = entries
      .map((raw) => {
        try {
          return JSON.parse(raw) as Envelope;
        } catch {
          return undefined;
        }
      })
      .filter((e): e is Envelope => e?.b === box.boot && Array.isArray(e.m));
    const held = box.held ?? [];
    box.held = undefined;
    let lost = false;
    const skipTo = (next: number) => {
      lost = true;
      box.next = next;
    };
    const first = backlog[0];
    if (first && first.s > box.next) skipTo(first.s);
    for (const env of backlog) this.repaired += this.#deliver(from, box, env);
    for (const env of held) {
      if (env.k === 't') {
        // The sender sent up to here, and neither the backlog nor the channel had it.
        if (env.s >= box.next) skipTo(env.s + 1);
        continue;
      }
      if (env.s > box.next) skipTo(env.s);
      this.#deliver(from, box, env);
    }
    if (lost) {
      this.lost++;
      this.#log.warn({ from }, 'bus: messages lost beyond the backlog; reading state again');
      this.opts.onLost(from);
    }
  }
}
