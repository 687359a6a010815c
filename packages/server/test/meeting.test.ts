import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chatsVersion, pipelinePeerId, type ServerMessage } from '@confab/protocol';
import Database from 'better-sqlite3';
import { type GuestTokens, guestSignInOverHttp } from '../../../test/support/oidcFlow.js';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import {
  channelOf,
  FakeBridge,
  isError,
  join,
  joined,
  participants,
  pipelineSignal,
} from './fakeBridge.js';
import { startTestServer, type TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

type Chats = Extract<ServerMessage, { type: 'chats' }>;
type ChatData = { id: string; ts: number; sender: string; text: string; kind: string };

/** A `chats_message` as kwmjs 1.3.1's `doSendChatMessage` sends it. */
function say(client: RtmClient, channel: string, text: unknown, fields: object = {}): number {
  return client.send({
    type: 'chats',
    subtype: 'chats_message',
    channel,
    v: chatsVersion,
    transaction: '',
    data: { kind: '', sender: '', target: '', id: '', text, ...fields },
  });
}
const isChat =
  (text?: string) =>
  (m: ServerMessage): m is Chats =>
    m.type === 'chats' &&
    m.subtype === 'chats_message' &&
    (text === undefined || (m.data as ChatData).text === text);
const dataWith =
  (group: string, key: string) =>
  (m: ServerMessage): m is ServerMessage & LooseWebrtcFrame =>
    channelOf(group)(m) && (m.data as Record<string, unknown> | undefined)?.[key] !== undefined;
const groupNews = (group: string) => dataWith(group, 'group');
type Participant = ReturnType<typeof participants>[number] & {
  hand?: number;
  muted: boolean;
};
const people = (m: LooseWebrtcFrame) => participants(m) as Participant[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(yaml = '', grace = 0) {
  const { server, users } = await startSignaling(
    `conference_empty_timeout: 0\ncall_reconnect_grace: ${grace}\nmax_participants: 6\n${yaml}`,
  );
  const bridge = await FakeBridge.forServer(server);
  const open = (who: string) => RtmClient.open(server.localUrl, users[who]?.token as string);
  const tokenOf = new Map<RtmClient, string>();
  const guest = async (room: string, name: string) => {
    const t: GuestTokens = await guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: room,
      name,
    });
    const client = await RtmClient.open(server.localUrl, t.accessToken);
    tokenOf.set(client, t.accessToken);
    return client;
  };
  /** The same guest on a second connection (another tab). */
  const guestAgain = (g: RtmClient) => RtmClient.open(server.localUrl, tokenOf.get(g) as string);
  return { server, users, bridge, open, guest, guestAgain };
}

