import type { Logger } from '../logging/index.js';
import type { RedisLink } from './redis.js';

/** Who runs a conference: a node, and the epoch of its lease (a new owner gets a higher one). */
export interface Owner {
  node: string;
  epoch: number;
}

/**
 * Takes the lease, or names who holds it, in one step: two nodes asked at once for the same new
 * room never both own it (Redis runs a script alone). A lease whose node has no heartbeat any
 * more (`node:<id>`, ARGV[3] is its prefix) is taken over. A new lease gets the next epoch.
 */
const acquireScript = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local owner = string.match(cur, '^(%S+)')
  if owner == ARGV[1] or redis.call('EXISTS', ARGV[3] .. owner) == 1 then return cur end
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 86400000)
local v = ARGV[1] .. ' ' .. epoch
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v`;

/** Renews a lease only while it is still this owner's, with this epoch. */
const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** Gives a lease up only if it is still this owner's. */
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface ConferenceLeasesOptions {
  nodeId: string;
  link: RedisLink;
  logger: Logger;
  /** Whether this node still runs the conference of `group` (a lease without one is given up). */
  running(group: string): boolean;
  /** Whether `node` is live (a lease of a node that left is not trusted from the cache). */
  live(node: string): boolean;
  /** A lease this node held was lost (taken over, or Redis restarted empty). */
  onLost?(group: string): void;
  leaseMs?: number;
}

/**
 * One owner per conference: the node that runs its focus holds `conf:<group>` in Redis
 * (set-if-absent with an expiry, renewed every third of it, with an epoch from
 * `confepoch:<group>`); the others relay their members' messages to it. Other nodes' owners are
 * remembered for a second, and not at all once that node left.
 */
export class ConferenceLeases {
  readonly #held = new Map<string, { epoch: number; since: number; renewedAt: number }>();
  readonly #known = new Map<string, { owner: Owner; at: number }>();
  readonly #pending = new Map<string, Promise<Owner>>();
  readonly #log: Logger;
  readonly #leaseMs: number;
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly opts: ConferenceLeasesOptions) {
    this.#log = opts.logger.child({ module: 'leases' });
    this.#leaseMs = opts.leaseMs ?? 10_000;
    this.#timer = setInterval(() => void this.#renew(), Math.round(this.#leaseMs / 3));
    this.#timer.unref();
  }

  #key(group: string): string {
    return `${this.opts.link.prefix}conf:${group}`;
  }

  /** The owner of `group` as known without asking Redis, if it is. */
  cached(group: string): Owner | undefined {
    const held = this.#held.get(group);
    if (held) return { node: this.opts.nodeId, epoch: held.epoch };
    const known = this.#known.get(group);
    if (!known || Date.now() - known.at > 1000 || !this.opts.live(known.owner.node)) {
      this.#known.delete(group);
      return undefined;
    }
    return known.owner;
  }

  holds(group: string): boolean {
    return this.#held.has(group);
  }

  /**
   * The owner of `group`: with `create`, this node if nobody held it (one question to Redis per
   * group at a time); without, whoever holds it, or undefined.
   */
  ownerOf(group: string, create = true): Promise<Owner | undefined> {
    const cached = this.cached(group);
    if (cached) return Promise.resolve(cached);
    if (!create) return this.#find(group);
    let pending = this.#pending.get(group);
    if (!pending) {
      pending = this.#acquire(group).finally(() => this.#pending.delete(group));
      this.#pending.set(group, pending);
    }
    return pending;
  }

  async #find(group: string): Promise<Owner | undefined> {
    const raw = await this.opts.link.cmd.get(this.#key(group));
    if (!raw) return undefined;
    const owner = parseOwner(raw);
    if (!this.opts.live(owner.node)) return undefined;
    if (owner.node !== this.opts.nodeId) this.#known.set(group, { owner, at: Date.now() });
    return owner;
  }

  async #acquire(group: string): Promise<Owner> {
    const { cmd, prefix } = this.opts.link;
    const raw = (await cmd.eval(acquireScript, {
      keys: [this.#key(group), `${prefix}confepoch:${group}`],
      arguments: [this.opts.nodeId, String(this.#leaseMs), `${prefix}node:`],
    })) as string;
    const owner = parseOwner(raw);
    if (owner.node === this.opts.nodeId) {
      if (!this.#held.has(group)) this.#log.info({ group, epoch: owner.epoch }, 'lease taken');
      const now = Date.now();
      this.#held.set(group, { epoch: owner.epoch, since: now, renewedAt: now });
    } else this.#known.set(group, { owner, at: Date.now() });
    return owner;
  }

  async #renew(): Promise<void> {
    const now = Date.now();
    for (const [group, known] of this.#known) if (now - known.at > 1000) this.#known.delete(group);
    if (this.#held.size === 0) return;
    const { cmd } = this.opts.link;
    // Not renewed for a whole lease (Redis away): another node may hold it now.
    for (const [group, lease] of this.#held) {
      if (now - lease.renewedAt < this.#leaseMs) continue;
      this.#held.delete(group);
      this.opts.onLost?.(group);
    }
    const pipe = cmd.multi();
    const groups: [string, 'renew' | 'release'][] = [];
    for (const [group, lease] of this.#held) {
      const value = `${this.opts.nodeId} ${lease.epoch}`;
      if (!this.opts.running(group) && now - lease.since > this.#leaseMs) {
        pipe.eval(releaseScript, { keys: [this.#key(group)], arguments: [value] });
        groups.push([group, 'release']);
        this.#held.delete(group);
      } else {
        pipe.eval(renewScript, {
          keys: [this.#key(group)],
          arguments: [value, String(this.#leaseMs)],
        });
        groups.push([group, 'renew']);
      }
    }
    let results: unknown[];
    try {
      results = await pipe.execAsPipeline();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'leases: not renewed');
      return;
    }
    results.forEach((ok, i) => {
      const [group, what] = groups[i] ?? [];
      if (!group || what !== 'renew') return;
      const lease = this.#held.get(group);
      if (ok === 1) {
        if (lease) lease.renewedAt = now;
        return;
      }
      this.#held.delete(group);
      this.#log.warn({ group }, 'leases: a lease was lost');
      this.opts.onLost?.(group);
    });
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Gives up every lease this node holds (it is stopping). */
  async releaseAll(): Promise<void> {
    if (this.#held.size === 0) return;
    const pipe = this.opts.link.cmd.multi();
    for (const [group, lease] of this.#held)
      pipe.eval(releaseScript, {
        keys: [this.#key(group)],
        arguments: [`${this.opts.nodeId} ${lease.epoch}`],
      });
    this.#held.clear();
    await pipe.execAsPipeline().catch(() => undefined);
  }
}

function parseOwner(raw: string): Owner {
  const [node = '', epoch = '0'] = String(raw).split(' ');
  return { node, epoch: Number(epoch) };
}
