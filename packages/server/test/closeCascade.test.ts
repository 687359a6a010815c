import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import pino from 'pino';
import { freePort } from '../../../test/support/net.js';
import { guestSignInOverHttp } from '../../../test/support/oidcFlow.js';
import { type LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';
import { BridgeAgent } from '../src/bridge/BridgeAgent.js';
import { channelOf, FakeBridge, join, joined, pipelineSignal } from './fakeBridge.js';
import type { TestServer } from './helpers.js';
import { startSignaling, type Users } from './signalingServer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** The group-channel message a closing conference sends to whoever is in it or waiting. */
const closedIn = (group: string) => (m: ServerMessage) =>
  channelOf(group)(m) &&
  (m as LooseWebrtcFrame & { data?: { closed?: { code: string } } }).data?.closed?.code ===
    'unavailable';

after(() => {
  // node-datachannel's native threads keep the process alive, and its cleanup() can crash
  // (test/bridgeMedia.test.ts): leave once the runner has reported.
  setTimeout(() => process.exit(0), 1000).unref();
});

/**
 * Closing leaves nothing behind (docs/architecture.md "Closures"): a real focus with a real
 * bridge (the bridge agent and its media bridge in this process, on node-datachannel), a
 * conference with a member in its reconnect grace, one that only a guest waits for, and one
 * left empty within its timeout; then one conference closes, then the focus.
 */
describe('the close cascade: conference, then focus', () => {
  let server: TestServer;
  let users: Users;
  let agent: BridgeAgent;
  const clients: RtmClient[] = [];
  before(async () => {
    // Long grace and empty timeout: whatever is left pending at the end was left behind.
    ({ server, users } = await startSignaling(
      'conference_empty_timeout: 600\ncall_reconnect_grace: 600\n',
    ));
    agent = new BridgeAgent({
      focusUrl: server.localUrl.replace(/^http/, 'ws'),
      secret: readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim(),
      name: 'cascade',
      iceAddress: '127.0.0.1',
      port: await freePort(),
      logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() })),
    });
    agent.start();
    await until('the bridge joined', () => server.bridgeHub.bridges.length === 1);
  });
  after(async () => {
    for (const c of clients) await c.close();
    agent?.close();
    await server?.close();
  });
  const open = async (who: string) => {
    const c = await RtmClient.open(server.localUrl, users[who]?.token as string);
    clients.push(c);
    return c;
  };

  test('closing a conference, then the focus, leaves no timer, no endpoint and no index entry', async () => {
    const focus = server.focus;
    const onBridge = () => agent.media.load();

    // group/cascade: Alice and Bob in; Bob's signaling drops, so he is away for the grace.
    const alice = await open('alice');
    const bob = await open('bob');
    await joined(alice, 'group/cascade');
    await joined(bob, 'group/cascade');
    // group/other: Carol in, so that the focus has a conference of its own to close.
    const carol = await open('carol');
    const carolHash = await joined(carol, 'group/other');
    // group/quiet: Alice joins and hangs up: empty, kept for its timeout.
    join(alice, 'group/quiet');
    await alice.next(channelOf('group/quiet'));
    alice.send({
      type: 'webrtc',
      subtype: 'webrtc_hangup',
      target: 'group/quiet',
      group: 'group/quiet',
      channel: '@group/quiet',
    });
    // group/public/lobby: a guest waits for a registered user.
    const guestTokens = await guestSignInOverHttp({
      base: server.localUrl,
      issuer: server.url,
      path: 'group/public/lobby',
      name: 'Gus',
    });
    const guest = await RtmClient.open(server.localUrl, guestTokens.accessToken);
    clients.push(guest);
    join(guest, 'group/public/lobby');
    const held = (await guest.next(channelOf('group/public/lobby'))) as LooseWebrtcFrame;
    assert.deepEqual(held.data, { waiting: true });

    await until('the bridge holds three endpoints', () => onBridge().endpoints === 3);
    await bob.close();
    const cascade = focus.conference('group/cascade');
    const quiet = focus.conference('group/quiet');
    const lobby = focus.conference('group/public/lobby');
    assert.ok(cascade && quiet && lobby);
    await until('Bob is away', () => cascade.activeTimers === 1);
    await until('group/quiet is empty', () => quiet.size === 0);
    assert.equal(quiet.activeTimers, 1, 'group/quiet waits out its empty timeout');
    assert.equal(lobby.waitingCount, 1);
    assert.equal(focus.activeTimers, 2);
    assert.equal(server.bridgeHub.endpoints, 3);

    // One conference closes: its member is told, its away member's grace ends, its endpoints
    // (Bob's too, whose media went on) are released on the bridge; the others go on.
    cascade.close();
    assert.ok(cascade.closed);
    await alice.next(closedIn('group/cascade'));
    assert.equal(cascade.activeTimers, 0);
    assert.equal(cascade.size, 0);
    assert.equal(focus.conference('group/cascade'), undefined);
    assert.equal(server.bridgeHub.endpoints, 1, "only Carol's endpoint is left on the hub");
    await until("the bridge holds Carol's endpoint only", () => onBridge().endpoints === 1);
    assert.equal(onBridge().conferences, 1);
    // Alice is in no conference now (group/quiet she left); Carol in one; the guest waits in one.
    assert.deepEqual(focus.indexSizes, { groups: 3, ids: 3, connections: 1, users: 1 });
    // The away member's grace ended with it: had it not, it would fire later and leave.
    assert.equal(focus.activeTimers, 1);

    // Carol shares her screen: the focus keeps her change budget for group/other.
    pipelineSignal(carol, 'group/other', carolHash, { screenshare: { mid: 's' } });
    await until("Carol's change budget is kept", () => focus.changeBudgets === 1);

    // The focus closes: every conference with it, each telling whoever is in or waiting.
    focus.close();
    await carol.next(closedIn('group/other'));
    await guest.next(closedIn('group/public/lobby'));
    for (const c of [quiet, lobby]) {
      assert.ok(c.closed);
      assert.equal(c.activeTimers, 0);
      assert.equal(c.waitingCount, 0);
    }
    assert.equal(focus.activeTimers, 0);
    assert.deepEqual(focus.indexSizes, { groups: 0, ids: 0, connections: 0, users: 0 });
    assert.equal(focus.changeBudgets, 0, 'no change budget kept');
    assert.equal(server.bridgeHub.endpoints, 0);
    await until('the bridge holds nothing', () => onBridge().endpoints === 0);
    assert.equal(onBridge().conferences, 0);

    // A closed focus takes no more joins.
    join(alice, 'group/late');
    const refused = await alice.next((m) => m.type === 'error');
    assert.equal(refused.type === 'error' && refused.error.code, 'server_error');
  });
});