describe('chat in a group: kwm chats, late joiners see it, guests only since they came, limits', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  let open: (who: string) => Promise<RtmClient>;
  let guest: (room: string, name: string) => Promise<RtmClient>;
  let guestAgain: (g: RtmClient) => Promise<RtmClient>;
  before(async () => {
    ({ server, users, bridge, open, guest, guestAgain } = await start());
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });

  test('a message reaches the others with its author; the sender gets the reply and the delivery report; a late joiner gets it as history, a guest does not', async () => {
    const room = 'group/public/chat';
    const channel = `@${room}`;
    const alice = await open('alice');
    const bob = await open('bob');
    await joined(alice, room);
    await joined(bob, room);
    const id = say(alice, channel, '  <script>alert(1)</script> see javascript:alert(1)  ');
    const reply = (await alice.next((m) => isChat()(m) && m.reply_to === id)) as Chats;
    const data = reply.data as ChatData;
    assert.equal(data.text, '<script>alert(1)</script> see javascript:alert(1)', 'trimmed, as is');
    assert.equal(data.sender, users.alice?.id);
    assert.equal(data.kind, '');
    assert.match(data.id, /^[A-Za-z0-9_-]{12}$/);
    assert.ok(Math.abs(data.ts - Date.now() / 1000) < 5, 'unix seconds');
    assert.equal(reply.channel, channel);
    const queued = (await alice.next(
      (m) => m.type === 'chats' && m.subtype === 'chats_system',
    )) as Chats;
    assert.deepEqual(queued.data, { id: data.id, kind: 'delivery_queued' });
    const atBob = (await bob.next(isChat())) as Chats;
    assert.deepEqual(atBob.data, data);
    assert.deepEqual(atBob.profile, { name: 'Alice Liddell' });
    assert.equal(atBob.history, undefined);
    assert.ok(await alice.nothing(isChat(), 200), 'the sender gets no second copy');

    say(bob, channel, 'second');
    await alice.next(isChat('second'));

    // Carol joins late: the join reply, then what was said, in order, marked as history.
    const carol = await open('carol');
    await joined(carol, room);
    const h1 = (await carol.next(isChat())) as Chats;
    const h2 = (await carol.next(isChat())) as Chats;
    assert.deepEqual(
      [h1, h2].map((m) => [(m.data as ChatData).text, m.profile?.name, m.history]),
      [
        [data.text, 'Alice Liddell', true],
        ['second', 'Bob Builder', true],
      ],
    );

    // A guest joining late sees nothing said before it came; its own messages are marked.
    const john = await guest(room, 'John Doe');
    await joined(john, room);
    assert.ok(await john.nothing(isChat(), 300), 'a guest gets no history');
    say(john, channel, 'hello from a guest');
    const fromGuest = (await alice.next(isChat('hello from a guest'))) as Chats;
    assert.deepEqual(fromGuest.profile, { name: 'John Doe', guest: true });
    say(alice, channel, 'welcome John');
    await john.next(isChat('welcome John'));
    // John's second tab carries his membership on: it gets what was said since he joined
    // (his own message and Alice's welcome), nothing from before.
    const john2 = await guestAgain(john);
    await joined(john2, room);
    const h = [(await john2.next(isChat())) as Chats, (await john2.next(isChat())) as Chats].map(
      (m) => (m.data as ChatData).text,
    );
    assert.deepEqual(h, ['hello from a guest', 'welcome John']);
    assert.ok(await john2.nothing(isChat(), 200));
    await john2.close();
    // A guest may not chat anywhere but its room.
    say(john, '@group/other', 'elsewhere');
    await john.next(isError('access_restricted'));
    await Promise.all([alice.close(), bob.close(), carol.close(), john.close()]);
  });

  test('empty, oversized, malformed and foreign messages are refused with stable codes and reach nobody; a flood is cut at the budget', async () => {
    const room = 'group/chat-limits';
    const channel = `@${room}`;
    const alice = await open('alice');
    const bob = await open('bob');
    await joined(alice, room);
    await joined(bob, room);
    const refused = async (id: number, code: string) => {
      const e = await alice.next((m) => m.type === 'error' && m.reply_to === id);
      assert.equal(e.type === 'error' && e.error.code, code, `message ${id}`);
    };
    await refused(say(alice, channel, '   '), 'bad_message');
    await refused(say(alice, channel, 'x'.repeat(4097)), 'payload_too_large');
    await refused(say(alice, channel, 7), 'bad_message');
    await refused(say(alice, channel, 'hi', { sender: users.bob?.id }), 'bad_message');
    await refused(say(alice, channel, 'hi', { target: users.bob?.id }), 'bad_message');
    await refused(say(alice, channel, 'hi', { kind: 'system' }), 'bad_message');
    await refused(say(alice, channel, 'hi', { extra: { id: 'joined' } }), 'bad_message');
    await refused(say(alice, channel, 'hi', { html: '<b>' }), 'bad_message');
    await refused(say(alice, '@group/nowhere', 'hi'), 'bad_message');
    await refused(say(alice, '*NoSuchCallChannelAtAll0000', 'hi'), 'bad_message');
    await refused(
      alice.send({ type: 'chats', subtype: 'chats_nonsense', channel, v: chatsVersion, data: {} }),
      'bad_message',
    );
    assert.ok(await bob.nothing(isChat(), 200), 'nothing refused reached Bob');
    // Not a member of the room.
    const carol = await open('carol');
    const id = say(carol, channel, 'let me in');
    const e = await carol.next((m) => m.type === 'error' && m.reply_to === id);
    assert.equal(e.type === 'error' && e.error.code, 'bad_message');
    // 4,096 characters are taken even when each is two UTF-16 units.
    say(alice, channel, '😀'.repeat(4096));
    const long = (await bob.next(isChat())) as Chats;
    assert.equal([...(long.data as ChatData).text].length, 4096);

    // A flood: the budget (10 at once, the one above among them), then rate_limited; the
    // connection and the room go on.
    const ids = Array.from({ length: 14 }, (_, i) => say(alice, channel, `flood ${i}`));
    const last = ids.at(-1) as number;
    await refused(last, 'rate_limited');
    await sleep(200);
    const got = bob.received.filter((m) => isChat()(m) && /^flood/.test((m.data as ChatData).text));
    assert.equal(got.length, 9, 'nine more within the budget reached Bob');
    say(bob, channel, 'still here');
    await alice.next(isChat('still here'));
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  test('chat in a one-to-one call reaches the other member only; nobody else may write in its channel', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.bob?.id,
      initiator: true,
      state: 'st-1',
    });
    const ring = (await bob.next(
      (m) => m.type === 'webrtc' && m.subtype === 'webrtc_call',
    )) as LooseWebrtcFrame;
    bob.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.alice?.id,
      channel: ring.channel,
      hash: ring.hash,
      state: 'st-1',
      data: { accept: true, state: 'st-1' },
    });
    await alice.next((m) => m.type === 'webrtc' && m.subtype === 'webrtc_call');
    const channel = ring.channel as string;
    say(alice, channel, 'hi Bob');
    const got = (await bob.next(isChat('hi Bob'))) as Chats;
    assert.equal(got.channel, channel);
    assert.deepEqual(got.profile, { name: 'Alice Liddell' });
    say(bob, channel, 'hi Alice');
    await alice.next(isChat('hi Alice'));
    const carol = await open('carol');
    const id = say(carol, channel, 'eavesdrop');
    const e = await carol.next((m) => m.type === 'error' && m.reply_to === id);
    assert.equal(e.type === 'error' && e.error.code, 'bad_message');
    assert.ok(await bob.nothing(isChat('eavesdrop'), 200));
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });
});

