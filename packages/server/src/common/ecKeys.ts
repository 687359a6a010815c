import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import path from 'node:path';
import { exportJWK, type JWK } from 'jose';

/*
 * EC P-256 key files in PEM and their JWKs: what `confab keys` prints and reads, and the keys
 * guest request objects are signed with.
 */

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
