import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FatalError } from '../FatalError.js';

/**
 * A random secret kept in the data dir (mode 0600), created on first use: cookie signing keys,
 * CSRF tokens, the signaling pair-hash key. `name` may hold a folder (`identity/cookie`). Surviving restarts keeps sessions and open sign-in pages valid.
 */
export function loadOrCreateSecret(dataDir: string, name: string): Buffer {
  const file = path.join(dataDir, `${name}.key`);
  try {
    const text = readFileSync(file, 'utf8').trim();
    const secret = Buffer.from(text, 'base64url');
    if (secret.length >= 32) return secret;
    throw new FatalError(
      `confab: ${file} holds no usable secret; delete it to have a new one made`,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  writeFileSync(file, `${secret.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
