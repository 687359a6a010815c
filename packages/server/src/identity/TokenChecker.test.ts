import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { TokenChecker, TokenError } from './TokenChecker.js';

const issuer = 'https://meet.example.com';
const audience = 'https://meet.example.com/api';

async function keyPair(alg: 'ES256' | 'RS256', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pub: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateKey, pub };
}

const es = await keyPair('ES256', 'es-1');
const rs = await keyPair('RS256', 'rs-1');
const stranger = await keyPair('ES256', 'es-unknown');
const checker = new TokenChecker({ issuer, audience, jwks: [es.pub, rs.pub] });

const now = () => Math.floor(Date.now() / 1000);

function claims(over: JWTPayload = {}): JWTPayload {
  return {
    iss: issuer,
    aud: audience,
    sub: 'user-1',
    client_id: 'kpop-x',
    scope: 'kopano/kwm kopano/gc',
    iat: now(),
    exp: now() + 600,
    jti: 'j1',
    ...over,
  };
}

async function sign(
  payload: JWTPayload,
  opts: { key?: typeof es; alg?: string; typ?: string; kid?: string } = {},
) {
  const key = opts.key ?? es;
  return new SignJWT(payload)
    .setProtectedHeader({
      alg: opts.alg ?? (key === rs ? 'RS256' : 'ES256'),
      typ: opts.typ ?? 'at+jwt',
      kid: opts.kid ?? (key.pub.kid as string),
    })
    .sign(key.privateKey);
}

function b64(obj: object): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

