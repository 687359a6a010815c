// One contract suite per storage port, run against both databases Confab keeps its data in: the
// data dir's SQLite file and a real PostgreSQL (a throwaway cluster, test/postgres.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SqlChatArchive } from '../src/chat/index.js';
import { SqlUserStore } from '../src/directory/index.js';
import { GuestStore } from '../src/guests/index.js';
import { SigningKeys } from '../src/identity/index.js';
import { sqlOidcAdapter, storedId } from '../src/identity/SqlOidcAdapter.js';
import { silentLogger } from '../src/logging/index.js';
import { SqlAnsweredCalls } from '../src/signaling/index.js';
import {
  FileSecrets,
  migrations,
  openPostgres,
  openSqlite,
  type SecretStore,
  type Sql,
  SqlSecrets,
} from '../src/storage/index.js';
import { tempDir } from './helpers.js';
import { startPostgres, type TestPostgres } from './postgres.js';

let cluster: TestPostgres | undefined;
let databases = 0;
after(() => cluster?.destroy());

/** A new, empty, migrated database of each kind, and a second connection to it (another process's). */
const kinds: { name: string; open(): Promise<{ db: Sql; another(): Promise<Sql> }> }[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = tempDir('confab-store-');
      return { db: openSqlite(dir), another: async () => openSqlite(dir) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      cluster ??= await startPostgres();
      const url = await cluster.createDatabase(`contract_${++databases}`);
      const open = () =>
        openPostgres({ database_url: url, database_password_file: undefined }, silentLogger());
      return { db: await open(), another: open };
    },
  },
];

