import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lobbyRetryMs, type WebrtcClientMessage } from '@confab/protocol';
import type { Connection } from '../signaling/index.js';
import { type Knocking, Lobby } from './Lobby.js';

const knock = (user: string, conn = `c-${user}`, guest = false): Knocking => ({
  conn: { id: conn, closed: false } as Connection,
  msg: {} as WebrtcClientMessage,
  user,
  name: user.toUpperCase(),
  guest,
});

test('asks wait in order; the same user asking again keeps one place (the earlier ask is handed back)', () => {
  const lobby = new Lobby(3);
  lobby.add(knock('a'));
  lobby.add(knock('b', 'c-b', true));
  const again = knock('a', 'c-a2');
  assert.equal(lobby.add(again)?.conn.id, 'c-a');
  assert.deepEqual(
    lobby.list().map((k) => [k.id, k.guest]),
    [
      ['b', true],
      ['a', false],
    ],
  );
  assert.equal(lobby.takeFirstRegistered()?.conn.id, 'c-a2');
  assert.equal(lobby.size, 1);
});

test('one turned away may ask again after lobbyRetryMs, not sooner; a full lobby refuses', () => {
  const lobby = new Lobby(2);
  const t0 = 1_000_000;
  lobby.add(knock('a'), t0);
  lobby.take('a');
  lobby.denied('a', t0);
  assert.throws(() => lobby.add(knock('a'), t0 + lobbyRetryMs - 1), { code: 'rate_limited' });
  lobby.add(knock('a'), t0 + lobbyRetryMs);
  lobby.add(knock('b'), t0 + lobbyRetryMs);
  assert.throws(() => lobby.add(knock('c'), t0 + lobbyRetryMs), { code: 'conference_full' });
});

test('an ask whose connection closed is over: not listed, and its place is free', () => {
  const lobby = new Lobby(1);
  const k = knock('a');
  lobby.add(k);
  (k.conn as { closed: boolean }).closed = true;
  assert.deepEqual(lobby.list(), []);
  lobby.add(knock('b'));
  assert.equal(lobby.leave('c-b'), true);
  assert.equal(lobby.leave('c-b'), false);
});