describe('the close cascade at shutdown', () => {
  test('members hear their conference closed before goodbye; the bridge hears one expire, no release each, before its link closes', async () => {
    const { server, users } = await startSignaling('call_reconnect_grace: 600\n');
    const bridge = await FakeBridge.forServer(server);
    try {
      const alice = await RtmClient.open(server.localUrl, users.alice?.token as string);
      await joined(alice, 'group/bye');
      const alloc = await bridge.next<'allocate'>((m) => m.type === 'allocate');
      const linkClosed = new Promise<number>((r) => bridge.ws.once('close', (code) => r(code)));
      await server.close();
      const first = await alice.next((m) => closedIn('group/bye')(m) || m.type === 'goodbye');
      assert.ok(closedIn('group/bye')(first), 'told the conference closed first');
      await alice.next((m) => m.type === 'goodbye');
      assert.equal((await alice.closed).code, 1001);
      const order = await bridge.next(
        (m) => (m.type === 'release' && m.endpoint === alloc.endpoint) || m.type === 'expire',
      );
      assert.equal(
        order.type,
        'expire',
        'the conference expires whole, endpoints are not released one by one',
      );
      assert.equal(order.type === 'expire' && order.conference, alloc.conference);
      assert.equal(await linkClosed, 1001);
    } finally {
      await bridge.close();
      await server.close();
    }
  });
});
