import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../storage/index.js';
import { sqliteOidcAdapter, storedId } from './SqliteOidcAdapter.js';

function adapter() {
  const db = openDatabase(mkdtempSync(path.join(tmpdir(), 'confab-oidc-')));
  return { db, Adapter: sqliteOidcAdapter(db) };
}

test('liveIds: the given ids with an unexpired, unconsumed row of that model', async () => {
  const { db, Adapter } = adapter();
  try {
    const grants = new Adapter('Grant');
    await grants.upsert('g-live', { jti: 'g-live', accountId: 'a' }, 60);
    await grants.upsert('g-forever', { jti: 'g-forever', accountId: 'a' });
    await grants.upsert('g-expired', { jti: 'g-expired', accountId: 'a' }, -1);
    await grants.upsert('g-gone', { jti: 'g-gone', accountId: 'a' }, 60);
    await grants.destroy('g-gone');
    const tokens = new Adapter('RefreshToken');
    await tokens.upsert('t-used', { jti: 't-used', grantId: 'g-live' }, 60);
    await tokens.consume('t-used');
    await tokens.upsert('t-live', { jti: 't-live', grantId: 'g-live' }, 60);

    assert.deepEqual(
      Adapter.liveIds('Grant', ['g-live', 'g-forever', 'g-expired', 'g-gone', 'never', 'g-live']),
      new Set(['g-live', 'g-forever']),
    );
    assert.deepEqual(Adapter.liveIds('Session', ['g-live']), new Set(), 'another model');
    assert.deepEqual(Adapter.liveIds('RefreshToken', ['t-used', 't-live']), new Set(['t-live']));
    assert.deepEqual(Adapter.liveIds('Grant', []), new Set());
    await new Adapter('Grant').revokeByGrantId('g-live');
    assert.deepEqual(Adapter.liveIds('RefreshToken', ['t-live']), new Set(), 'revoked');
  } finally {
    db.close();
  }
});

test('rows hold hashes, not values: find gives the jti back, an interaction its resume URL', async () => {
  const { db, Adapter } = adapter();
  try {
    const resume = 'https://meet.example.com/signin/v1/identifier/_/authorize/resume/int-1';
    const interactions = new Adapter('Interaction');
    const payload = {
      jti: 'int-1',
      returnTo: resume,
      session: { accountId: 'a', uid: 'uid-1', cookie: 'sess-1' },
    };
    await interactions.upsert('int-1', payload, 60);
    const sessions = new Adapter('Session');
    await sessions.upsert('sess-1', { jti: 'sess-1', uid: 'uid-1', accountId: 'a' }, 60);
    const codes = new Adapter('DeviceCode');
    await codes.upsert('dev-1', { jti: 'dev-1', userCode: 'ABCD-EFGH' }, 60);

    const rows = db.prepare('SELECT * FROM oidc_payloads').all();
    for (const raw of ['int-1', 'sess-1', 'dev-1'])
      assert.ok(!JSON.stringify(rows).includes(raw), `${raw} is not stored`);
    // Lookup columns are hashed too; the payloads keep uid and userCode, which the library reads.
    assert.deepEqual(
      db.prepare('SELECT model, uid, user_code FROM oidc_payloads ORDER BY model').all(),
      [
        { model: 'DeviceCode', uid: null, user_code: storedId('ABCD-EFGH') },
        { model: 'Interaction', uid: null, user_code: null },
        { model: 'Session', uid: storedId('uid-1'), user_code: null },
      ],
    );
    assert.equal(payload.session.cookie, 'sess-1', "the caller's payload is left alone");

    assert.deepEqual(await interactions.find('int-1'), {
      jti: 'int-1',
      returnTo: resume,
      session: { accountId: 'a', uid: 'uid-1' },
    });
    assert.deepEqual(await sessions.find('sess-1'), {
      jti: 'sess-1',
      uid: 'uid-1',
      accountId: 'a',
    });
    assert.deepEqual(await sessions.findByUid('uid-1'), { uid: 'uid-1', accountId: 'a' });
    assert.deepEqual(await codes.findByUserCode('ABCD-EFGH'), { userCode: 'ABCD-EFGH' });
    assert.equal(await sessions.find(storedId('sess-1')), undefined, 'the hash redeems nothing');
    assert.equal(await sessions.findByUid(storedId('uid-1')), undefined);
  } finally {
    db.close();
  }
});
