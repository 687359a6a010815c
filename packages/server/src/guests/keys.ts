import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, type JWK } from 'jose';

/** Request objects for guests are signed with ES256 (Kopano's `request_object_signing_alg`). */
export const guestRequestAlg = 'ES256';

/** A new EC P-256 private key, PKCS#8 PEM (`confab keys generate`, the embedded default). */
export function generateEcPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

/**
 * The JWK of an EC P-256 key in PEM (PKCS#8 or SEC1 as `openssl ecparam -genkey` writes it; a
 * public key gives a public JWK), in the member order Konnect's `jwk-from-pem` prints.
 */
export async function jwkFromPem(pem: string, kid: string): Promise<JWK> {
  let key: KeyObject;
  try {
    key = /PUBLIC KEY-----/.test(pem) ? createPublicKey(pem) : createPrivateKey(pem);
  } catch {
    throw new KeyFileError('not a PEM private or public key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new KeyFileError('not an EC P-256 key (make one with: confab keys generate)');
  const { crv, d, kty, x, y } = await exportJWK(key);
  return { crv, ...(d ? { d } : {}), kid, kty, use: 'sig', x, y } as JWK;
}

/** A key id from a key file's name, as Konnect takes it: `meet-kwmserver.pem` → `meet-kwmserver`. */
export function kidFromFile(file: string): string {
  return path.basename(file).replace(/\.[^.]*$/, '') || 'key';
}

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
