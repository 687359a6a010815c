import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MediaChannelServerMessage } from '@confab/protocol';
import {
  layerMarkerOffset,
  type SyntheticPeer,
  syntheticBridge,
  until,
} from '../../../test/support/bridgeHarness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bridgePort = 10465;

const midOf = (receiver: SyntheticPeer, user: string, source: 'camera' | 'microphone') =>
  Object.entries(receiver.streams).find(([, s]) => s.user === user && s.source === source)?.[0];

/** Packets that arrived on each mid within the last `ms`, counted from now on. */
function arrivals(peer: SyntheticPeer) {
  const at: { mid: string; at: number; seq: number; layer: number }[] = [];
  peer.onPacket = (mid, p) => {
    if ((p[0] ?? 0) & 0x20) return; // the bridge's padding probes
    at.push({ mid, at: Date.now(), seq: p.readUInt16BE(2), layer: p[layerMarkerOffset] ?? -1 });
  };
  return {
    at,
    since(mid: string | undefined, ms: number) {
      const from = Date.now() - ms;
      return at.filter((a) => a.mid === mid && a.at >= from);
    },
  };
}

const lastOf = <T extends MediaChannelServerMessage['type']>(peer: SyntheticPeer, type: T) =>
  peer.channelMessages.filter((m) => m.type === type).at(-1) as
    | Extract<MediaChannelServerMessage, { type: T }>
    | undefined;

