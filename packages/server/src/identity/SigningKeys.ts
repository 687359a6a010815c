import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { FatalError } from '../FatalError.js';

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

export const signingKeysFile = (dataDir: string) =>
  path.join(dataDir, 'identity', 'signing-keys.json');

/**
 * Token signing keys in the data dir (mode 0600): one ES256 and one RS256 key in use, plus
 * retired ones that stay published in the JWKS until tokens they signed have expired.
 */
export class SigningKeys {
  private constructor(
    private readonly file: string,
    private keys: StoredKey[],
  ) {}

  /** Loads the keys, generating the first pair on first start; drops keys past retirement. */
  static async loadOrCreate(
    dataDir: string,
    now = Math.floor(Date.now() / 1000),
  ): Promise<SigningKeys> {
    const file = signingKeysFile(dataDir);
    let keys: StoredKey[] | undefined;
    try {
      keys = (JSON.parse(readFileSync(file, 'utf8')) as { keys: StoredKey[] }).keys;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new FatalError(`confab: cannot read signing keys ${file}: ${(err as Error).message}`);
    }
    const store = new SigningKeys(file, keys ?? []);
    const live = store.keys.filter((k) => k.retireAt === undefined || k.retireAt > now);
    const changed =
      live.length !== store.keys.length ||
      signingAlgorithms.some((alg) => !live.some((k) => k.alg === alg && k.retireAt === undefined));
    store.keys = live;
    for (const alg of signingAlgorithms) {
      if (!store.keys.some((k) => k.alg === alg && k.retireAt === undefined))
        store.keys.unshift(await generate(alg, now));
    }
    if (changed) store.save();
    return store;
  }

  /**
   * Adds a new key per algorithm and retires the current ones after `graceSeconds`, the longest
   * lifetime of a token they may have signed. New tokens use the new keys from the next start.
   */
  async rotate(graceSeconds: number, now = Math.floor(Date.now() / 1000)): Promise<StoredKey[]> {
    const fresh: StoredKey[] = [];
    for (const alg of signingAlgorithms) fresh.push(await generate(alg, now));
    for (const k of this.keys) if (k.retireAt === undefined) k.retireAt = now + graceSeconds;
    this.keys = [...fresh, ...this.keys];
    this.save();
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

  private save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys: this.keys }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
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
