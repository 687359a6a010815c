import { readFileSync } from 'node:fs';
import { loadOrCreateSecret } from '../common/index.js';
import { bridgeSecretEnv, ConfigError, type Settings } from '../config/index.js';

export { bridgeSecretEnv };

import { describeErrno } from '../dataDir.js';
import type { SecretStore } from '../storage/index.js';

/**
 * The secret bridges present to the focus: read from `bridge.shared_secret`, or generated
 * (`bridge-secret.key` in the data dir, or in the database with `database_url`) for the bridges
 * `confab serve` starts itself.
 */
export async function bridgeSecret(settings: Settings, secrets: SecretStore): Promise<string> {
  const file = settings.bridge.shared_secret;
  if (!file) return (await loadOrCreateSecret(secrets, 'bridge-secret')).toString('base64url');
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
