import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { maxMediaChannelMessage, maxViewsPerSecond } from '@confab/protocol';
import {
  layerMarkerOffset,
  type SyntheticPeer,
  syntheticBridge,
  until,
} from '../../../test/support/bridgeHarness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bridgePort = 10475;

/** What a receiver got of one forwarded video: per packet its layer, sequence and PictureID. */
function recorder(peer: SyntheticPeer, mid: () => string | undefined) {
  const got: { at: number; layer: number; seq: number; picture: number; start: boolean }[] = [];
  const padding: number[] = [];
  peer.onPacket = (m, p) => {
    if (m !== mid()) return;
    // The bridge's probes: padding only, in the stream's numbering.
    if ((p[0] ?? 0) & 0x20) {
      padding.push(p.readUInt16BE(2));
      return;
    }
    got.push({
      at: Date.now(),
      layer: p[layerMarkerOffset] ?? -1,
      seq: p.readUInt16BE(2),
      picture: (((p[14] ?? 0) & 0x7f) << 8) | (p[15] ?? 0),
      start: ((p[12] ?? 0) & 0x10) !== 0,
    });
  };
  return {
    got,
    padding,
    layersSince(ms: number): Set<number> {
      const from = Date.now() - ms;
      return new Set(got.filter((g) => g.at >= from).map((g) => g.layer));
    },
    countSince(ms: number): number {
      const from = Date.now() - ms;
      return got.filter((g) => g.at >= from).length;
    },
  };
}

describe('simulcast through the bridge, with synthetic publishers and receivers', () => {
  const room = syntheticBridge({ before, after }, bridgePort);
  const { join, peers } = room;
  const cameraOf = (receiver: SyntheticPeer, user: string) =>
    Object.entries(receiver.streams).find(([, s]) => s.user === user && s.source === 'camera')?.[0];

  test('a receiver on a congested link (REMB 250 kbit/s with loss) gets the low layer, then the high one when the cap lifts, without a gap', async () => {
    const a = await join('c1', 'A', true);
    const b = await join('c1', 'B');
    // A congested link: a low estimate, and loss reported with it.
    let cap = 250_000;
    b.estimate(
      () => cap,
      () => (cap < 1_000_000 ? 30 : 0),
    );
    a.publish();
    const mid = () => cameraOf(b, 'A');
    await until('A forwarded to B', () => mid() !== undefined && b.mediaChannel?.isOpen() === true);
    b.sendView({ [mid() as string]: { width: 1280, height: 720, stage: true } });
    const rec = recorder(b, mid);
    await until('B gets A', () => rec.got.length > 20);
    await sleep(2500);
    assert.deepEqual([...rec.layersSince(1500)], [0], 'capped at 250 kbit/s: the 320-wide layer');
    assert.ok(rec.padding.length > 20, `probed with padding (${rec.padding.length} packets)`);

    cap = 5_000_000;
    const lifted = Date.now();
    await until('the top layer once the cap lifts', () => rec.layersSince(500).has(2), 8000);
    const switched = rec.got.findIndex((g) => g.at >= lifted && g.layer === 2);
    const first = rec.got[switched];
    assert.ok(first?.start, 'the switch comes at the start of a frame (the keyframe)');
    // Around the switch, what B got continues: sequence numbers and PictureIDs go on by one.
    const before = rec.got
      .slice(0, switched)
      .reverse()
      .find((g) => g.start);
    const last = rec.got[switched - 1];
    assert.equal(first.seq, ((last?.seq ?? 0) + 1) & 0xffff, 'no gap in sequence numbers');
    assert.equal(first.picture, ((before?.picture ?? 0) + 1) & 0x7fff, 'PictureID continues');
    // With the probes' numbers, every sequence number B got goes on by one.
    const all = [...rec.got.map((g) => g.seq), ...rec.padding].sort((x, y) => x - y);
    const steps = all.slice(1).map((s, i) => s - (all[i] ?? 0));
    assert.ok(
      steps.filter((d) => d !== 1).length <= 2,
      `sequence numbers at B go on by one (steps: ${[...new Set(steps)]})`,
    );
  });

  test('a tile the receiver does not show stops arriving; its audio goes on', async () => {
    const b = peers.find((p) => p.endpoint === 'B') as SyntheticPeer;
    const mid = cameraOf(b, 'A') as string;
    const rec = recorder(b, () => mid);
    await until('video arrives', () => rec.countSince(500) > 5);
    b.sendView({});
    await sleep(1000);
    const audioBefore = [...b.received.entries()].find(
      ([m]) => b.streams[m]?.source === 'microphone',
    );
    const audioCount = audioBefore?.[1].packets ?? 0;
    await sleep(1000);
    assert.equal(rec.countSince(900), 0, 'no video for a hidden tile');
    assert.ok((audioBefore?.[1].packets ?? 0) > audioCount + 20, 'audio keeps coming');
    b.sendView({ [mid]: { width: 320, height: 180 } });
    await until('shown again: video resumes, at the lowest layer', () => rec.countSince(300) > 3);
    await sleep(500);
    assert.deepEqual([...rec.layersSince(400)], [0]);
  });

  test('bad media channel messages get a stable error code and change nothing', async () => {
    const b = peers.find((p) => p.endpoint === 'B') as SyntheticPeer;
    const mid = cameraOf(b, 'A') as string;
    const rec = recorder(b, () => mid);
    b.channelMessages.length = 0;
    await sleep(1100); // a fresh rate window
    b.mediaChannel?.sendMessage('not json');
    b.mediaChannel?.sendMessage(
      JSON.stringify({ type: 'view', tiles: { [mid]: { width: -5, height: 1 } } }),
    );
    b.mediaChannel?.sendMessage(JSON.stringify({ type: 'view', tiles: {}, extra: 1 }));
    b.mediaChannel?.sendMessage(JSON.stringify({ type: 'layout' }));
    b.mediaChannel?.sendMessage(
      `{"type":"view","tiles":{},"pad":"${'x'.repeat(maxMediaChannelMessage)}"}`,
    );
    const refusals = () => b.channelMessages.flatMap((m) => (m.type === 'error' ? [m.code] : []));
    await until('five refusals', () => refusals().length >= 5);
    assert.deepEqual(refusals(), [
      'bad_message',
      'bad_message',
      'bad_message',
      'bad_message',
      'payload_too_large',
    ]);
    assert.ok(rec.countSince(500) > 3, 'the last good view still stands: video goes on');
    await sleep(1100);
    b.channelMessages.length = 0;
    for (let i = 0; i < maxViewsPerSecond + 5; i++)
      b.sendView({ [mid]: { width: 320, height: 180 } });
    await until('refused past the rate', () => refusals().length >= 1);
    await sleep(300);
    assert.deepEqual(refusals(), ['rate_limited'], 'said once');
    assert.ok(rec.countSince(500) > 3, 'and video goes on');
    const load = await new Promise((r) => {
      room.focus.take((m) => {
        if (m.type !== 'load') return false;
        r(m);
        return true;
      });
    });
    assert.ok(load, 'the bridge is still there');
  });

  test('a publisher without simulcast is forwarded whole, as one layer', async () => {
    const c = await join('c2', 'C');
    const d = await join('c2', 'D');
    c.publish();
    const mid = () => cameraOf(d, 'C');
    await until('C forwarded to D', () => mid() !== undefined && d.mediaChannel?.isOpen() === true);
    d.sendView({ [mid() as string]: { width: 160, height: 90 } });
    await until('video arrives', () => (d.received.get(mid() as string)?.packets ?? 0) > 50);
  });
});
