import type { Conference } from './Conference.js';

/** Adds `conf` to the set under `key` (or takes it out, dropping a set left empty). */
function setIndexed(
  index: Map<string, Set<Conference>>,
  key: string,
  conf: Conference,
  present: boolean,
): void {
  let set = index.get(key);
  if (present) {
    if (!set) {
      set = new Set();
      index.set(key, set);
    }
    set.add(conf);
  } else if (set?.delete(conf) && set.size === 0) index.delete(key);
}

/**
 * The focus's one index of its conferences: by group and id, and the conferences each
 * connection and each user is in. Conferences tell it when a member is seated or unseated and
 * when a member's connection comes or goes; it remembers every key it holds for a conference,
 * so that removing the conference removes them all and nothing is left behind.
 */
export class ConferenceIndex {
  readonly #byGroup = new Map<string, Conference>();
  readonly #byId = new Map<string, Conference>();
  /** The conferences each connection is in, so that a closing connection finds them at once. */
  readonly #byConn = new Map<string, Set<Conference>>();
  /** The conferences each user is a member of, over all their connections. */
  readonly #byUser = new Map<string, Set<Conference>>();
  /** The connection and user keys held for each conference. */
  readonly #keys = new Map<Conference, { conns: Set<string>; users: Set<string> }>();

  add(conf: Conference): void {
    this.#byGroup.set(conf.group, conf);
    this.#byId.set(conf.id, conf);
    this.#keys.set(conf, { conns: new Set(), users: new Set() });
  }

  /** Forgets the conference and every key held for it. */
  remove(conf: Conference): void {
    const keys = this.#keys.get(conf);
    if (!keys) return;
    this.#keys.delete(conf);
    if (this.#byGroup.get(conf.group) === conf) this.#byGroup.delete(conf.group);
    this.#byId.delete(conf.id);
    for (const c of keys.conns) setIndexed(this.#byConn, c, conf, false);
    for (const u of keys.users) setIndexed(this.#byUser, u, conf, false);
  }

  /** A member of `conf` is reached on `connId` (`present`), or no longer. */
  connection(conf: Conference, connId: string, present: boolean): void {
    const keys = this.#keys.get(conf);
    if (!keys) return;
    if (present) keys.conns.add(connId);
    else keys.conns.delete(connId);
    setIndexed(this.#byConn, connId, conf, present);
  }

  /** `user` is a member of `conf` (`present`), or no longer. */
  user(conf: Conference, user: string, present: boolean): void {
    const keys = this.#keys.get(conf);
    if (!keys) return;
    if (present) keys.users.add(user);
    else keys.users.delete(user);
    setIndexed(this.#byUser, user, conf, present);
  }

  byGroup(group: string): Conference | undefined {
    return this.#byGroup.get(group);
  }

  byId(id: string): Conference | undefined {
    return this.#byId.get(id);
  }

  ofConnection(connId: string): Conference[] {
    return [...(this.#byConn.get(connId) ?? [])];
  }

  countOfConnection(connId: string): number {
    return this.#byConn.get(connId)?.size ?? 0;
  }

  countOfUser(user: string): number {
    return this.#byUser.get(user)?.size ?? 0;
  }

  all(): IterableIterator<Conference> {
    return this.#byGroup.values();
  }

  /** How many entries each index holds (all 0 once every conference is gone). */
  get sizes(): { groups: number; ids: number; connections: number; users: number } {
    return {
      groups: this.#byGroup.size,
      ids: this.#byId.size,
      connections: this.#byConn.size,
      users: this.#byUser.size,
    };
  }
}
