import type { Logger } from '../logging/index.js';
import type { RedisLink } from './redis.js';

/** What a node says of itself in Redis. */
export interface NodeInfo {
  id: string;
  /** Its boot time (ms since the epoch): a node id seen again with another is a new start. */
  startedAt: number;
  /** Its short routing tag, in the call channels it owns (`*` + tag + random). */
  tag: string;
}

export interface NodeRegistryOptions {
  self: NodeInfo;
  link: RedisLink;
  logger: Logger;
  /** How long a heartbeat stands: a node silent this long is gone. */
  ttlMs?: number;
  /** How often this node beats (and looks at the others). */
  beatMs?: number;
  onJoined(node: NodeInfo): void;
  onLeft(node: NodeInfo): void;
}

/**
 * The live nodes of one deployment: each writes its heartbeat (`node:<id>`, with an expiry) and
 * its entry in the `nodes` sorted set (scored by when its heartbeat runs out) every `beatMs`, and
 * reads the set then; a node whose score passed is gone. Clocks of the nodes are taken to agree
 * within a small part of `ttlMs` (NTP).
 */
export class NodeRegistry {
  readonly #nodes = new Map<string, NodeInfo>();
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #beatMs: number;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(private readonly opts: NodeRegistryOptions) {
    this.#log = opts.logger.child({ module: 'nodes' });
    this.#ttlMs = opts.ttlMs ?? 6000;
    this.#beatMs = opts.beatMs ?? 2000;
  }

  get self(): NodeInfo {
    return this.opts.self;
  }

  /** The other live nodes, as this node last read them. */
  others(): NodeInfo[] {
    return [...this.#nodes.values()];
  }

  get(id: string): NodeInfo | undefined {
    return id === this.opts.self.id ? this.opts.self : this.#nodes.get(id);
  }

  /** The live node whose routing tag is `tag`. */
  byTag(tag: string): NodeInfo | undefined {
    if (tag === this.opts.self.tag) return this.opts.self;
    for (const n of this.#nodes.values()) if (n.tag === tag) return n;
    return undefined;
  }

  /** Beats once (registering this node and learning the others), then every `beatMs`. */
  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => {
      this.#beating ??= this.beat()
        .catch((err: Error) => this.#log.warn({ err: err.message }, 'nodes: heartbeat failed'))
        .finally(() => {
          this.#beating = undefined;
        });
    }, this.#beatMs);
    this.#timer.unref();
  }

  async beat(): Promise<void> {
    const { cmd, prefix } = this.opts.link;
    const now = Date.now();
    const self = this.opts.self;
    const replies = await cmd
      .multi()
      .set(`${prefix}node:${self.id}`, JSON.stringify(self), { PX: this.#ttlMs })
      .zAdd(`${prefix}nodes`, { score: now + this.#ttlMs, value: self.id })
      .zRangeByScore(`${prefix}nodes`, now, '+inf')
      .zRemRangeByScore(`${prefix}nodes`, '-inf', now - 10 * this.#ttlMs)
      .exec();
    const live = (replies[2] ?? []) as unknown as string[];
    const ids = [...new Set(live.filter((id) => id !== self.id))];
    const infos = ids.length ? await cmd.mGet(ids.map((id) => `${prefix}node:${id}`)) : [];
    const seen = new Map<string, NodeInfo>();
    infos.forEach((raw) => {
      if (!raw) return;
      try {
        const node = JSON.parse(raw) as NodeInfo;
        if (typeof node?.id === 'string' && typeof node.tag === 'string') seen.set(node.id, node);
      } catch {
        // not one of ours
      }
    });
    for (const [id, node] of this.#nodes) {
      // Gone, or started again (its state there is new).
      if (seen.get(id)?.startedAt === node.startedAt) continue;
      this.#nodes.delete(id);
      this.#log.info({ node: id }, 'nodes: a node left');
      this.opts.onLeft(node);
    }
    for (const [id, node] of seen) {
      if (this.#nodes.has(id)) continue;
      this.#nodes.set(id, node);
      this.#log.info({ node: id }, 'nodes: a node joined');
      this.opts.onJoined(node);
    }
  }

  /** Stops beating and says it is gone, so the others need not wait for its heartbeat. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    const { cmd, prefix } = this.opts.link;
    await cmd
      .multi()
      .del(`${prefix}node:${this.opts.self.id}`)
      .zRem(`${prefix}nodes`, this.opts.self.id)
      .exec()
      .catch(() => undefined);
  }
}
