import type { JWK } from 'jose';
import { generateEcPem, jwkFromPem, kidFromFile } from '../common/index.js';
import type { SecretStore } from '../storage/index.js';

/** Request objects for guests are signed with ES256 (Kopano's `request_object_signing_alg`). */
export const guestRequestAlg = 'ES256';

/** The embedded default's guest request key, as the secret store names it (a data dir file). */
export const guestKeyFile = 'guest-request-key.pem';

/**
 * The embedded default's key for guest request objects: made on first start and used for the
 * built-in web app's registration when no registry says otherwise.
 */
export async function loadOrCreateGuestKey(secrets: SecretStore): Promise<JWK> {
  const pem = await secrets.getOrCreate(guestKeyFile, generateEcPem);
  return jwkFromPem(pem, kidFromFile(guestKeyFile));
}