async function refused(
  token: string,
  code: 'invalid_token' | 'insufficient_scope' | 'unauthorized',
  scope = 'kopano/gc',
) {
  await assert.rejects(checker.check(token, scope), (err: unknown) => {
    assert.ok(err instanceof TokenError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('TokenChecker accepts', () => {
  test('an ES256 or RS256 access token from our issuer, for our APIs, with the scope', async () => {
    const a = await checker.check(await sign(claims()), 'kopano/gc');
    assert.equal(a.sub, 'user-1');
    assert.deepEqual([...a.scopes], ['kopano/kwm', 'kopano/gc']);
    assert.equal(a.clientId, 'kpop-x');
    const b = await checker.check(await sign(claims(), { key: rs }), 'kopano/kwm');
    assert.equal(b.sub, 'user-1');
  });

  test('clock skew up to 60 s on exp and nbf', async () => {
    await checker.check(await sign(claims({ exp: now() - 50 })), 'kopano/gc');
    await checker.check(await sign(claims({ nbf: now() + 50 })), 'kopano/gc');
  });

  test('an audience list that contains our APIs', async () => {
    await checker.check(await sign(claims({ aud: ['other', audience] })), 'kopano/gc');
  });
});

describe('TokenChecker refuses (the negative corpus)', () => {
  test('alg none', async () => {
    const token = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims())}.`;
    await refused(token, 'invalid_token');
  });

  test('HS256 signed with the public key as the secret', async () => {
    const { createHmac } = await import('node:crypto');
    const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: 'es-1' });
    const body = b64(claims());
    const secret = JSON.stringify(es.pub);
    const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
    await refused(`${header}.${body}.${sig}`, 'invalid_token');
  });

  test('wrong issuer', async () =>
    refused(await sign(claims({ iss: 'https://evil.example.com' })), 'invalid_token'));
  test('wrong audience', async () =>
    refused(await sign(claims({ aud: 'https://meet.example.com/other' })), 'invalid_token'));
  test('expired beyond the skew', async () =>
    refused(await sign(claims({ exp: now() - 61 - 5 })), 'invalid_token'));
  test('not yet valid beyond the skew', async () =>
    refused(await sign(claims({ nbf: now() + 120 })), 'invalid_token'));
  test('issued in the future beyond the skew', async () =>
    refused(await sign(claims({ iat: now() + 120 })), 'invalid_token'));

  test('tampered payload', async () => {
    const [h, , s] = (await sign(claims())).split('.');
    await refused(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`, 'invalid_token');
  });

  test('signed by a key we do not know (unknown kid)', async () =>
    refused(await sign(claims(), { key: stranger }), 'invalid_token'));
  test('a known kid on a stranger signature', async () =>
    refused(await sign(claims(), { key: stranger, kid: 'es-1' }), 'invalid_token'));
  test('an ID token (wrong typ) used as access token', async () =>
    refused(await sign(claims(), { typ: 'JWT' }), 'invalid_token'));
  test('missing sub', async () => refused(await sign(claims({ sub: undefined })), 'invalid_token'));
  test('missing scope', async () =>
    refused(await sign(claims({ scope: 'kopano/kwm' })), 'insufficient_scope'));
  test('garbage', async () => refused('not.a.token', 'invalid_token'));

  test('headers: missing, not Bearer, empty', async () => {
    await assert.rejects(checker.checkHeader(undefined, 'kopano/gc'), { code: 'unauthorized' });
    await assert.rejects(checker.checkHeader('Basic YTpi', 'kopano/gc'), { code: 'invalid_token' });
    await assert.rejects(checker.checkHeader('Bearer ', 'kopano/gc'), { code: 'invalid_token' });
  });

  test('errors say what was wrong without leaking the token', async () => {
    const token = await sign(claims({ exp: now() - 3600 }));
    await assert.rejects(checker.check(token, 'kopano/gc'), (err: Error) => {
      assert.equal(err.message, 'the access token has expired');
      assert.ok(!err.message.includes(token));
      return true;
    });
  });

  test('a clock tolerance above 60 s is refused at construction', () => {
    assert.throws(
      () => new TokenChecker({ issuer, audience, jwks: [es.pub], clockTolerance: 120 }),
    );
  });
});

describe('ID tokens passed along (rtm/connect id_token)', () => {
  const idClaims = (over: JWTPayload = {}) =>
    claims({ aud: 'kpop-x', scope: undefined, client_id: undefined, name: 'Alice', ...over });

  test('an ID token of the access token’s client and user, expired or not', async () => {
    const got = await checker.checkIdToken(
      await sign(idClaims(), { typ: 'JWT' }),
      'user-1',
      'kpop-x',
    );
    assert.equal(got.name, 'Alice');
    const old = await sign(idClaims({ iat: now() - 7200, exp: now() - 3600 }), { typ: 'JWT' });
    assert.equal((await checker.checkIdToken(old, 'user-1', 'kpop-x')).sub, 'user-1');
  });

  test('an access token is not an ID token: its typ and its audience say so', async () => {
    const access = await sign(claims());
    await assert.rejects(checker.checkIdToken(access, 'user-1', 'kpop-x'), {
      code: 'invalid_token',
    });
    // Even dressed as a JWT, an audience of our APIs is not a client's.
    const dressed = await sign(claims({ aud: [audience, 'kpop-x'] }), { typ: 'JWT' });
    await assert.rejects(checker.checkIdToken(dressed, 'user-1', 'kpop-x'), {
      code: 'invalid_token',
    });
  });

  test('an ID token for another client, another user, or without aud', async () => {
    const other = await sign(idClaims({ aud: 'someone-else' }), { typ: 'JWT' });
    await assert.rejects(checker.checkIdToken(other, 'user-1', 'kpop-x'), {
      code: 'invalid_token',
    });
    const bob = await sign(idClaims({ sub: 'user-2' }), { typ: 'JWT' });
    await assert.rejects(checker.checkIdToken(bob, 'user-1', 'kpop-x'), { code: 'invalid_token' });
    const noAud = await sign(idClaims({ aud: undefined }), { typ: 'JWT' });
    await assert.rejects(checker.checkIdToken(noAud, 'user-1', 'kpop-x'), {
      code: 'invalid_token',
    });
  });
});

describe('tokens of users that are gone', () => {
  test('the active check refuses a well-signed token, with its reason', async () => {
    const gone = new TokenChecker({
      issuer,
      audience,
      jwks: [es.pub],
      active: async (c) => (c.sub === 'user-1' ? 'the user no longer exists' : undefined),
    });
    await assert.rejects(gone.check(await sign(claims()), 'kopano/gc'), {
      code: 'invalid_token',
      message: 'the user no longer exists',
    });
    assert.equal(
      (await gone.check(await sign(claims({ sub: 'user-2' })), 'kopano/gc')).sub,
      'user-2',
    );
  });
});
