import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import { runConfab } from '../../../test/support/confabProcess.js';
import { testRp, tokensFor } from '../../../test/support/oidcFlow.js';
import { RtmClient, rtmConnect } from '../../../test/support/rtmClient.js';
import { channelOf, FakeBridge, joined, participants } from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

const basic = `Basic ${Buffer.from(`${testRp.id}:${testRp.secret}`).toString('base64')}`;

/** A sign-in of its own (its own grant) for test-rp: access, ID and refresh token. */
const signIn = (server: TestServer, username: string) =>
  tokensFor(server.localUrl, username, `${username}-pw`);

const gc = (server: TestServer, token: string) =>
  fetch(new URL('/api/gc/v1/me', server.localUrl), {
    headers: { authorization: `Bearer ${token}` },
  });

/**
 * Sessions end with their user or their sign-in (issue 19): a removed user's open socket, a
 * revoked grant's, are told goodbye and closed with 4001; their tokens open nothing new.
 */
describe('signaling sessions end when their user is removed or their sign-in revoked', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  before(async () => {
    // A long reconnect grace: a removed user must leave at once all the same.
    ({ server, users } = await startSignaling(
      'call_reconnect_grace: 60\nconference_empty_timeout: 0\n',
    ));
    bridge = await FakeBridge.forServer(server);
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });

  test('`confab user remove` while connected: goodbye and 4001 within 5 s, out of the conference at once; the token opens nothing any more', async () => {
    const token = users.carol?.token as string;
    const { refresh_token: refresh } = await signIn(server, 'carol');
    const carol = await RtmClient.open(server.localUrl, token);
    const alice = await RtmClient.open(server.localUrl, users.alice?.token as string);
    await joined(alice, 'group/team');
    await joined(carol, 'group/team');
    await alice.next((m) => channelOf('group/team')(m) && participants(m).length === 2);
    assert.equal((await gc(server, token)).status, 200);

    // Timed from before the command runs: its start-up counts against the bound too.
    const started = Date.now();
    const removed = await runConfab(['user', 'remove', 'carol', '--data-dir', server.dataDir]);
    assert.equal(removed.code, 0, removed.stderr);
    const closed = await carol.closed;
    const after = Date.now() - started;
    assert.equal(closed.code, 4001);
    assert.ok(after <= 5000, `closed ${after} ms after the removal`);
    assert.ok(carol.received.some((m: ServerMessage) => m.type === 'goodbye'));
    // Not waited for (call_reconnect_grace is a minute): the others see Carol leave now.
    const update = await alice.next(
      (m) => channelOf('group/team')(m) && participants(m).length === 1,
      3000,
    );
    assert.equal(participants(update as never)[0]?.id, users.alice?.id);

    const connect = await rtmConnect(server.localUrl, token);
    assert.equal(connect.status, 403);
    assert.equal((connect.body as { error: { code: string } }).error.code, 'invalid_token');
    const me = await gc(server, token);
    assert.equal(me.status, 401);
    assert.match(me.headers.get('www-authenticate') ?? '', /no longer exists/);
    const turn = await fetch(new URL('/api/kwm/v2/rtm/turn', server.localUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(turn.status, 403);
    // Nor can the sign-in be renewed.
    const renewed = await fetch(new URL('/konnect/v1/token', server.localUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh as string }),
    });
    assert.equal(renewed.status, 400);
    assert.equal(((await renewed.json()) as { error: string }).error, 'invalid_grant');
    await alice.close();
  });

  test('a revoked sign-in (refresh token revocation) ends its sessions at once; the user’s other sign-in goes on', async () => {
    const first = await signIn(server, 'bob');
    const second = await signIn(server, 'bob');
    const revokedSocket = await RtmClient.open(server.localUrl, first.access_token);
    const other = await RtmClient.open(server.localUrl, second.access_token);

    const res = await fetch(new URL('/konnect/v1/revocation', server.localUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({
        token: first.refresh_token as string,
        token_type_hint: 'refresh_token',
      }),
    });
    assert.equal(res.status, 200);
    const started = Date.now();
    assert.equal((await revokedSocket.closed).code, 4001);
    assert.ok(Date.now() - started < 2000);
    assert.equal((await rtmConnect(server.localUrl, first.access_token)).status, 403);

    const id = other.send({ type: 'ping' });
    await other.next((m) => m.type === 'pong' && m.id === id);
    assert.equal((await gc(server, second.access_token)).status, 200);
    await other.close();
  });

  test('a grant removed from the database by another process ends its sessions at the next check, without any event', async () => {
    const tokens = await signIn(server, 'alice');
    const socket = await RtmClient.open(server.localUrl, tokens.access_token);
    const claims = JSON.parse(
      Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString(),
    ) as { grant_id?: string };
    assert.ok(claims.grant_id, 'access tokens name their grant');
    // What another process would do: the grant's row goes, no event reaches this one.
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(path.join(server.dataDir, 'confab.sqlite'));
    const row = createHash('sha256').update(claims.grant_id).digest('base64url');
    db.prepare("DELETE FROM oidc_payloads WHERE model = 'Grant' AND id = ?").run(row);
    db.close();
    // No revocation event came: the check that the database changed (data_version) finds it.
    // Without that signal (PostgreSQL, another node) the periodic check, every 30 s, would.
    const started = Date.now();
    assert.equal((await socket.closed).code, 4001);
    assert.ok(Date.now() - started < 5000);
  });
});