describe('large meetings on the bridge: silence, last-N and dynacast, with synthetic peers', () => {
  const room = syntheticBridge({ before, after }, bridgePort, { lastN: 2 });
  const { join } = room;

  test('silence (audio level 127) is not forwarded, and the receiver sees no gap when talk resumes', async () => {
    const a = await join('s1', 'A');
    const b = await join('s1', 'B');
    a.level = 127;
    a.publish();
    const mic = () => midOf(b, 'A', 'microphone');
    await until('A forwarded to B', () => mic() !== undefined);
    const got = arrivals(b);
    await sleep(1500);
    assert.equal(got.since(mic(), 1500).length, 0, 'no silent packets forwarded');
    a.level = 40;
    await until('talk arrives', () => got.since(mic(), 500).length > 10);
    a.level = 127;
    await sleep(600);
    a.level = 40;
    const resumed = Date.now();
    await until('talk again', () => got.since(mic(), Date.now() - resumed).length > 10);
    const seqs = got.at.filter((x) => x.mid === mic()).map((x) => x.seq);
    const steps = seqs.slice(1).map((s, i) => (s - (seqs[i] ?? 0)) & 0xffff);
    assert.deepEqual([...new Set(steps)], [1], 'sequence numbers go on by one over the silence');
  });

  test('last-N: a receiver gets the two latest speakers of three cameras, and a new speaker takes the place of the least recent', async () => {
    const [a, b, c] = [await join('n1', 'A'), await join('n1', 'B'), await join('n1', 'C')];
    const d = await join('n1', 'D');
    for (const p of [a, b, c]) {
      p.level = 127;
      p.publish();
    }
    const cams = () => ['A', 'B', 'C'].map((u) => midOf(d, u, 'camera'));
    await until('three cameras offered to D', () => cams().every((m) => m !== undefined));
    await until('D channel', () => d.mediaChannel?.isOpen() === true);
    const [ma, mb, mc] = cams() as [string, string, string];
    d.sendView({
      [ma]: { width: 320, height: 180 },
      [mb]: { width: 320, height: 180 },
      [mc]: { width: 320, height: 180 },
    });
    const got = arrivals(d);
    // Nobody has spoken: the first two to join.
    await until('told A and B', () => sameSet(lastOf(d, 'forwarded')?.video, [ma, mb]));
    await sleep(1000);
    assert.ok(got.since(ma, 800).length > 5 && got.since(mb, 800).length > 5, 'A and B arrive');
    assert.equal(got.since(mc, 800).length, 0, 'C, past last-N, does not');

    c.level = 30; // C talks: the dominant speaker
    await until('told C and A', () => sameSet(lastOf(d, 'forwarded')?.video, [mc, ma]), 10_000);
    await until('C arrives', () => got.since(mc, 500).length > 5);
    await sleep(1000);
    assert.equal(got.since(mb, 800).length, 0, 'B, now the least recent, stops');
    assert.ok(got.since(ma, 800).length > 5, 'A goes on');

    // The receiver's stage is always forwarded, whoever spoke.
    d.sendView({
      [ma]: { width: 320, height: 180 },
      [mb]: { width: 1280, height: 720, stage: true },
      [mc]: { width: 320, height: 180 },
    });
    await until('told B (stage) and C', () => sameSet(lastOf(d, 'forwarded')?.video, [mb, mc]));
    await until('B arrives again', () => got.since(mb, 500).length > 5);
  });

  test('dynacast: a publisher nobody receives stops its video and starts again when someone shows it; layers nobody needs go off through its REMB', async () => {
    const a = await join('d1', 'A', true);
    const b = await join('d1', 'B');
    a.publish();
    const cam = () => midOf(b, 'A', 'camera');
    await until('A forwarded to B', () => cam() !== undefined && b.mediaChannel?.isOpen() === true);
    b.sendView({ [cam() as string]: { width: 320, height: 180 } });
    // A thumbnail only: room for the lowest layer (and the microphone), and nothing paused.
    await until('A asked for its lowest layer only', () => a.remb > 0 && a.remb < 400_000, 8000);
    await sleep(5500);
    assert.ok(
      !a.channelMessages.some((m) => m.type === 'publish' && m.camera?.includes(false)),
      'no encoding switched off: that re-keys them all',
    );
    const got = arrivals(b);
    b.sendView({ [cam() as string]: { width: 1280, height: 720, stage: true } });
    await until('room for every layer', () => a.remb > 2_000_000, 8000);
    await until(
      'B gets the top layer',
      () => got.since(cam(), 300).some((g) => g.layer === 2),
      8000,
    );

    b.sendView({});
    await until(
      'nobody watches: A sends no video',
      () => same(lastOf(a, 'publish')?.camera, [false, false, false]),
      10_000,
    );
    await sleep(500);
    assert.equal(got.since(cam(), 400).length, 0, 'and none arrives');
    // A publisher that sends again on its own while nobody watches (the web app does, back from
    // a direct pair whose bridge session carried nothing) is told again to stop.
    const publishes = () => a.channelMessages.filter((m) => m.type === 'publish').length;
    const told = publishes();
    a.cameraSending = [true, true, true];
    await until(
      'told again to send nothing',
      () => publishes() > told && same(lastOf(a, 'publish')?.camera, [false, false, false]),
      8000,
    );
    assert.deepEqual(a.cameraSending, [false, false, false]);
    b.sendView({ [cam() as string]: { width: 320, height: 180 } });
    await until(
      'shown again: A sends again',
      () => same(lastOf(a, 'publish')?.camera, [true, true, true]),
      10_000,
    );
    await until('and B gets it', () => got.since(cam(), 300).some((g) => g.layer === 0), 8000);
  });

  test('a receiver switching down keeps the layer it gets funded at the publisher until the lower one’s keyframe comes', async () => {
    const a = await join('d2', 'A', true);
    const b = await join('d2', 'B');
    a.publish();
    const cam = () => midOf(b, 'A', 'camera');
    await until('A forwarded to B', () => cam() !== undefined && b.mediaChannel?.isOpen() === true);
    const got = arrivals(b);
    b.sendView({ [cam() as string]: { width: 1280, height: 720, stage: true } });
    await until(
      'B gets the top layer',
      () => got.since(cam(), 300).some((g) => g.layer === 2),
      8000,
    );
    await until('room for every layer', () => a.remb > 2_000_000, 8000);
    // A busy publisher: no keyframe for a while, so B's switch down waits on it.
    a.holdKeyframes = true;
    b.sendView({ [cam() as string]: { width: 320, height: 180 } });
    let least = Number.POSITIVE_INFINITY;
    const sampling = setInterval(() => {
      least = Math.min(least, a.remb);
    }, 50);
    await sleep(2500); // two REMBs at least
    clearInterval(sampling);
    assert.ok(
      got.since(cam(), 300).every((g) => g.layer === 2),
      'B still gets the top layer: the lower one has had no keyframe',
    );
    assert.ok(least > 2_000_000, `the top layer stays funded meanwhile (least REMB ${least})`);
    a.holdKeyframes = false;
    await until('B switched down', () => got.since(cam(), 300).some((g) => g.layer === 0), 8000);
    await until('then room for the lowest layer only', () => a.remb < 400_000, 8000);
  });
});

function same(a: readonly boolean[] | undefined, b: readonly boolean[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameSet(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && b.every((x) => a.includes(x));
}
