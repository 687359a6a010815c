import { Client, type Entry, escapeFilter, InvalidCredentialsError } from 'ldapts';
import type { Logger } from '../logging/index.js';
import { DirectoryError } from './DirectoryError.js';
import type { User, UserQuery, UserStore } from './User.js';

export interface LdapOptions {
  uri: string;
  bindDn: string | undefined;
  bindPassword: string | undefined;
  baseDn: string;
  scope: 'sub' | 'one' | 'base';
  filter: string;
  attributes: { uuid: string; login: string; name: string; mail: string; jobTitle: string };
  timeoutMs?: number;
}

/**
 * Users from an LDAP directory: found with the service account (or anonymously), signed in by
 * binding as the user. Nothing is cached, so directory changes show at once.
 */
export class LdapUserStore implements UserStore {
  readonly kind = 'ldap';

  constructor(
    private readonly opts: LdapOptions,
    private readonly log: Logger,
  ) {}

  async authenticate(username: string, password: string): Promise<User | undefined> {
    // An empty password would be an anonymous bind, which LDAP servers accept: never a sign-in.
    if (!password || !username) return undefined;
    const found = await this.#find(`(${this.opts.attributes.login}=${escapeValue(username)})`, 2);
    if (found.length !== 1) return undefined;
    const entry = found[0] as Entry;
    const client = this.#client();
    try {
      await client.bind(entry.dn, password);
      return this.#toUser(entry);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return undefined;
      throw this.#unavailable(err);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  async findById(id: string): Promise<User | undefined> {
    if (!id) return undefined;
    const found = await this.#find(`(${this.opts.attributes.uuid}=${escapeValue(id)})`, 2);
    return found.length === 1 ? this.#toUser(found[0] as Entry) : undefined;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const uuid = this.opts.attributes.uuid;
    // In chunks: one search names up to 50 ids, well within any server's size limit.
    for (let i = 0; i < ids.length; i += 50) {
      const chunk = ids.slice(i, i + 50).filter(Boolean);
      if (chunk.length === 0) continue;
      const any = chunk.map((id) => `(${uuid}=${escapeValue(id)})`).join('');
      for (const entry of await this.#find(`(|${any})`, chunk.length, true)) {
        const user = this.#toUser(entry);
        if (user) found.add(user.id);
      }
    }
    return found;
  }

  async search(query: UserQuery): Promise<User[]> {
    const a = this.opts.attributes;
    const term = query.search ? escapeValue(query.search) : '';
    const match = term ? `(|(${a.name}=*${term}*)(${a.mail}=*${term}*)(${a.login}=*${term}*))` : '';
    const entries = await this.#find(match, query.skip + query.top);
    return entries
      .map((e) => this.#toUser(e))
      .filter((u): u is User => u !== undefined)
      .sort(
        (x, y) =>
          x.displayName.localeCompare(y.displayName, undefined, { sensitivity: 'base' }) ||
          x.id.localeCompare(y.id),
      )
      .slice(query.skip, query.skip + query.top);
  }

  async close(): Promise<void> {}

  /** Entries of the filter and `extra`; a partial answer (size limit) is [] unless `strict`. */
  async #find(extra: string, sizeLimit: number, strict = false): Promise<Entry[]> {
    const a = this.opts.attributes;
    const filter = extra ? `(&${wrap(this.opts.filter)}${extra})` : wrap(this.opts.filter);
    const client = this.#client();
    try {
      if (this.opts.bindDn) await client.bind(this.opts.bindDn, this.opts.bindPassword ?? '');
      const { searchEntries } = await client.search(this.opts.baseDn, {
        scope: this.opts.scope,
        filter,
        sizeLimit,
        attributes: [a.uuid, a.login, a.name, a.mail, a.jobTitle],
      });
      return searchEntries;
    } catch (err) {
      // A server that stops at the size limit still answered what we asked for.
      if ((err as { code?: number }).code === 4 && !strict) return [];
      throw this.#unavailable(err);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  #client(): Client {
    const timeout = this.opts.timeoutMs ?? 5000;
    return new Client({ url: this.opts.uri, timeout, connectTimeout: timeout });
  }

  #toUser(entry: Entry): User | undefined {
    const a = this.opts.attributes;
    const id = first(entry[a.uuid]);
    const username = first(entry[a.login]);
    if (!id || !username) {
      this.log.warn(
        { dn: entry.dn, missing: !id ? a.uuid : a.login },
        'LDAP entry lacks an id or login attribute; skipped',
      );
      return undefined;
    }
    return {
      id,
      username,
      displayName: first(entry[a.name]) || username,
      mail: first(entry[a.mail]),
      jobTitle: first(entry[a.jobTitle]),
    };
  }

  /** Logged with the address but never its credentials; callers hear no details at all. */
  #unavailable(err: unknown): DirectoryError {
    this.log.error(
      { err: redactError(err, this.opts), uri: withoutUserinfo(this.opts.uri) },
      'LDAP request failed',
    );
    return new DirectoryError('directory_unavailable', 'the directory is not available');
  }
}

/**
 * What of an LDAP URI may be logged: scheme, host and port, never a `user:password@` someone put
 * in it (a URI that does not parse is not shown at all, since where its userinfo ends is unclear).
 */
export function withoutUserinfo(uri: string): string {
  try {
    const u = new URL(uri);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(an LDAP URI that does not parse)';
  }
}

/** The error as logged: its message with the URI's userinfo and the bind password taken out. */
function redactError(err: unknown, opts: LdapOptions): { message: string; name?: string } {
  const e = err as Error;
  let message = String(e?.message ?? err).replaceAll(opts.uri, withoutUserinfo(opts.uri));
  if (opts.bindPassword) message = message.replaceAll(opts.bindPassword, '***');
  return { message, ...(e?.name ? { name: e.name } : {}) };
}

/** RFC 4515 escaping of one assertion value (attribute names come from the configuration). */
function escapeValue(value: string): string {
  return escapeFilter`${value}`;
}

function wrap(filter: string): string {
  return filter.startsWith('(') ? filter : `(${filter})`;
}

/** The first value of an attribute as text (binary ids such as objectGUID as hex). */
function first(value: Entry[string] | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return '';
  return Buffer.isBuffer(v) ? v.toString('hex') : String(v);
}
