// Three `confab serve` nodes on one PostgreSQL and one Redis (real servers, throwaway), behind a
// proxy that sends each HTTP request to the next node in turn and passes WebSocket upgrades
// through: sign-in, the address book, a call between users whose sockets are on different
// nodes, a group room whose members sit on all three, and two nodes racing for one new room.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import { type ConfabProcess, startConfab } from '../../../test/support/confabProcess.js';
import { freePort } from '../../../test/support/net.js';
import { tokensFor } from '../../../test/support/oidcFlow.js';
import type { RoundRobinProxy } from '../../../test/support/roundRobinProxy.js';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import { type SeveralNodes, startSeveralNodes } from '../../../test/support/severalNodes.js';
import { Cluster, openRedis } from '../src/cluster/index.js';
import { silentLogger } from '../src/logging/index.js';
import { channelOf, participants } from './fakeBridge.js';
import type { TestRedis } from './redis.js';

const isWebrtc =
  (subtype: string) =>
  (m: ServerMessage): m is ServerMessage & LooseWebrtcFrame =>
    m.type === 'webrtc' && m.subtype === subtype;

describe('several nodes on one PostgreSQL and one Redis, behind a round-robin proxy', () => {
  let several: SeveralNodes;
  let proxy: RoundRobinProxy;
  let redis: TestRedis;
  let nodes: ConfabProcess[];
  const tokens: Record<string, string> = {};
  const clients: RtmClient[] = [];

  before(async () => {
    several = await startSeveralNodes(3);
    ({ proxy, redis, nodes } = several);
    for (const [user, name] of [
      ['alice', 'Alice Liddell'],
      ['bob', 'Bob Builder'],
      ['carol', 'Carol Danvers'],
    ] as const)
      await several.addUser(user, name, 'correct horse battery');
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await several?.stop();
  });

  /** An RTM connection through the proxy, and the node its socket landed on. */
  async function open(user: string): Promise<{ client: RtmClient; node: number }> {
    const client = await RtmClient.open(proxy.url, tokens[user] as string);
    clients.push(client);
    const upgrade = proxy.served.filter((s) => s.upgrade).at(-1);
    return { client, node: upgrade?.target ?? -1 };
  }

  /** Opens connections until one lands on a node not in `avoid`. */
  async function openOn(
    user: string,
    avoid: number[],
  ): Promise<{ client: RtmClient; node: number }> {
    for (;;) {
      const c = await open(user);
      if (!avoid.includes(c.node)) return c;
      await c.client.close();
    }
  }

  test('sign-in and the address book work through the proxy, whichever node each request reaches', async () => {
    for (const user of ['alice', 'bob', 'carol'])
      tokens[user] = (await tokensFor(proxy.url, user, 'correct horse battery')).access_token;
    const served = new Set(proxy.served.map((s) => s.target));
    assert.equal(served.size, 3, 'requests of one sign-in reached all three nodes');
    // Three searches, each on the next node: every node reads the one directory.
    for (const [who, term, name] of [
      ['carol', 'bob', 'Bob Builder'],
      ['alice', 'carol', 'Carol Danvers'],
      ['bob', 'liddell', 'Alice Liddell'],
    ]) {
      const res = await fetch(new URL(`/api/gc/v1/users?$search=${term}`, proxy.url), {
        headers: { authorization: `Bearer ${tokens[who as string]}` },
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { value: { displayName: string }[] };
      assert.deepEqual(
        body.value.map((u) => u.displayName),
        [name],
      );
    }
  });

  test('a call from a user whose socket is on one node to a user on another: it rings, is accepted, signals and hangs up', async () => {
    const alice = await open('alice');
    const bob = await openOn('bob', [alice.node]);
    assert.notEqual(alice.node, bob.node, 'the two sockets are on different nodes');
    // The other nodes learn of Bob's connection over the bus (one hop through Redis, about a
    // millisecond); a call placed within that moment would find him not connected.
    await new Promise((r) => setTimeout(r, 200));
    const id = alice.client.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: bob.client.userId,
      initiator: true,
      state: 'st-1',
      v: 20180703,
    });
    const channel = (await alice.client.next(isWebrtc('webrtc_channel'))) as LooseWebrtcFrame;
    assert.equal(channel.reply_to, id);
    assert.match(channel.channel ?? '', /^\*[A-Za-z0-9]{24}$/);
    const ring = (await bob.client.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    assert.equal(ring.source, alice.client.userId);
    assert.deepEqual(ring.profile, { name: 'Alice Liddell' });
    bob.client.send({
      type: 'webrtc',
      subtype: 'webrtc_call',
      target: ring.source,
      initiator: false,
      channel: ring.channel,
      hash: ring.hash,
      state: 'st-b',
      data: { state: ring.state, accept: true },
      v: 20180703,
    });
    const accepted = (await alice.client.next(isWebrtc('webrtc_call'))) as LooseWebrtcFrame;
    assert.deepEqual(accepted.data, { accept: true, state: 'st-1' });
    const inCall = (subtype: string, target: string, data: unknown) => ({
      type: 'webrtc',
      subtype,
      target,
      channel: channel.channel,
      hash: channel.hash,
      state: 'st-1',
      data,
    });
    alice.client.send(inCall('webrtc_signal', bob.client.userId, { type: 'offer', sdp: 'v=0' }));
    const offer = (await bob.client.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame;
    assert.deepEqual(offer.data, { type: 'offer', sdp: 'v=0' });
    bob.client.send(inCall('webrtc_signal', alice.client.userId, { type: 'answer', sdp: 'v=0' }));
    const answer = (await alice.client.next(isWebrtc('webrtc_signal'))) as LooseWebrtcFrame;
    assert.deepEqual(answer.data, { type: 'answer', sdp: 'v=0' });
    // Chat in the call, from the node that does not run it.
    bob.client.send({
      type: 'chats',
      subtype: 'chats_message',
      channel: channel.channel,
      data: { text: 'hi from the other node' },
    });
    const chat = await alice.client.next((m) => m.type === 'chats');
    assert.match(JSON.stringify(chat), /hi from the other node/);
    bob.client.send(
      inCall('webrtc_hangup', alice.client.userId, {
        accept: false,
        reason: 'hangup',
        state: 'st-b',
      }),
    );
    const ended = (await alice.client.next(isWebrtc('webrtc_hangup'))) as LooseWebrtcFrame;
    assert.equal((ended.data as { reason: string }).reason, 'hangup');
    await Promise.all([alice.client.close(), bob.client.close()]);
  });

  test('a group room whose members sit on three nodes: everyone is seated in one conference and sees the others', async () => {
    const room = 'group/three-nodes';
    const seated: { client: RtmClient; node: number }[] = [];
    for (const user of ['alice', 'bob', 'carol']) {
      const c = await openOn(
        user,
        seated.map((s) => s.node),
      );
      seated.push(c);
      c.client.send({
        type: 'webrtc',
        subtype: 'webrtc_group',
        target: room,
        group: room,
        state: `s-${user}`,
        v: 20180703,
      });
      await c.client.next((m) => channelOf(room)(m) && m.hash !== undefined, 10_000);
    }
    assert.equal(new Set(seated.map((s) => s.node)).size, 3, 'one member on each node');
    // The first to join sees the two others in the room's participant list.
    const alice = seated[0]?.client as RtmClient;
    const deadline = Date.now() + 10_000;
    let names: string[] = [];
    while (names.length < 3 && Date.now() < deadline) {
      const m = (await alice.next(
        (x) => channelOf(room)(x) && (x.data as { group?: unknown })?.group !== undefined,
        10_000,
      )) as LooseWebrtcFrame;
      names = participants(m)
        .map((p) => p.name)
        .sort();
    }
    assert.deepEqual(names, ['Alice Liddell', 'Bob Builder', 'Carol Danvers']);
    // One conference: one node holds the room's lease, and the bridges of the others host nothing.
    const owners = nodes.filter((n) =>
      n.logs.some((l) => l.msg === 'lease taken' && l.group === room),
    );
    assert.equal(owners.length, 1, 'one node owns the room');
    for (const s of seated) await s.client.close();
  });

  test('a node whose Redis does not answer stops its start with exit 1 and a line naming redis_url', async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'confab-no-redis-'));
    for (const f of ['confab.yaml', 'db-password', 'registry.yaml'])
      copyFileSync(path.join(several.dirs[0] as string, f), path.join(dir, f));
    const started = Date.now();
    await assert.rejects(
      startConfab({
        dir,
        env: { CONFAB_REDIS_URL: `redis://127.0.0.1:${port}`, CONFAB_NODE_ID: 'node-x' },
        args: ['--config', 'confab.yaml'],
      }),
      (err: Error) => {
        assert.match(err.message, /exited with 1/);
        assert.match(
          err.message,
          new RegExp(`redis_url: cannot reach redis://127\\.0\\.0\\.1:${port}`),
        );
        return true;
      },
    );
    assert.ok(Date.now() - started < 25_000, 'within the 10 s it waits, and the start');
  });

  test('two nodes asked at once for the same new room never both own it', async () => {
    const racers = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const link = await openRedis({
          url: redis.url,
          deployment: new URL(proxy.url).host,
          logger: silentLogger(),
        });
        const c = new Cluster({ link, nodeId: `racer-${i}`, logger: silentLogger() });
        await c.registry.beat(); // registered: a lease of a node without a heartbeat is taken over
        return c;
      }),
    );
    try {
      for (let round = 0; round < 20; round++) {
        const room = `group/race-${round}`;
        const owners = await Promise.all(racers.map((r) => r.leases.ownerOf(room)));
        const nodesOwning = new Set(owners.map((o) => o?.node));
        assert.equal(nodesOwning.size, 1, `one owner for ${room}: ${JSON.stringify(owners)}`);
        assert.equal(
          racers.filter((r) => r.leases.holds(room)).length,
          1,
          'exactly one racer holds it',
        );
      }
    } finally {
      for (const r of racers) {
        r.leases.close();
        await r.registry.stop();
        await r.link.close();
      }
    }
  });
});
