import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rtp } from '../../test/rtpPackets.js';
import { PacketCache } from './PacketCache.js';
import { SentHistory, sentHistorySize } from './SentHistory.js';

test('the packet cache answers by SSRC and sequence, and forgets what was overwritten', () => {
  const cache = new PacketCache(4);
  for (let seq = 0; seq < 6; seq++) cache.put(rtp({ ssrc: 5, seq, ts: seq }));
  assert.equal(cache.get(5, 5)?.readUInt32BE(4), 5);
  assert.equal(cache.get(5, 1), undefined, 'overwritten by seq 5');
  assert.equal(cache.get(6, 5), undefined, 'another SSRC');
  assert.throws(() => new PacketCache(5));
});

test('what a slot sent is found by its own sequence number, whichever layer it came from', () => {
  const h = new SentHistory();
  h.put(1000, 0xa, 7, 90_000, 300, 12, 3);
  h.put(1001, 0xb, 55_000, 93_000, 301, 13, 4);
  assert.ok(h.find(1000));
  assert.deepEqual(
    [h.ssrc, h.sourceSeq, h.timestamp, h.picture, h.tl0, h.keyIdx],
    [0xa, 7, 90_000, 300, 12, 3],
  );
  assert.ok(h.find(1001));
  assert.equal(h.ssrc, 0xb);
  assert.equal(h.find(1002), false);
  h.put(1000 + sentHistorySize, 0xc, 1, 1, -1, -1, -1);
  assert.equal(h.find(1000), false, 'overwritten');
  h.forget(1000 + sentHistorySize);
  assert.equal(h.find(1000 + sentHistorySize), false, 'forgotten');
});
