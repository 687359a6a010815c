import { createHmac } from 'node:crypto';
import type { TurnCredentials } from '@confab/protocol';

/** kwmserver's DefaultServerTTL. */
export const turnTtl = 3600;

/**
 * TURN REST credentials (draft-uberti-behave-turn-rest-00), as kwmserver makes them and coturn's
 * `use-auth-secret` checks them: username `<expiry unix time>:<user id>`, password
 * base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(
  secret: string,
  uris: string[],
  userId: string,
  now = Math.floor(Date.now() / 1000),
): TurnCredentials {
  const username = `${now + turnTtl}:${userId}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, ttl: turnTtl, uris };
}
