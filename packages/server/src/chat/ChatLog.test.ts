import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatsClientMessage, ServerMessage } from '@confab/protocol';
import { silentLogger } from '../logging/index.js';
import { type ChatArchive, type ChatEntry, MemoryChatHistory } from './ChatArchive.js';
import { ChatLog } from './ChatLog.js';

const said = (id: string, text: string, at: number): ChatEntry => ({
  at,
  data: { kind: '', id, ts: Math.floor(at / 1000), sender: 'u1', target: '', text },
  profile: { name: 'Uma' },
});

const message = (text: string): ChatsClientMessage => ({
  type: 'chats',
  id: 1,
  subtype: 'chats_message',
  channel: '@group/r',
  data: { kind: '', sender: '', target: '', id: 'c1', text },
});

test('a member who joins while the archive answers gets the history first, then what was said meanwhile', async () => {
  let answer: (entries: ChatEntry[]) => void = () => {};
  const archive: ChatArchive = {
    append() {},
    recent: () =>
      new Promise((resolve) => {
        answer = resolve;
      }),
    purge() {},
  };
  const delivered: { conn: string; text: string; history: boolean }[] = [];
  const log = new ChatLog({
    channel: '@group/r',
    history: new MemoryChatHistory(),
    meeting: 'm1',
    archive: { store: archive, room: 'group/r', retentionMs: 3600_000 },
    deliver: (conn: string, m: ServerMessage) => {
      const data = (m as { data?: { text?: string }; history?: boolean }).data;
      if (data?.text)
        delivered.push({
          conn,
          text: data.text,
          history: (m as { history?: boolean }).history === true,
        });
    },
    logger: silentLogger(),
  });
  log.replay('late');
  log.post({ user: 'u2', name: 'Vic', guest: false, conn: 'early' }, message('live one'), [
    'early',
    'late',
  ]);
  assert.deepEqual(
    delivered.filter((d) => d.conn === 'late'),
    [],
    'held until the history is there',
  );
  answer([said('a1', 'from last week', Date.now() - 1000)]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    delivered.filter((d) => d.conn === 'late'),
    [
      { conn: 'late', text: 'from last week', history: true },
      { conn: 'late', text: 'live one', history: false },
    ],
  );
  // Once loaded, a replay is sent at once.
  log.replay('later');
  assert.deepEqual(
    delivered.filter((d) => d.conn === 'later').map((d) => d.text),
    ['from last week', 'live one'],
  );
});
