import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { BridgeMessage, BridgeOffer, FocusMessage } from '@confab/protocol';
import {
  type PeerOptions,
  type PeerSignaling,
  SyntheticPeer,
} from '../../../../test/support/bridgeHarness.js';
import { silentLogger } from '../logging/index.js';
import { Endpoint } from './Endpoint.js';
import { MediaBridge } from './MediaBridge.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A MediaBridge in this process with the control protocol's messages passed as objects, both
 * ways on a later turn of the event loop (as a WebSocket would), and every offer kept.
 */
class InProcessFocus implements PeerSignaling {
  readonly offers: BridgeOffer[] = [];
  readonly media: MediaBridge;
  readonly #queue: BridgeMessage[] = [];
  #waiters: { match: (m: BridgeMessage) => boolean; resolve: (m: BridgeMessage) => void }[] = [];
  readonly #takers: ((m: BridgeMessage) => boolean)[] = [];

  constructor(port: number) {
    this.media = new MediaBridge({
      iceAddress: '127.0.0.1',
      port,
      logger: silentLogger(),
      onMessage: (m) => setImmediate(() => this.#deliver(m)),
    });
  }

  #deliver(m: BridgeMessage): void {
    if (m.type === 'offer') this.offers.push(m);
    if (this.#takers.some((take) => take(m))) return;
    const w = this.#waiters.find((x) => x.match(m));
    if (!w) this.#queue.push(m);
    else {
      this.#waiters = this.#waiters.filter((x) => x !== w);
      w.resolve(m);
    }
  }

  send(m: FocusMessage): void {
    setImmediate(() => {
      const media = this.media;
      if (m.type === 'allocate') media.allocate(m.conference, m.endpoint, m.user);
      else if (m.type === 'answer') media.answer(m.conference, m.endpoint, m.sdp);
      else if (m.type === 'candidate')
        media.candidate(m.conference, m.endpoint, m.candidate, m.mid);
      else if (m.type === 'screenshare') media.screenshare(m.conference, m.endpoint, m.active);
      else if (m.type === 'release') media.release(m.conference, m.endpoint);
    });
  }

  take(take: (m: BridgeMessage) => boolean): void {
    this.#takers.push(take);
  }

  next(match: (m: BridgeMessage) => boolean, timeoutMs = 10_000): Promise<BridgeMessage> {
    const i = this.#queue.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0] as BridgeMessage);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bridge did not say that')), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  offersFor(endpoint: string): BridgeOffer[] {
    return this.offers.filter((o) => o.endpoint === endpoint);
  }

  /** Waits until `endpoint` has had `count` offers. */
  async offered(endpoint: string, count: number, timeoutMs = 10_000): Promise<BridgeOffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.offersFor(endpoint).length < count) {
      if (Date.now() > deadline)
        throw new Error(`${endpoint} had ${this.offersFor(endpoint).length} offers, not ${count}`);
      await sleep(10);
    }
    return this.offersFor(endpoint)[count - 1] as BridgeOffer;
  }
}

/** The m-section of `mid` in an SDP, and its direction. */
function direction(sdp: string, mid: string): string | undefined {
  const section = sdp
    .split(/\r?\n(?=m=)/)
    .find((s) => new RegExp(`^a=mid:${mid}\\r?$`, 'm').test(s));
  return section?.match(/^a=(sendonly|recvonly|sendrecv|inactive)\r?$/m)?.[1];
}

const peers: SyntheticPeer[] = [];
const focuses: InProcessFocus[] = [];
after(() => {
  for (const p of peers) p.close();
  for (const f of focuses) f.media.close();
  // node-datachannel's native threads keep the process alive, and its cleanup() can crash
  // (test/bridgeMedia.test.ts): leave once the runner has reported.
  setTimeout(() => process.exit(0), 1000).unref();
});

async function room(port: number, bOpts: PeerOptions = {}) {
  const focus = new InProcessFocus(port);
  focuses.push(focus);
  const a = await SyntheticPeer.join(focus, 'c1', 'A');
  a.follow();
  const b = await SyntheticPeer.join(focus, 'c1', 'B', bOpts);
  peers.push(a, b);
  return { focus, a, b };
}

