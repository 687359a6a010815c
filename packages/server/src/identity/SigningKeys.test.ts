import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FileSecrets } from '../storage/index.js';
import { SigningKeys, signingKeysFile } from './SigningKeys.js';

test('first start makes one ES256 and one RS256 key, in a 0600 file, the same on reload', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-keys-'));
  const secrets = new FileSecrets(dir);
  const keys = await SigningKeys.loadOrCreate(secrets);
  assert.deepEqual(
    keys
      .list()
      .map((k) => k.alg)
      .sort(),
    ['ES256', 'RS256'],
  );
  assert.equal(statSync(signingKeysFile(dir)).mode & 0o777, 0o600);
  const again = await SigningKeys.loadOrCreate(secrets);
  assert.deepEqual(again.publicJwks(), keys.publicJwks());
  for (const k of keys.publicJwks()) assert.equal(k.d, undefined);
});

test('rotation publishes old keys until their grace ends, signs with the new ones, then drops the old', async () => {
  const secrets = new FileSecrets(mkdtempSync(path.join(tmpdir(), 'confab-keys-')));
  const t0 = 1_800_000_000;
  const keys = await SigningKeys.loadOrCreate(secrets, t0);
  const oldKids = keys.list().map((k) => k.kid);
  const fresh = await SigningKeys.rotate(secrets, 3660, t0 + 10);
  const during = await SigningKeys.loadOrCreate(secrets, t0 + 100);
  assert.equal(during.publicJwks().length, 4);
  // The first key of each algorithm is the one oidc-provider signs with: the new one.
  const firstEs = during.privateJwks().find((k) => k.alg === 'ES256');
  assert.equal(firstEs?.kid, fresh.find((k) => k.alg === 'ES256')?.kid);
  const after = await SigningKeys.loadOrCreate(secrets, t0 + 10 + 3661);
  assert.deepEqual(
    after
      .list()
      .map((k) => k.kid)
      .sort(),
    fresh.map((k) => k.kid).sort(),
  );
  assert.ok(oldKids.every((kid) => !after.list().some((k) => k.kid === kid)));
});
