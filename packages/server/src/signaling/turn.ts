import { createHmac } from 'node:crypto';
import type { TurnCredentials } from '@confab/protocol';

/** kwmserver's DefaultServerTTL (`turn_ttl`'s default). */
export const defaultTurnTtl = 3600;

/**
 * TURN REST credentials (draft-uberti-behave-turn-rest-00), as kwmserver makes them and coturn's
 * `use-auth-secret` checks them: username `<expiry unix time>:<user id>`, password
 * base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(
  secret: string,
  uris: string[],
  userId: string,
  ttl = defaultTurnTtl,
  now = Math.floor(Date.now() / 1000),
): TurnCredentials {
  const username = `${now + ttl}:${userId}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, ttl, uris };
}