test('a member back from a signaling drop gets what it missed, not again what it had', async () => {
  const { server, bridge, open, users } = await start('', 30);
  try {
    const room = 'group/away';
    const alice = await open('alice');
    await joined(alice, room);
    const bob = await open('bob');
    await joined(bob, room);
    const { endpoint } = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === bob.userId,
    );
    say(alice, `@${room}`, 'before the drop');
    await bob.next(isChat('before the drop'));
    bob.ws.terminate();
    await sleep(200);
    say(alice, `@${room}`, 'while Bob was away');
    await alice.next((m) => isChat('while Bob was away')(m));
    const back = await RtmClient.open(server.localUrl, users.bob?.token as string);
    join(back, room, { p2p: true, session: endpoint });
    await back.next((m) => channelOf(room)(m) && !!m.hash);
    const missed = (await back.next(isChat())) as Chats;
    assert.equal((missed.data as ChatData).text, 'while Bob was away');
    assert.equal(missed.history, true);
    assert.ok(await back.nothing(isChat(), 300), 'only what it missed');
    await Promise.all([alice.close(), back.close()]);
  } finally {
    await bridge.close();
    await server.close();
  }
});

describe('chat_retention: a room reopened shows what was said to registered users, never to guests', () => {
  test('kept for the retention and shown in the next meeting; with 0, a meeting starts with no chat', async () => {
    for (const retention of [3600, 0]) {
      const { server, bridge, open, guest } = await start(`chat_retention: ${retention}\n`);
      try {
        const room = 'group/public/kept';
        const alice = await open('alice');
        await joined(alice, room);
        say(alice, `@${room}`, 'minutes of the last meeting');
        await alice.next(isChat());
        await alice.close();
        // The meeting ended (empty timeout 0); the room is opened again.
        await sleep(150);
        const bob = await open('bob');
        await joined(bob, room);
        const john = await guest(room, 'John Doe');
        await joined(john, room);
        if (retention > 0) {
          const h = (await bob.next(isChat())) as Chats;
          assert.equal((h.data as ChatData).text, 'minutes of the last meeting');
          assert.equal(h.history, true);
          assert.deepEqual(h.profile, { name: 'Alice Liddell' });
        } else assert.ok(await bob.nothing(isChat(), 300), 'retention 0 keeps nothing');
        assert.ok(await john.nothing(isChat(), 200), 'the guest sees no earlier meeting');
        await Promise.all([bob.close(), john.close()]);
      } finally {
        await bridge.close();
        await server.close();
      }
    }
  });
});

