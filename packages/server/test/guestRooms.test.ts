import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import { type GuestTokens, guestSignInOverHttp } from '../../../test/support/oidcFlow.js';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import { channelOf, FakeBridge, isError, join, participants } from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

const waiting = (group: string) => (m: ServerMessage) =>
  channelOf(group)(m) && (m.data as { waiting?: boolean } | undefined)?.waiting === true;
const withGroup = (group: string) => (m: ServerMessage) =>
  channelOf(group)(m) && !!(m.data as { group?: unknown } | undefined)?.group;

async function startWithBridge(yaml = '') {
  const { server, users } = await startSignaling(
    `conference_empty_timeout: 0\ncall_reconnect_grace: 0\n${yaml}`,
  );
  const bridge = await FakeBridge.forServer(server);
  const guest = (room: string, name?: string) =>
    guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: room,
      ...(name ? { name } : {}),
    });
  const open = (token: string, form: Record<string, string> = {}) =>
    RtmClient.open(server.localUrl, token, form);
  return { server, users, bridge, guest, open };
}

describe('guests in rooms: only their own room, never the first, held until the host comes', () => {
  let server: TestServer;
  let users: Users;
  let bridge: FakeBridge;
  let guest: (room: string, name?: string) => Promise<GuestTokens>;
  let open: (token: string, form?: Record<string, string>) => Promise<RtmClient>;
  before(async () => {
    ({ server, users, bridge, guest, open } = await startWithBridge('max_participants: 3\n'));
  });
  after(async () => {
    await bridge?.close();
    await server?.close();
  });

  test('a guest who comes first waits; a registered user starts the room and the guest is in, marked as guest, never the owner', async () => {
    const room = 'group/public/demo';
    const tokens = await guest(room, 'John Doe');
    // Without its ID token the guest still gets its chosen name.
    const john = await open(tokens.accessToken);
    assert.equal(john.connect.self.name, 'John Doe');
    assert.equal(john.userId, tokens.id);

    const id = join(john, room);
    const held = (await john.next(waiting(room))) as LooseWebrtcFrame;
    assert.equal(held.reply_to, id);
    assert.equal(held.hash, undefined, 'no pipeline hash while waiting');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      bridge.received.filter((m) => m.type === 'allocate').length,
      0,
      'no conference and no endpoint for a waiting guest',
    );

    const alice = await open(users.alice?.token as string);
    join(alice, room);
    await alice.next(withGroup(room));
    const admitted = (await john.next(
      (m) => withGroup(room)(m) && (m as LooseWebrtcFrame).hash !== undefined,
    )) as LooseWebrtcFrame;
    assert.equal(admitted.reply_to, id, 'the held join is answered');
    assert.deepEqual(
      participants(admitted).map((p) => [p.name, p.owner, (p as { guest?: boolean }).guest]),
      [
        ['Alice Liddell', true, false],
        ['John Doe', false, true],
      ],
    );
    const allocated = new Set<string>();
    while (allocated.size < 2)
      allocated.add((await bridge.next<'allocate'>((m) => m.type === 'allocate')).user);
    assert.ok(allocated.has(tokens.id), 'the guest gets an endpoint once admitted');

    // Alice leaves: the guest stays but does not become the owner.
    await alice.close();
    const after = (await john.next(
      (m) => withGroup(room)(m) && participants(m as LooseWebrtcFrame).length === 1,
    )) as LooseWebrtcFrame;
    assert.equal(participants(after)[0]?.owner, false);
    await john.close();
  });

  test('a guest prejoins only a room that has started; one whose room empties before its join loses it and waits', async () => {
    const room = 'group/public/early';
    const g = await open((await guest(room, 'Early')).accessToken);
    join(g, room, { prejoin: true });
    await g.next(isError('create_restricted'));
    assert.equal(bridge.received.filter((m) => m.type === 'allocate').length, 0);

    const alice = await open(users.alice?.token as string);
    join(alice, room);
    await alice.next(withGroup(room));
    await bridge.next((m) => m.type === 'allocate' && m.user === users.alice?.id);
    join(g, room, { prejoin: true });
    const reply = (await g.next(
      (m) => channelOf(room)(m) && !!(m.data as { prejoined?: unknown }).prejoined,
    )) as LooseWebrtcFrame;
    const session = (reply.data as { prejoined: { session: string } }).prejoined.session;
    const held = await bridge.next<'allocate'>((m) => m.type === 'allocate' && m.held === true);
    assert.equal(held.endpoint, session);

    // Alice leaves before the guest presses "Join call": the conference ends (its empty
    // timeout is 0 here) with the prejoin, and the guest's join, naming it, waits.
    await alice.close();
    await g.next(
      (m) => channelOf(room)(m) && (m.data as { prejoined?: unknown }).prejoined === null,
    );
    await bridge.next((m) => m.type === 'expire' && m.conference === held.conference);
    join(g, room, { session });
    await g.next(waiting(room));
    await g.close();
    bridge.received.length = 0;
  });

  test('a waiting guest who hangs up or disconnects is no longer let in', async () => {
    const room = 'group/public/leavers';
    const hangs = await open((await guest(room, 'Hangs Up')).accessToken);
    const drops = await open((await guest(room, 'Drops')).accessToken);
    join(hangs, room);
    join(drops, room);
    await hangs.next(waiting(room));
    await drops.next(waiting(room));
    hangs.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: room,
      group: room,
      channel: `@${room}`,
      data: { accept: false, reason: 'hangup' },
    });
    await drops.close();
    await new Promise((r) => setTimeout(r, 100));
    const bob = await open(users.bob?.token as string);
    join(bob, room);
    const channel = (await bob.next(withGroup(room))) as LooseWebrtcFrame;
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      participants(channel).map((p) => p.name),
      ['Bob Builder'],
    );
    assert.equal(
      hangs.received.some((m) => withGroup(room)(m)),
      false,
      'the guest who hung up was not joined',
    );
    await Promise.all([hangs.close(), bob.close()]);
  });

  test('a guest token cannot join another room, call anyone, or be called: access_restricted', async () => {
    const tokens = await guest('group/public/mine', 'Nosy');
    const nosy = await open(tokens.accessToken, { id_token: tokens.idToken });
    assert.equal(nosy.connect.self.name, 'Nosy');
    join(nosy, 'group/public/other');
    const other = await nosy.next(isError('access_restricted'));
    assert.match(other.type === 'error' ? other.error.msg : '', /room of its link/);
    join(nosy, 'group/team');
    await nosy.next(isError('access_restricted'));
    nosy.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: users.alice?.id,
      initiator: true,
      state: 'x',
    });
    await nosy.next(isError('access_restricted'));

    const alice = await open(users.alice?.token as string);
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: tokens.id,
      initiator: true,
      state: 'ring',
    });
    const refused = await alice.next(isError('access_restricted'));
    assert.match(refused.type === 'error' ? refused.error.msg : '', /cannot be called/);
    assert.equal(
      nosy.received.some((m) => m.type === 'webrtc' && m.subtype === 'webrtc_call'),
      false,
      'the guest never rang',
    );
    await Promise.all([nosy.close(), alice.close()]);
  });

  test('the address book refuses a guest token (403)', async () => {
    const tokens = await guest('group/public/gab');
    const res = await fetch(new URL('/api/gc/v1/users/me', server.localUrl), {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    assert.equal(res.status, 403);
    assert.match(tokens.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/, 'a random name when none is given');
  });

  test('more guests waiting than a room holds are refused with create_restricted', async () => {
    const room = 'group/public/crowd';
    const max = 3; // max_participants
    const clients: RtmClient[] = [];
    for (let i = 0; i <= max; i++) {
      const c = await open((await guest(room, `Guest ${i}`)).accessToken);
      clients.push(c);
      join(c, room);
    }
    for (const c of clients.slice(0, max)) await c.next(waiting(room));
    const last = clients[max] as RtmClient;
    await last.next(isError('create_restricted'));
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('allow_guest_only_channels: guests may start a public room', () => {
  let ctx: Awaited<ReturnType<typeof startWithBridge>>;
  before(async () => {
    ctx = await startWithBridge('allow_guest_only_channels: yes\n');
  });
  after(async () => {
    await ctx?.bridge.close();
    await ctx?.server.close();
  });

  test('a guest who comes first starts the conference at once (no owner until a user joins)', async () => {
    const room = 'group/public/open';
    const g = await ctx.open((await ctx.guest(room, 'Early Bird')).accessToken);
    join(g, room);
    const channel = (await g.next(withGroup(room))) as LooseWebrtcFrame;
    assert.ok(channel.hash, 'joined, with the pipeline hash');
    assert.deepEqual(
      participants(channel).map((p) => [p.name, p.owner]),
      [['Early Bird', false]],
    );
    assert.equal((await ctx.bridge.next<'allocate'>((m) => m.type === 'allocate')).user, g.userId);
    const alice = await ctx.open(ctx.users.alice?.token as string);
    join(alice, room);
    const both = (await alice.next(withGroup(room))) as LooseWebrtcFrame;
    assert.deepEqual(
      participants(both).map((p) => [p.name, p.owner]),
      [
        ['Early Bird', false],
        ['Alice Liddell', true],
      ],
    );
    await Promise.all([g.close(), alice.close()]);
  });
});
