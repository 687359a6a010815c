import type { ChatMessage, ChatProfile } from '@confab/protocol';
import type { Logger } from '../logging/index.js';
import type { Database } from '../storage/index.js';

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
  /** The room's entries said since `since` (ms), oldest first, the latest `limit` of them. */
  recent(room: string, since: number, limit: number): ChatEntry[];
}

/** For one process without a database (tests). */
export class MemoryChatArchive implements ChatArchive {
  readonly #rooms = new Map<string, ChatEntry[]>();

  append(room: string, entry: ChatEntry, expiredBefore: number): void {
    const kept = (this.#rooms.get(room) ?? []).filter((e) => e.at >= expiredBefore);
    kept.push(entry);
    this.#rooms.set(room, kept);
  }

  recent(room: string, since: number, limit: number): ChatEntry[] {
    return (this.#rooms.get(room) ?? []).filter((e) => e.at >= since).slice(-limit);
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
 * Rooms' chat in the SQLite database. Its methods run in socket events: a database error is
 * logged and the message goes on unkept (or the history comes without it), never thrown.
 */
export class SqliteChatArchive implements ChatArchive {
  readonly #put;
  readonly #get;
  readonly #purge;
  #purgedAt = 0;

  constructor(
    db: Database,
    private readonly log: Logger,
  ) {
    this.#put = db.prepare<[string, string, number, string, string, number, string]>(
      'INSERT OR REPLACE INTO chat_messages (room, id, at, sender, name, guest, text) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare<[string, number, number], Row>(
      'SELECT id, at, sender, name, guest, text FROM chat_messages WHERE room = ? AND at >= ? ORDER BY at DESC, rowid DESC LIMIT ?',
    );
    this.#purge = db.prepare<[number]>('DELETE FROM chat_messages WHERE at < ?');
  }

  append(room: string, entry: ChatEntry, expiredBefore: number): void {
    this.#safely('append', () => {
      const now = Date.now();
      // Expired rows go as new ones come, at most once a minute.
      if (now - this.#purgedAt > 60_000) {
        this.#purgedAt = now;
        this.#purge.run(expiredBefore);
      }
      const { data, profile } = entry;
      this.#put.run(
        room,
        data.id,
        entry.at,
        data.sender,
        profile.name ?? '',
        profile.guest ? 1 : 0,
        data.text,
      );
    });
  }

  recent(room: string, since: number, limit: number): ChatEntry[] {
    const rows = this.#safely('recent', () => this.#get.all(room, since, limit)) ?? [];
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

  #safely<T>(what: string, run: () => T): T | undefined {
    try {
      return run();
    } catch (err) {
      this.log.error({ err, what }, 'chat archive: database error');
      return undefined;
    }
  }
}