test('chat kept for chat_retention is deleted at start once the retention is lowered to 0', async () => {
  const { server, bridge, open } = await start('chat_retention: 3600\n');
  const rows = () => {
    const db = new Database(path.join(server.dataDir, 'confab.sqlite'), { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM chat_messages').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  try {
    const alice = await open('alice');
    await joined(alice, 'group/kept-then-not');
    say(alice, '@group/kept-then-not', 'kept for an hour');
    await alice.next(isChat());
    await alice.close();
  } finally {
    await bridge.close();
    await server.close();
  }
  assert.equal(rows(), 1);
  const again = await startTestServer({ dir: server.dir, yaml: 'chat_retention: 0\n' });
  await again.close();
  assert.equal(rows(), 0, 'nothing kept past the retention');
});

describe('hands, reactions and the host controls, enforced by the focus', () => {
  let users: Users;
  let server: TestServer;
  let bridge: FakeBridge;
  let open: (who: string) => Promise<RtmClient>;
  before(async () => {
    ({ server, users, bridge, open } = await start());
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });

  async function room3(room: string) {
    const alice = await open('alice');
    const bob = await open('bob');
    const carol = await open('carol');
    const hashes: Record<'alice' | 'bob' | 'carol', string> = {
      alice: await joined(alice, room),
      bob: await joined(bob, room),
      carol: await joined(carol, room),
    };
    const act = (who: 'alice' | 'bob' | 'carol', data: unknown) =>
      pipelineSignal({ alice, bob, carol }[who], room, hashes[who], data);
    const all = [alice, bob, carol];
    // Everyone's news so far is drained: each test reads what its actions bring.
    await sleep(100);
    for (const c of all) c.received.length = 0;
    return { alice, bob, carol, act, all, hashes };
  }
  const refusedWith = async (c: RtmClient, id: number, code: string) => {
    const e = await c.next((m) => m.type === 'error' && m.reply_to === id);
    assert.equal(e.type === 'error' && e.error.code, code);
  };

  test('hands go up in order for everyone, the owner lowers anyone’s, nobody else does', async () => {
    const room = 'group/hands';
    const { alice, bob, carol, act, all } = await room3(room);
    act('carol', { hand: true });
    await sleep(5);
    act('bob', { hand: true });
    const seen = await alice.next(
      (m) => groupNews(room)(m) && people(m).filter((p) => p.hand).length === 2,
    );
    const up = people(seen as LooseWebrtcFrame)
      .filter((p) => p.hand !== undefined)
      .sort((a, b) => (a.hand as number) - (b.hand as number))
      .map((p) => p.name);
    assert.deepEqual(up, ['Carol Danvers', 'Bob Builder'], 'in the order they went up');
    await refusedWith(
      bob,
      act('bob', { lowerHand: { user: users.carol?.id } }),
      'access_restricted',
    );
    act('alice', { lowerHand: { user: users.carol?.id } });
    const lowered = await bob.next(
      (m) =>
        groupNews(room)(m) &&
        people(m).filter((p) => p.hand).length === 1 &&
        people(m).find((p) => p.name === 'Carol Danvers')?.hand === undefined,
    );
    assert.equal(people(lowered as LooseWebrtcFrame).find((p) => p.hand)?.name, 'Bob Builder');
    act('bob', { hand: false });
    await carol.next((m) => groupNews(room)(m) && people(m).every((p) => !p.hand));
    for (const c of all) await c.close();
  });

  test('a reaction reaches everyone, the sender too; an unknown one is refused; a flood is cut', async () => {
    const room = 'group/reactions';
    const { alice, bob, carol, act, all } = await room3(room);
    act('bob', { reaction: 'clap' });
    for (const c of [alice, bob, carol]) {
      const r = (await c.next(dataWith(room, 'reaction'))) as LooseWebrtcFrame;
      assert.deepEqual(r.data, { reaction: { user: users.bob?.id, reaction: 'clap' } });
    }
    await refusedWith(bob, act('bob', { reaction: 'poop' }), 'bad_message');
    const ids = Array.from({ length: 10 }, () => act('carol', { reaction: 'heart' }));
    await refusedWith(carol, ids.at(-1) as number, 'rate_limited');
    await sleep(150);
    const hearts = alice.received.filter(dataWith(room, 'reaction')).length;
    assert.equal(hearts, 8, 'the budget: 8 at once');
    // Joining again (another tab) does not refill it.
    const carol2 = await open('carol');
    const hash2 = await joined(carol2, room);
    await refusedWith(
      carol2,
      pipelineSignal(carol2, room, hash2, { reaction: 'heart' }),
      'rate_limited',
    );
    await carol2.close();
    for (const c of all) await c.close();
  });

  test('"Mute everyone" mutes all but the owner, each told; each may unmute itself; nobody else may', async () => {
    const room = 'group/muteall';
    const { alice, bob, carol, act, all } = await room3(room);
    await refusedWith(bob, act('bob', { muteAll: true }), 'access_restricted');
    bridge.received.length = 0;
    act('alice', { muteAll: true });
    for (const c of [bob, carol]) {
      const told = (await c.next(dataWith(room, 'muted'))) as LooseWebrtcFrame;
      assert.deepEqual(told.data, { muted: { by: users.alice?.id, name: 'Alice Liddell' } });
    }
    const news = (await alice.next(
      (m) => groupNews(room)(m) && people(m).filter((p) => p.muted).length === 2,
    )) as LooseWebrtcFrame;
    assert.equal(people(news).find((p) => p.owner)?.muted, false, 'not the owner');
    await sleep(100);
    assert.equal(
      bridge.received.filter((m) => m.type === 'mute' && m.muted).length,
      2,
      'the bridge drops both microphones',
    );
    assert.ok(await alice.nothing(dataWith(room, 'muted'), 100), 'the owner is not told');
    act('bob', { unmute: true });
    await carol.next((m) => groupNews(room)(m) && people(m).filter((p) => p.muted).length === 1);
    for (const c of all) await c.close();
  });

  test('"End meeting" ends it for everyone (kwm clients get the group hangup), a client coming back with its session is told so, and a new join starts a new meeting', async () => {
    const room = 'group/end';
    const { alice, bob, carol, act, all, hashes } = await room3(room);
    const aliceHash = hashes.alice;
    await refusedWith(bob, act('bob', { end: true }), 'access_restricted');
    const conference = allocations.filter((a) => a.user === users.alice?.id).at(-1)
      ?.conference as string;
    act('alice', { end: true });
    for (const c of [alice, bob, carol]) {
      const ended = (await c.next(dataWith(room, 'ended'))) as LooseWebrtcFrame;
      assert.deepEqual(ended.data, { ended: { by: users.alice?.id, name: 'Alice Liddell' } });
      const hangup = (await c.next(
        (m) => m.type === 'webrtc' && m.subtype === 'webrtc_hangup',
      )) as LooseWebrtcFrame;
      assert.equal(hangup.source, pipelinePeerId);
      assert.equal(hangup.channel, `@${room}`);
      assert.equal(hangup.group, room);
    }
    await bridge.next((m) => m.type === 'expire' && m.conference === conference);
    // Carol's client comes back naming its session (a signaling drop): no new meeting.
    const carolAlloc = await allocationOf(users.carol?.id as string, conference);
    join(carol, room, { session: carolAlloc });
    const told = (await carol.next(dataWith(room, 'ended'))) as LooseWebrtcFrame;
    assert.deepEqual(told.data, { ended: { by: users.alice?.id, name: 'Alice Liddell' } });
    // A kwmjs client coming back by its group hash (refreshGroup) is told so too.
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_group',
      target: room,
      group: room,
      state: 's1',
      hash: aliceHash,
    });
    const toKwm = (await alice.next(dataWith(room, 'ended'))) as LooseWebrtcFrame;
    assert.deepEqual(toKwm.data, { ended: { by: users.alice?.id, name: 'Alice Liddell' } });
    // Bob joins again by choice: a new conference.
    bridge.received.length = 0;
    await joined(bob, room);
    const again = await bridge.next<'allocate'>(
      (m) => m.type === 'allocate' && m.user === users.bob?.id,
    );
    assert.notEqual(again.conference, conference, 'a new meeting');
    for (const c of all) await c.close();
  });

  test('a room of two that runs peer to peer has chat, hands and the end of the meeting too', async () => {
    const room = 'group/p2p-meeting';
    const alice = await open('alice');
    const bob = await open('bob');
    join(alice, room, { p2p: true });
    const aHash = ((await alice.next((m) => channelOf(room)(m) && !!m.hash)) as LooseWebrtcFrame)
      .hash as string;
    join(bob, room, { p2p: true });
    const reply = (await bob.next((m) => channelOf(room)(m) && !!m.hash)) as LooseWebrtcFrame;
    assert.ok((reply.data as { p2p?: unknown }).p2p, 'a direct pair');
    const bHash = reply.hash as string;
    say(bob, `@${room}`, 'direct hello');
    await alice.next(isChat('direct hello'));
    pipelineSignal(bob, room, bHash, { hand: true });
    await alice.next((m) => groupNews(room)(m) && people(m).some((p) => p.hand));
    pipelineSignal(alice, room, aHash, { end: true });
    await bob.next(dataWith(room, 'ended'));
    await Promise.all([alice.close(), bob.close()]);
  });

  /** The endpoint the bridge was asked to allocate for `user` in `conference`. */
  const allocations: { user: string; conference: string; endpoint: string }[] = [];
  before(() => {
    bridge.ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'allocate') allocations.push(m);
    });
  });
  async function allocationOf(user: string, conference: string): Promise<string> {
    const a = allocations.find((x) => x.user === user && x.conference === conference);
    assert.ok(a, 'allocated');
    return a.endpoint;
  }
});