for (const kind of kinds) {
  describe(`storage on ${kind.name}`, () => {
    let db: Sql;
    let another: () => Promise<Sql>;
    before(async () => {
      ({ db, another } = await kind.open());
    });
    after(() => db?.close());

    test('the directory: add, find, sign in, search by name in order and by page, remove', async () => {
      const store = new SqlUserStore(db);
      const zoe = await store.add({
        username: 'Zoe',
        displayName: 'Zoë Washburne',
        mail: 'zoe@serenity.example',
        jobTitle: 'Pilot',
        password: 'leaf on the wind',
      });
      assert.equal(zoe.username, 'zoe', 'usernames are lower case');
      await store.add({ username: 'mal', displayName: 'malcolm Reynolds', password: 'browncoat' });
      await store.add({ username: 'kaylee', displayName: 'Kaylee Frye', password: 'shiny' });
      await assert.rejects(store.add({ username: 'ZOE', displayName: 'Another', password: 'x' }), {
        code: 'user_exists',
      });
      await assert.rejects(store.add({ username: 'bad name', displayName: 'B', password: 'x' }), {
        code: 'invalid_user',
      });
      assert.equal(await store.count(), 3);
      assert.deepEqual(await store.findByUsername('ZOE'), zoe);
      assert.deepEqual(await store.findById(zoe.id), zoe);
      assert.deepEqual(await store.authenticate(' Zoe ', 'leaf on the wind'), zoe);
      assert.equal(await store.authenticate('zoe', 'wrong'), undefined);
      assert.equal(await store.authenticate('nobody', 'x'), undefined);

      const names = async (search: string, top = 10, skip = 0) =>
        (await store.search({ search, top, skip })).map((u) => u.displayName);
      // By name without regard to case, then the rest of the query's rules.
      assert.deepEqual(await names(''), ['Kaylee Frye', 'malcolm Reynolds', 'Zoë Washburne']);
      assert.deepEqual(await names('SERENITY'), ['Zoë Washburne'], 'mail, any case');
      assert.deepEqual(await names('e', 1, 1), ['malcolm Reynolds'], 'a page');
      assert.deepEqual(await names('nobody'), []);
      assert.deepEqual(await names('%'), [], 'LIKE wildcards are text');
      assert.deepEqual(await names('_'), []);
      assert.deepEqual(await names('w_sh'), []);
      assert.deepEqual(await store.existing([zoe.id, 'not-a-user', zoe.id]), new Set([zoe.id]));
      assert.deepEqual(await store.existing([]), new Set());

      await store.setPassword('zoe', 'new one');
      assert.deepEqual(await store.authenticate('zoe', 'new one'), zoe);
      await store.remove('MAL');
      await assert.rejects(store.remove('mal'), { code: 'user_not_found' });
      await assert.rejects(store.setPassword('mal', 'x'), { code: 'user_not_found' });
      assert.deepEqual(
        (await store.list()).map((u) => u.username),
        ['kaylee', 'zoe'],
      );
    });

    test('the directory is watched: another connection removing a user is noticed', async () => {
      const store = new SqlUserStore(db);
      await store.add({ username: 'wash', displayName: 'Hoban Washburne', password: 'dino' });
      let changes = 0;
      const stop = store.watch((() => changes++) as () => void);
      try {
        await new Promise((r) => setTimeout(r, 1200));
        assert.equal(changes, 0, 'nothing changed yet');
        const other = await another();
        await new SqlUserStore(other).remove('wash');
        await other.close();
        const until = Date.now() + 5000;
        while (changes === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        assert.equal(changes, 1);
      } finally {
        stop();
      }
    });

    test('sign-ins: liveIds gives the ids with an unexpired, unconsumed row of that model', async () => {
      const Adapter = sqlOidcAdapter(db);
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
      assert.ok(((await tokens.find('t-used'))?.consumed ?? 0) > 0, 'a consumed token says so');

      assert.deepEqual(
        await Adapter.liveIds('Grant', ['g-live', 'g-forever', 'g-expired', 'g-gone', 'never']),
        new Set(['g-live', 'g-forever']),
      );
      assert.deepEqual(await Adapter.liveIds('Session', ['g-live']), new Set(), 'another model');
      assert.deepEqual(
        await Adapter.liveIds('RefreshToken', ['t-used', 't-live']),
        new Set(['t-live']),
      );
      assert.equal(await grants.find('g-expired'), undefined, 'expired rows are not found');
      assert.ok((await Adapter.purgeExpired()) >= 1, 'and are purged');
      await new Adapter('Grant').revokeByGrantId('g-live');
      assert.deepEqual(await Adapter.liveIds('RefreshToken', ['t-live']), new Set(), 'revoked');
    });

    test('sign-ins: rows hold hashes, not values; find gives the jti back, an interaction its resume URL', async () => {
      const Adapter = sqlOidcAdapter(db);
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

      const rows = await db.all('SELECT * FROM oidc_payloads');
      for (const raw of ['int-1', 'sess-1', 'dev-1'])
        assert.ok(!JSON.stringify(rows).includes(`"${raw}"`), `${raw} is not stored`);
      assert.deepEqual(
        await db.all(
          "SELECT model, uid, user_code FROM oidc_payloads WHERE model IN ('DeviceCode', 'Interaction', 'Session') ORDER BY model",
        ),
        [
          { model: 'DeviceCode', uid: null, user_code: storedId('ABCD-EFGH') },
          { model: 'Interaction', uid: null, user_code: null },
          { model: 'Session', uid: storedId('uid-1'), user_code: null },
        ],
      );
      assert.deepEqual(await interactions.find('int-1'), {
        jti: 'int-1',
        returnTo: resume,
        session: { accountId: 'a', uid: 'uid-1' },
      });
      assert.deepEqual(await sessions.findByUid('uid-1'), { uid: 'uid-1', accountId: 'a' });
      assert.deepEqual(await codes.findByUserCode('ABCD-EFGH'), { userCode: 'ABCD-EFGH' });
      assert.equal(await sessions.find(storedId('sess-1')), undefined, 'the hash redeems nothing');
      // Saved again, a consumed row is fresh.
      await sessions.consume('sess-1');
      await sessions.upsert('sess-1', { jti: 'sess-1', uid: 'uid-1', accountId: 'b' }, 60);
      assert.deepEqual(await sessions.find('sess-1'), {
        jti: 'sess-1',
        uid: 'uid-1',
        accountId: 'b',
      });
    });

    test('guests: a known id keeps its first name and path; expired ones are not found and are purged', async () => {
      const guests = new GuestStore(db, 3600);
      const g = await guests.put({ id: 'guest-1', name: 'River', path: 'group/ship' });
      assert.deepEqual(g, { id: 'guest-1', name: 'River', path: 'group/ship' });
      assert.deepEqual(await guests.put({ id: 'guest-1', name: 'Other', path: 'group/x' }), g);
      assert.deepEqual(await guests.find('guest-1'), g);
      assert.equal(await guests.find('guest-2'), undefined);
      const gone = new GuestStore(db, -1);
      await gone.put({ id: 'guest-3', name: 'Simon', path: 'group/ship' });
      assert.equal(await gone.find('guest-3'), undefined);
      await gone.purgeExpired();
      assert.equal(
        (await db.all("SELECT id FROM guests WHERE id = 'guest-3'")).length,
        0,
        'purged',
      );
    });

    test('chat archive: the latest messages of a room since a time, oldest first, ties in the order said', async () => {
      const chat = new SqlChatArchive(db, silentLogger());
      const at = Date.now();
      const entry = (id: string, t: number, guest = false) => ({
        at: t,
        data: { kind: '', id, ts: Math.floor(t / 1000), sender: 'u', target: '', text: `m ${id}` },
        profile: guest ? { name: 'Guest G', guest: true } : { name: 'User U' },
      });
      chat.append('group/a', entry('1', at - 5000), 0);
      chat.append('group/a', entry('2', at), 0);
      chat.append('group/a', entry('3', at, true), 0);
      chat.append('group/b', entry('4', at), 0);
      chat.append('group/a', entry('2', at), 0); // the same message again: kept once
      await chat.flush();
      const ids = async (since: number, limit = 10) =>
        (await chat.recent('group/a', since, limit)).map((e) => e.data.id);
      assert.deepEqual(await ids(0), ['1', '2', '3']);
      assert.deepEqual(await ids(at - 1000), ['2', '3']);
      assert.deepEqual(await ids(0, 2), ['2', '3'], 'the latest ones');
      const [, , third] = await chat.recent('group/a', 0, 10);
      assert.deepEqual(third, entry('3', at, true));
      chat.purge(at - 1000);
      await chat.flush();
      assert.deepEqual(await ids(0), ['2', '3']);
      chat.purge(Number.POSITIVE_INFINITY);
      await chat.flush();
      assert.deepEqual(await chat.recent('group/b', 0, 10), []);
    });

    test('answered calls: known after a restart (loaded again), in either role; forgotten ones are not', async () => {
      const calls = await SqlAnsweredCalls.load(db, silentLogger());
      calls.record('*c1', 'alice', 'bob');
      calls.record('*c2', 'alice', 'carol');
      calls.forget('*c2');
      await calls.flush();
      const again = await SqlAnsweredCalls.load(db, silentLogger());
      assert.equal(again.has('*c1', 'bob', 'alice'), true);
      assert.equal(again.has('*c1', 'bob', 'carol'), false);
      assert.equal(again.has('*c2', 'alice', 'carol'), false);
    });

    test('a transaction that fails writes nothing; other statements wait for it or go beside it', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.run(
            "INSERT INTO guests (id, name, path, created_at, expires_at) VALUES ('tx-1', 'A', 'group/a', 0, 9999999999)",
          );
          await tx.run(
            "INSERT INTO guests (id, name, path, created_at, expires_at) VALUES ('tx-1', 'B', 'group/a', 0, 9999999999)",
          );
        }),
      );
      const [inTx, outside] = await Promise.all([
        db.transaction(async (tx) => {
          await tx.run(
            "INSERT INTO guests (id, name, path, created_at, expires_at) VALUES ('tx-2', 'A', 'group/a', 0, 9999999999)",
          );
          await new Promise((r) => setTimeout(r, 50));
          return tx.all("SELECT id FROM guests WHERE id LIKE 'tx-%'");
        }),
        db.all("SELECT id FROM guests WHERE id LIKE 'tx-%'"),
      ]);
      assert.deepEqual(inTx, [{ id: 'tx-2' }], 'the first of the two rows did not stay');
      // SQLite's one connection: the other statement waited for the commit. PostgreSQL's other
      // connection: it went beside it and saw nothing uncommitted.
      assert.deepEqual(outside, db.dialect === 'sqlite' ? [{ id: 'tx-2' }] : []);
    });

    test('secrets: two makers at once get the same one; updates are made on what is there', async () => {
      const secrets: SecretStore =
        db.dialect === 'sqlite' ? new FileSecrets(tempDir('confab-secrets-')) : new SqlSecrets(db);
      const [a, b] = await Promise.all([
        secrets.getOrCreate('signaling/pair-hash.key', () => 'first'),
        secrets.getOrCreate('signaling/pair-hash.key', () => 'second'),
      ]);
      assert.equal(a, b);
      // Two nodes starting at once: one set of signing keys.
      const [k1, k2] = await Promise.all([
        SigningKeys.loadOrCreate(secrets),
        SigningKeys.loadOrCreate(secrets),
      ]);
      assert.deepEqual(k1.publicJwks(), k2.publicJwks());
      assert.equal(k1.publicJwks().length, 2);
      const fresh = await SigningKeys.rotate(secrets, 3600);
      const after = await SigningKeys.loadOrCreate(secrets);
      assert.equal(after.publicJwks().length, 4, 'the old keys stay published');
      assert.equal(
        after.privateJwks().find((k) => k.alg === 'ES256')?.kid,
        fresh.find((k) => k.alg === 'ES256')?.kid,
      );
      assert.deepEqual([...(await secrets.list()).keys()].sort(), [
        'identity/signing-keys.json',
        'signaling/pair-hash.key',
      ]);
    });
  });
}

