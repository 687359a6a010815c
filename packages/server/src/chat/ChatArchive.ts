import type { ChatMessage, ChatProfile } from '@confab/protocol';
import type { Logger } from '../logging/index.js';
import { dialectOf, type Sql } from '../storage/index.js';

/** A chat message as kept: when it was said (ms), the message and who said it. */
export interface ChatEntry {
  at: number;
  data: ChatMessage;
  profile: ChatProfile;
}

/**
 * A room's chat kept past its meeting (`chat_retention`, docs/configuration.md): shown to
 * registered users when the room is opened again. Messages older than the retention are not
 * returned and are deleted as new ones come.
 */
export interface ChatArchive {
  /** Keeps `entry` for `room`; entries said before `expiredBefore` (ms) may be deleted. */
  append(room: string, entry: ChatEntry, expiredBefore: number): void;
  /**
   * The room's entries said since `since` (ms), oldest first, the latest `limit` of them; none
   * when the database cannot give them (logged).
   */
  recent(room: string, since: number, limit: number): Promise<ChatEntry[]>;
  /** Deletes every entry said before `before` (ms; `Infinity`: all of them). */
  purge(before: number): void;
}

/**
 * A meeting's chat since it began (what late joiners are shown), by meeting: in memory for one
 * node; the several-nodes issue gives it a shared implementation.
 */
export interface ChatHistory {
  /** Keeps `entry` for `meeting`, the latest `limit` entries at most. */
  append(meeting: string, entry: ChatEntry, limit: number): void;
  /** The meeting's entries, oldest first. */
  list(meeting: string): readonly ChatEntry[];
  /** The meeting is over. */
  drop(meeting: string): void;
}

export class MemoryChatHistory implements ChatHistory {
  readonly #meetings = new Map<string, ChatEntry[]>();

  append(meeting: string, entry: ChatEntry, limit: number): void {
    let entries = this.#meetings.get(meeting);
    if (!entries) {
      entries = [];
      this.#meetings.set(meeting, entries);
    }
    entries.push(entry);
    if (entries.length > limit) entries.splice(0, entries.length - limit);
  }

  list(meeting: string): readonly ChatEntry[] {
    return this.#meetings.get(meeting) ?? [];
  }

  drop(meeting: string): void {
    this.#meetings.delete(meeting);
  }

  /** Meetings it holds chat of. */
  get size(): number {
    return this.#meetings.size;
  }
}

/** For one process without a database (tests). */
export class MemoryChatArchive implements ChatArchive {
  readonly #rooms = new Map<string, ChatEntry[]>();

  append(room: string, entry: ChatEntry, expiredBefore: number): void {
    const kept = (this.#rooms.get(room) ?? []).filter((e) => e.at >= expiredBefore);
    kept.push(entry);
    this.#rooms.set(room, kept);
  }

  async recent(room: string, since: number, limit: number): Promise<ChatEntry[]> {
    return (this.#rooms.get(room) ?? []).filter((e) => e.at >= since).slice(-limit);
  }

  purge(before: number): void {
    for (const [room, entries] of this.#rooms) {
      const kept = entries.filter((e) => e.at >= before);
      if (kept.length) this.#rooms.set(room, kept);
      else this.#rooms.delete(room);
    }
  }
}

interface Row {
  id: string;
  at: number;
  sender: string;
  name: string;
  guest: number;
  text: string;
}

/**
 * Rooms' chat in Confab's database. Its methods run in socket events: a database error is
 * logged and the message goes on unkept (or the history comes without it), never thrown.
 */
export class SqlChatArchive implements ChatArchive {
  readonly #order: string;
  #purgedAt = 0;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Sql,
    private readonly log: Logger,
  ) {
    this.#order = dialectOf(db.dialect).insertionOrder;
  }

  append(room: string, entry: ChatEntry, expiredBefore: number): void {
    const now = Date.now();
    // Expired rows go as new ones come, at most once a minute.
    if (now - this.#purgedAt > 60_000) {
      this.#purgedAt = now;
      this.purge(expiredBefore);
    }
    const { data, profile } = entry;
    // One after the other: rows said in one millisecond keep the order they were said in.
    this.#writes = this.#writes.then(() =>
      this.#safely(
        'append',
        this.db.run(
          `INSERT INTO chat_messages (room, id, at, sender, name, guest, text) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (room, id) DO NOTHING`,
          [
            room,
            data.id,
            entry.at,
            data.sender,
            profile.name ?? '',
            profile.guest ? 1 : 0,
            data.text,
          ],
        ),
      ),
    );
  }

  async recent(room: string, since: number, limit: number): Promise<ChatEntry[]> {
    const rows =
      (await this.#safely(
        'recent',
        this.db.all<Row>(
          `SELECT id, at, sender, name, guest, text FROM chat_messages WHERE room = ? AND at >= ? ORDER BY at DESC, ${this.#order} DESC LIMIT ?`,
          [room, since, limit],
        ),
      )) ?? [];
    return rows.reverse().map((r) => ({
      at: r.at,
      data: {
        kind: '',
        id: r.id,
        ts: Math.floor(r.at / 1000),
        sender: r.sender,
        target: '',
        text: r.text,
      },
      profile: r.guest ? { name: r.name, guest: true } : { name: r.name },
    }));
  }

  /** Settles once every write asked for so far is done (at shutdown, before the database closes). */
  async flush(): Promise<void> {
    // Writes queued while it waits are waited for too.
    let last: Promise<unknown>;
    do {
      last = this.#writes;
      await last;
    } while (last !== this.#writes);
  }

  purge(before: number): void {
    this.#writes = this.#writes.then(() =>
      this.#safely(
        'purge',
        Number.isFinite(before)
          ? this.db.run('DELETE FROM chat_messages WHERE at < ?', [before])
          : this.db.run('DELETE FROM chat_messages'),
      ),
    );
  }

  async #safely<T>(what: string, run: Promise<T>): Promise<T | undefined> {
    try {
      return await run;
    } catch (err) {
      this.log.error({ err, what }, 'chat archive: database error');
      return undefined;
    }
  }
}