describe('the lobby: newcomers ask, the owner admits or denies, it passes with the ownership', () => {
  let users: Users;
  let server: TestServer;
  let bridge: FakeBridge;
  let open: (who: string) => Promise<RtmClient>;
  let guest: (room: string, name: string) => Promise<RtmClient>;
  before(async () => {
    ({ server, users, bridge, open, guest } = await start());
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });
  const asking = (room: string) => dataWith(room, 'asking');
  const knocking =
    (room: string, n = -1) =>
    (m: ServerMessage) =>
      dataWith(room, 'knocking')(m) &&
      (n < 0 || ((m as LooseWebrtcFrame).data as { knocking: unknown[] }).knocking.length === n);
  const knocks = (m: ServerMessage) =>
    ((m as LooseWebrtcFrame).data as { knocking: { id: string; name: string; guest: boolean }[] })
      .knocking;
  const refusedWith = async (c: RtmClient, id: number, code: string) => {
    const e = await c.next((m) => m.type === 'error' && m.reply_to === id);
    assert.equal(e.type === 'error' && e.error.code, code);
  };

  test('with the lobby on, a newcomer waits (no endpoint) until the owner admits it; another is denied and may ask again only later; only the owner switches it', async () => {
    const room = 'group/public/lobby';
    const alice = await open('alice');
    const bob = await open('bob');
    const aliceHash = await joined(alice, room);
    const bobHash = await joined(bob, room);
    await refusedWith(
      bob,
      pipelineSignal(bob, room, bobHash, { lobby: true }),
      'access_restricted',
    );
    pipelineSignal(alice, room, aliceHash, { lobby: true });
    await bob.next(
      (m) => groupNews(room)(m) && (m.data as { group: { lobby?: boolean } }).group.lobby === true,
    );

    const carol = await open('carol');
    bridge.received.length = 0;
    const carolJoin = join(carol, room, { p2p: true });
    const held = (await carol.next(asking(room))) as LooseWebrtcFrame;
    assert.equal(held.reply_to, carolJoin);
    assert.equal(held.hash, undefined, 'no hash while asking');
    const k = await alice.next(knocking(room, 1));
    assert.deepEqual(knocks(k), [{ id: users.carol?.id, name: 'Carol Danvers', guest: false }]);
    assert.ok(await bob.nothing(knocking(room), 150), 'only the owner hears who asks');
    assert.equal(
      bridge.received.filter((m) => m.type === 'allocate').length,
      0,
      'no endpoint while asking',
    );
    // A prejoin does not get past the lobby, nor a kwmjs join (no data: it cannot wait).
    const carol2 = await open('carol');
    await refusedWith(carol2, join(carol2, room, { prejoin: true }), 'access_restricted');
    await refusedWith(carol2, join(carol2, room), 'access_restricted');
    await carol2.close();
    // Nothing of the meeting reaches someone asking: no chat, no reactions, no news.
    say(alice, `@${room}`, 'not for the lobby');
    pipelineSignal(bob, room, bobHash, { reaction: 'laugh' });
    pipelineSignal(bob, room, bobHash, { hand: true });
    await bob.next((m) => groupNews(room)(m) && people(m).some((p) => p.hand));
    assert.ok(
      await carol.nothing(
        (m) =>
          isChat()(m) ||
          (channelOf(room)(m) && !('asking' in ((m as LooseWebrtcFrame).data as object))),
        300,
      ),
      'nothing reaches Carol while she asks',
    );

    const john = await guest(room, 'John Doe');
    join(john, room, { p2p: true });
    await john.next(asking(room));
    const two = await alice.next(knocking(room, 2));
    assert.deepEqual(
      knocks(two).map((x) => [x.name, x.guest]),
      [
        ['Carol Danvers', false],
        ['John Doe', true],
      ],
      'in the order they came',
    );
    await refusedWith(
      bob,
      pipelineSignal(bob, room, bobHash, { admit: { user: users.carol?.id } }),
      'access_restricted',
    );

    pipelineSignal(alice, room, aliceHash, { admit: { user: users.carol?.id } });
    const reply = (await carol.next(
      (m) => channelOf(room)(m) && m.reply_to === carolJoin && m.hash !== undefined,
    )) as LooseWebrtcFrame;
    assert.ok((reply.data as { pipeline?: unknown }).pipeline, 'the join reply');
    await bridge.next((m) => m.type === 'allocate' && m.user === users.carol?.id);
    await alice.next(knocking(room, 1));

    pipelineSignal(alice, room, aliceHash, { deny: { user: john.userId } });
    const denied = (await john.next(dataWith(room, 'denied'))) as LooseWebrtcFrame;
    assert.deepEqual(denied.data, { denied: { by: users.alice?.id, name: 'Alice Liddell' } });
    await alice.next(knocking(room, 0));
    // Asking again at once is refused; the client waits ("Ask again" is enabled later).
    await refusedWith(john, join(john, room, { p2p: true }), 'rate_limited');
    for (const c of [alice, bob, carol, john]) await c.close();
  });

  test('"Admit all" and the lobby switched off let everyone in; an ask ends when its client goes', async () => {
    const room = 'group/public/lobby-all';
    const alice = await open('alice');
    const aliceHash = await joined(alice, room);
    pipelineSignal(alice, room, aliceHash, { lobby: true });
    const g1 = await guest(room, 'Guest One');
    const g2 = await guest(room, 'Guest Two');
    const g3 = await guest(room, 'Guest Three');
    for (const g of [g1, g2, g3]) {
      join(g, room, { p2p: true });
      await g.next(asking(room));
    }
    await alice.next(knocking(room, 3));
    await g3.close();
    await alice.next(knocking(room, 2));
    pipelineSignal(alice, room, aliceHash, { admitAll: true });
    for (const g of [g1, g2]) await g.next((m) => channelOf(room)(m) && m.hash !== undefined);
    await alice.next(knocking(room, 0));
    const g4 = await guest(room, 'Guest Four');
    join(g4, room, { p2p: true });
    await g4.next(asking(room));
    await alice.next(knocking(room, 1));
    pipelineSignal(alice, room, aliceHash, { lobby: false });
    await g4.next((m) => channelOf(room)(m) && m.hash !== undefined);
    // The owner's requests are over.
    await alice.next(knocking(room, 0));
    for (const c of [alice, g1, g2, g4]) await c.close();
  });

  test('one ask per connection: asking in another room ends the first; with nobody registered left, the first registered one asking comes in and owns the meeting', async () => {
    const roomA = 'group/public/lobby-a';
    const roomB = 'group/public/lobby-b';
    const alice = await open('alice');
    const bob = await open('bob');
    const aHash = await joined(alice, roomA);
    const bHash = await joined(bob, roomB);
    const john = await guest(roomB, 'John Doe');
    await joined(john, roomB);
    pipelineSignal(alice, roomA, aHash, { lobby: true });
    pipelineSignal(bob, roomB, bHash, { lobby: true });
    const carol = await open('carol');
    join(carol, roomA, { p2p: true });
    await carol.next(asking(roomA));
    await alice.next(knocking(roomA, 1));
    join(carol, roomB, { p2p: true });
    await carol.next(asking(roomB));
    await bob.next(knocking(roomB, 1));
    await alice.next(knocking(roomA, 0));

    // Room B: a guest is in, Carol asks; Bob (the only registered member) leaves.
    bob.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: roomB,
      group: roomB,
      channel: `@${roomB}`,
      hash: bHash,
    });
    await carol.next((m) => channelOf(roomB)(m) && m.hash !== undefined);
    const news = (await john.next(
      (m) => groupNews(roomB)(m) && people(m).some((p) => p.name === 'Carol Danvers'),
    )) as LooseWebrtcFrame;
    assert.equal(people(news).find((p) => p.owner)?.name, 'Carol Danvers');
    for (const c of [alice, bob, carol, john]) await c.close();
  });

  test('the owner hands over with "Make NAME owner" (not to a guest); when the owner leaves, the lobby passes to the next owner', async () => {
    const room = 'group/public/lobby-owner';
    const alice = await open('alice');
    const bob = await open('bob');
    const carol = await open('carol');
    const aliceHash = await joined(alice, room);
    const bobHash = await joined(bob, room);
    await sleep(20);
    await joined(carol, room);
    const john = await guest(room, 'John Doe');
    await joined(john, room);
    await refusedWith(
      alice,
      pipelineSignal(alice, room, aliceHash, { makeOwner: { user: john.userId } }),
      'bad_message',
    );
    pipelineSignal(alice, room, aliceHash, { lobby: true });
    pipelineSignal(alice, room, aliceHash, { makeOwner: { user: users.bob?.id } });
    const news = (await carol.next(
      (m) => groupNews(room)(m) && people(m).find((p) => p.owner)?.name === 'Bob Builder',
    )) as LooseWebrtcFrame;
    assert.equal(people(news).filter((p) => p.owner).length, 1);
    await refusedWith(
      alice,
      pipelineSignal(alice, room, aliceHash, { lobby: false }),
      'access_restricted',
    );

    const jane = await guest(room, 'Jane Roe');
    join(jane, room, { p2p: true });
    await jane.next(asking(room));
    const atBob = await bob.next(knocking(room, 1));
    assert.equal(knocks(atBob)[0]?.name, 'Jane Roe');
    // Bob leaves: Alice (the registered one present longest) owns the meeting and its lobby
    // again.
    bob.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: room,
      group: room,
      channel: `@${room}`,
      hash: bobHash,
    });
    const atAlice = await alice.next(knocking(room, 1));
    assert.equal(knocks(atAlice)[0]?.name, 'Jane Roe');
    assert.ok(await carol.nothing(knocking(room), 100));
    for (const c of [alice, bob, carol, john, jane]) await c.close();
  });
});
