import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { FatalError } from '../FatalError.js';
import type { SecretStore } from '../storage/index.js';

/** The algorithms Confab signs tokens with, and the only ones its token checker accepts. */
export const signingAlgorithms = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

export interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds after which the key may be dropped; set when a newer key replaces it. */
  retireAt?: number;
  jwk: JWK;
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

export function publicJwk(jwk: JWK): JWK {
  const pub: JWK = { ...jwk };
  for (const m of privateMembers) delete pub[m];
  return pub;
}

/** The signing keys' name in the secret store (a file of the data dir with SQLite). */
export const signingKeysName = 'identity/signing-keys.json';

export const signingKeysFile = (dataDir: string) => path.join(dataDir, signingKeysName);

function parseKeys(text: string | undefined, where: string): StoredKey[] {
  if (text === undefined) return [];
  try {
    return (JSON.parse(text) as { keys: StoredKey[] }).keys;
  } catch (err) {
    throw new FatalError(
      `confab: cannot read signing keys ${signingKeysName} in ${where}: ${(err as Error).message}`,
    );
  }
}

const serialize = (keys: StoredKey[]) => `${JSON.stringify({ keys }, null, 2)}\n`;

/**
 * Token signing keys, in the secret store (the data dir, mode 0600, or the database): one ES256
 * and one RS256 key in use, plus retired ones that stay published in the JWKS until tokens they
 * signed have expired. Changes are made under the store's lock, on what it holds then: two
 * nodes starting at once on one database end up with the same keys.
 */
export class SigningKeys {
  private constructor(private keys: StoredKey[]) {}

  /** Loads the keys, generating the first pair on first start; drops keys past retirement. */
  static async loadOrCreate(
    secrets: SecretStore,
    now = Math.floor(Date.now() / 1000),
  ): Promise<SigningKeys> {
    const text = await secrets.update(signingKeysName, async (current) => {
      const keys = parseKeys(current, secrets.where);
      const live = keys.filter((k) => k.retireAt === undefined || k.retireAt > now);
      const changed =
        live.length !== keys.length ||
        signingAlgorithms.some(
          (alg) => !live.some((k) => k.alg === alg && k.retireAt === undefined),
        );
      if (!changed) return undefined;
      for (const alg of signingAlgorithms) {
        if (!live.some((k) => k.alg === alg && k.retireAt === undefined))
          live.unshift(await generate(alg, now));
      }
      return serialize(live);
    });
    return new SigningKeys(parseKeys(text, secrets.where));
  }

  /**
   * Adds a new key per algorithm and retires the current ones after `graceSeconds`, the longest
   * lifetime of a token they may have signed. New tokens use the new keys from the next start.
   */
  static async rotate(
    secrets: SecretStore,
    graceSeconds: number,
    now = Math.floor(Date.now() / 1000),
  ): Promise<StoredKey[]> {
    const fresh: StoredKey[] = [];
    for (const alg of signingAlgorithms) fresh.push(await generate(alg, now));
    await secrets.update(signingKeysName, async (current) => {
      const keys = parseKeys(current, secrets.where);
      for (const k of keys) if (k.retireAt === undefined) k.retireAt = now + graceSeconds;
      return serialize([...fresh, ...keys]);
    });
    return fresh;
  }

  /** Private JWKs, current keys first (oidc-provider signs with the first key of an algorithm). */
  privateJwks(): JWK[] {
    return this.#ordered().map((k) => ({ ...k.jwk, kid: k.kid, alg: k.alg, use: 'sig' }));
  }

  /** The published set: every live key without its private members. */
  publicJwks(): JWK[] {
    return this.privateJwks().map(publicJwk);
  }

  list(): readonly StoredKey[] {
    return this.#ordered();
  }

  #ordered(): StoredKey[] {
    return [...this.keys].sort(
      (a, b) =>
        Number(a.retireAt !== undefined) - Number(b.retireAt !== undefined) ||
        b.createdAt - a.createdAt,
    );
  }
}

async function generate(alg: SigningAlgorithm, now: number): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = `${alg.toLowerCase()}-${new Date(now * 1000).toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
  return { kid, alg, createdAt: now, jwk };
}
