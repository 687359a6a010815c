import type { EndReason, Peer } from './CallController.js';

/** One call in the list on the main screen. */
export interface RecentCall {
  peer: Peer;
  direction: 'outgoing' | 'incoming';
  audioOnly: boolean;
  /** How it ended, for the caller's side; `answered` when it was talked. */
  outcome: EndReason | 'answered' | 'missed';
  /** Unix milliseconds. */
  at: number;
}

const limit = 20;
const key = (userId: string) => `confab.recentCalls.${userId}`;

/** Recent calls, kept in this browser per signed-in user, newest first. */
export function loadRecentCalls(userId: string): RecentCall[] {
  try {
    const parsed = JSON.parse(window.localStorage.getItem(key(userId)) ?? '[]') as unknown;
    return Array.isArray(parsed)
      ? (parsed as RecentCall[]).filter((c) => typeof c?.peer?.id === 'string').slice(0, limit)
      : [];
  } catch {
    return [];
  }
}

export function addRecentCall(userId: string, call: RecentCall): RecentCall[] {
  const list = [call, ...loadRecentCalls(userId)].slice(0, limit);
  try {
    window.localStorage.setItem(key(userId), JSON.stringify(list));
  } catch {
    // Storage full or denied: the list just does not persist.
  }
  return list;
}