test('a freed m-line is never reused: a stream that starts again gets a new mid, the old one stays inactive', async () => {
  const { focus, b } = await room(10490);
  b.follow();
  focus.send({ type: 'screenshare', conference: 'c1', endpoint: 'A', active: true });
  const shared = await focus.offered('B', 2);
  assert.deepEqual(shared.streams, { f0: { user: 'A', source: 'screen' } });
  assert.equal(direction(shared.sdp, 'f0'), 'sendonly');

  focus.send({ type: 'screenshare', conference: 'c1', endpoint: 'A', active: false });
  const stopped = await focus.offered('B', 3);
  assert.deepEqual(stopped.streams, {});
  assert.equal(direction(stopped.sdp, 'f0'), 'inactive', 'freed: inactive, still in the session');

  focus.send({ type: 'screenshare', conference: 'c1', endpoint: 'A', active: true });
  const again = await focus.offered('B', 4);
  assert.deepEqual(again.streams, { f1: { user: 'A', source: 'screen' } }, 'a new mid');
  assert.equal(direction(again.sdp, 'f0'), 'inactive', 'the freed one is not taken back');
  assert.equal(direction(again.sdp, 'f1'), 'sendonly');
});

test('changes while an offer is out make one more offer once it is answered; a stale answer changes nothing', async () => {
  // B answers its first offer only after a while: meanwhile its session changes twice.
  const { focus, b } = await room(10491, { answerDelayMs: 600 });
  assert.equal(focus.offersFor('B').length, 1);
  focus.send({ type: 'screenshare', conference: 'c1', endpoint: 'A', active: true });
  await sleep(100);
  focus.send({ type: 'screenshare', conference: 'c1', endpoint: 'A', active: false });
  await sleep(200);
  assert.equal(focus.offersFor('B').length, 1, 'no offer while one is out');

  const second = await focus.offered('B', 2);
  assert.deepEqual(second.streams, {}, 'the offer covers both changes: the share came and went');
  assert.equal(direction(second.sdp, 'f0'), 'inactive');
  await b.takeOffer();
  await sleep(1000); // its answer goes at 600 ms
  assert.equal(focus.offersFor('B').length, 2, 'one offer for both changes');

  // Its answer once more, now stale: ignored, no offer follows.
  focus.media.answer('c1', 'B', b.pc.localDescription()?.sdp ?? '');
  await sleep(300);
  assert.equal(focus.offersFor('B').length, 2);
});

test('one who leaves is freed at the others; an expired conference leaves nothing on the bridge', async () => {
  const { focus, b } = await room(10492);
  b.follow();
  focus.send({ type: 'screenshare', conference: 'c1', endpoint: 'A', active: true });
  await focus.offered('B', 2);
  assert.equal(focus.media.load().endpoints, 2);

  focus.send({ type: 'release', conference: 'c1', endpoint: 'A' });
  const left = await focus.offered('B', 3);
  assert.deepEqual(left.streams, {});
  assert.equal(direction(left.sdp, 'f0'), 'inactive');
  assert.deepEqual(focus.media.conferenceIds(), ['c1']);

  focus.media.expire('c1');
  const { conferences, endpoints } = focus.media.load();
  assert.deepEqual({ conferences, endpoints }, { conferences: 0, endpoints: 0 });
  await sleep(300);
  assert.equal(focus.offersFor('B').length, 3, 'nothing offered after the end');
  assert.equal(focus.media.answer('c1', 'B', b.pc.localDescription()?.sdp ?? ''), false);
});

test('expiring a conference closes its endpoints quietly: no renegotiation, no offer', async (t) => {
  const { focus, a, b } = await room(10493);
  b.follow();
  const c = await SyntheticPeer.join(focus, 'c1', 'C');
  c.follow();
  peers.push(c);
  // Everyone shares a screen, so that everyone forwards everyone else's.
  for (const endpoint of ['A', 'B', 'C'])
    focus.send({ type: 'screenshare', conference: 'c1', endpoint, active: true });
  const forwardsBoth = (p: SyntheticPeer) => Object.keys(p.streams).length === 2;
  const deadline = Date.now() + 10_000;
  while (![a, b, c].every(forwardsBoth)) {
    assert.ok(Date.now() < deadline, 'every screen forwarded to the two others');
    await sleep(20);
  }
  await sleep(300);

  const negotiate = t.mock.method(Endpoint.prototype, 'negotiate');
  const offers = focus.offers.length;
  focus.media.expire('c1');
  assert.equal(negotiate.mock.callCount(), 0, 'no endpoint renegotiates');
  const { conferences, endpoints } = focus.media.load();
  assert.deepEqual({ conferences, endpoints }, { conferences: 0, endpoints: 0 });
  await sleep(300);
  assert.equal(focus.offers.length, offers, 'no offer after the end');
});