test('a database newer than this Confab is refused, SQLite and PostgreSQL alike', async () => {
  const dir = tempDir('confab-newer-');
  const lite = openSqlite(dir);
  lite.db.pragma(`user_version = ${migrations.length + 1}`);
  await lite.close();
  assert.throws(() => openSqlite(dir), /newer than this Confab knows/);

  cluster ??= await startPostgres();
  const url = await cluster.createDatabase('newer');
  const db = await openPostgres(
    { database_url: url, database_password_file: undefined },
    silentLogger(),
  );
  await db.run('INSERT INTO confab_schema (version, name, applied_at) VALUES (?, ?, ?)', [
    migrations.length + 1,
    'from the future',
    Date.now(),
  ]);
  await db.close();
  await assert.rejects(
    openPostgres({ database_url: url, database_password_file: undefined }, silentLogger()),
    /newer than this Confab knows/,
  );
});

test('PostgreSQL: four nodes opening one empty database at once migrate it once, under the lock', async () => {
  cluster ??= await startPostgres();
  const url = await cluster.createDatabase('at_once');
  const logged: string[] = [];
  const log = silentLogger();
  const recording = Object.assign(Object.create(log), {
    info: (_obj: unknown, msg: string) => logged.push(msg),
    child: () => recording,
  });
  const nodes = await Promise.all(
    [1, 2, 3, 4].map(() =>
      openPostgres({ database_url: url, database_password_file: undefined }, recording),
    ),
  );
  try {
    assert.equal(logged.filter((m) => m === 'database: migrated').length, 1);
    const rows = await nodes[0]?.all<{ version: number }>(
      'SELECT version FROM confab_schema ORDER BY version',
    );
    assert.deepEqual(
      rows?.map((r) => r.version),
      migrations.map((_m, i) => i + 1),
    );
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
});
