import { randomBytes } from 'node:crypto';
import { FatalError } from '../FatalError.js';
import type { SecretStore } from '../storage/index.js';

/**
 * A random 32-byte key Confab makes for itself on first use, kept in `secrets` as base64url
 * (`name` is `identity/cookie`, the store's name `identity/cookie.key`): cookie signing, the
 * signaling pair-hash key, the bridge secret. Keeping it keeps sessions and open sign-in pages
 * valid across restarts, and every node on one database uses the same.
 */
export async function loadOrCreateSecret(secrets: SecretStore, name: string): Promise<Buffer> {
  const stored = `${name}.key`;
  const text = await secrets.getOrCreate(
    stored,
    () => `${randomBytes(32).toString('base64url')}\n`,
  );
  const secret = Buffer.from(text.trim(), 'base64url');
  if (secret.length >= 32) return secret;
  throw new FatalError(
    `confab: ${stored} in ${secrets.where} holds no usable secret; delete it to have a new one made`,
  );
}
