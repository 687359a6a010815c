import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chatMessage,
  chatMessageInSchema,
  chatQueuedMessage,
  clientMessageSchema,
  errorMessage,
  type ServerMessage,
  serverMessageSchema,
} from '@confab/protocol';
import { ChatController } from './ChatController.js';

const channel = '@group/team';

function chatter() {
  const sent: Record<string, unknown>[] = [];
  const chat = new ChatController({
    send: (m) => {
      const withId = { ...m, id: sent.length + 1 };
      // What the server parses, as strictly as it does.
      const parsed = clientMessageSchema.parse(JSON.parse(JSON.stringify(withId)));
      assert.equal(parsed.type, 'chats');
      chatMessageInSchema.parse(parsed.type === 'chats' ? parsed.data : undefined);
      sent.push(withId);
      return sent.length;
    },
    self: () => ({ id: 'alice', name: 'Alice' }),
  });
  const receive = (m: ServerMessage) => {
    const parsed = serverMessageSchema.parse(JSON.parse(JSON.stringify(m)));
    assert.equal(chat.handles(parsed), true);
    chat.handle(parsed);
  };
  return { chat, sent, receive };
}

const said = (id: string, sender: string, text: string, ts = 1_780_000_000) => ({
  kind: '',
  id,
  ts,
  sender,
  target: '',
  text,
});

test('a message goes out as kwmjs sends it, trimmed, and shows as one’s own when the server replies', () => {
  const { chat, sent, receive } = chatter();
  assert.equal(chat.send('hello'), false, 'no channel, nothing sent');
  chat.setChannel(channel);
  assert.equal(chat.send('   '), false);
  assert.equal(chat.send('  hello  '), true);
  assert.deepEqual(sent[0], {
    type: 'chats',
    subtype: 'chats_message',
    channel,
    v: 20201201,
    data: { kind: '', sender: '', target: '', id: '', text: 'hello' },
    id: 1,
  });
  receive(chatMessage({ channel, data: said('m1', 'alice', 'hello'), reply_to: 1 }));
  receive(chatQueuedMessage({ channel, id: 'm1' }));
  const [line] = chat.getState().lines;
  assert.deepEqual(line, {
    id: 'm1',
    sender: 'alice',
    self: true,
    name: 'Alice',
    guest: false,
    at: 1_780_000_000_000,
    text: 'hello',
  });
  assert.equal(chat.getState().unread, 0, 'one’s own is never unread');
});

test('others’ messages count as unread while the panel is closed, history never; each message once; opening clears the count', () => {
  const { chat, receive } = chatter();
  chat.setChannel(channel);
  receive(
    chatMessage({
      channel,
      data: said('h1', 'bob', 'before you came'),
      profile: { name: 'Bob' },
      history: true,
    }),
  );
  receive(
    chatMessage({
      channel,
      data: said('m2', 'guest-x', '<img src=x onerror=alert(1)>'),
      profile: { name: 'John', guest: true },
    }),
  );
  receive(
    chatMessage({ channel, data: said('m2', 'guest-x', 'again'), profile: { name: 'John' } }),
  );
  const s = chat.getState();
  assert.deepEqual(
    s.lines.map((l) => [l.name, l.guest, l.text]),
    [
      ['Bob', false, 'before you came'],
      ['John', true, '<img src=x onerror=alert(1)>'],
    ],
  );
  assert.equal(s.unread, 1);
  chat.setOpen(true);
  assert.equal(chat.getState().unread, 0);
  receive(chatMessage({ channel, data: said('m3', 'bob', 'seen'), profile: { name: 'Bob' } }));
  assert.equal(chat.getState().unread, 0, 'read as it comes while open');
});

test('another call’s chat is its own, and a meeting left takes its chat along; a refused message says why; a message too long is not sent', () => {
  const { chat, sent, receive } = chatter();
  // The history a join brings may come before the screen shows the group.
  receive(
    chatMessage({
      channel,
      data: said('h1', 'bob', 'earlier'),
      profile: { name: 'Bob' },
      history: true,
    }),
  );
  chat.setChannel(channel);
  receive(
    chatMessage({ channel, data: said('m1', 'bob', 'in the group'), profile: { name: 'Bob' } }),
  );
  assert.equal(chat.getState().lines.length, 2);
  chat.setChannel('*CallChannel');
  assert.deepEqual(chat.getState().lines, []);
  chat.setChannel(undefined);
  chat.setChannel(channel);
  assert.deepEqual(chat.getState().lines, [], 'the meeting left (or ended) took its chat along');
  chat.send('one too many');
  receive(errorMessage('rate_limited', 'too many', sent.length));
  assert.equal(chat.getState().failed, 'rate_limited');
  const before = sent.length;
  assert.equal(chat.send('😀'.repeat(4097)), false);
  assert.equal(sent.length, before);
  assert.equal(chat.getState().failed, 'too_long');
  // An error that answers no chat message is not the chat's.
  assert.equal(chat.handles(errorMessage('bad_message', 'x', 999)), false);
});
