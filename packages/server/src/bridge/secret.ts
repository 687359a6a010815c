import { readFileSync } from 'node:fs';
import { loadOrCreateSecret } from '../common/index.js';
import { ConfigError, type Settings } from '../config/index.js';
import { describeErrno } from '../dataDir.js';

/**
 * The secret bridges present to the focus: read from `bridge.shared_secret`, or generated in
 * the data dir (`bridge-secret.key`) for the bridges `confab serve` starts itself.
 */
export function bridgeSecret(settings: Settings): string {
  const file = settings.bridge.shared_secret;
  if (!file) return loadOrCreateSecret(settings.data_dir, 'bridge-secret').toString('base64url');
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(
      `confab: bridge.shared_secret: cannot read ${file}: ${describeErrno(err as NodeJS.ErrnoException)}`,
    );
  }
  if (secret.length < 16)
    throw new ConfigError(
      `confab: bridge.shared_secret: ${file} must hold a secret of at least 16 characters`,
    );
  return secret;
}

/** `bridge.port_range` as numbers. */
export function portRange(settings: Settings): { first: number; last: number } {
  const [first, last] = settings.bridge.port_range.split('-').map(Number) as [number, number];
  return { first, last };
}
