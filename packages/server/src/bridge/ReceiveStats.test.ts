import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rtp } from '../../test/rtpPackets.js';
import { ReceiveStats } from './ReceiveStats.js';

test('receiver reports count loss, the highest sequence and the last sender report', () => {
  const stats = new ReceiveStats(90_000);
  assert.equal(stats.report(1, 0), undefined, 'nothing before a packet');
  for (const seq of [65534, 65535, 1, 2, 3])
    stats.packet(rtp({ ssrc: 77, seq, ts: seq * 3000 }), seq);
  stats.senderReport(0x00011234, 0x56780000, 100);
  const rr = stats.report(0x42, 1100) as Buffer;
  assert.equal(rr[1], 201);
  assert.equal(rr.readUInt32BE(4), 0x42, 'from the bridge');
  assert.equal(rr.readUInt32BE(8), 77, 'about the publisher');
  assert.equal(rr.readUInt32BE(12) & 0xffffff, 1, 'one lost (sequence 0)');
  assert.equal(rr[12], Math.floor(256 / 6), 'fraction lost');
  assert.equal(rr.readUInt32BE(16), 0x10003, 'extended highest sequence, one wrap');
  assert.equal(rr.readUInt32BE(24), 0x12345678, 'middle bits of the SR time');
  assert.equal(rr.readUInt32BE(28), 65536, 'one second since the SR');
  assert.equal((stats.report(0x42, 2000) as Buffer)[12], 0, 'nothing lost since');
});
