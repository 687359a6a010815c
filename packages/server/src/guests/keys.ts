import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';
import { generateEcPem, jwkFromPem, kidFromFile } from '../common/index.js';

/** Request objects for guests are signed with ES256 (Kopano's `request_object_signing_alg`). */
export const guestRequestAlg = 'ES256';

/** File in the data directory holding the embedded default's guest request key. */
export const guestKeyFile = 'guest-request-key.pem';

/**
 * The embedded default's key for guest request objects: made on first start (mode 0600) and
 * used for the built-in web app's registration when no registry says otherwise.
 */
export async function loadOrCreateGuestKey(dataDir: string): Promise<JWK> {
  const file = path.join(dataDir, guestKeyFile);
  if (!existsSync(file)) {
    writeFileSync(file, generateEcPem(), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  return jwkFromPem(readFileSync(file, 'utf8'), kidFromFile(file));
}
