import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rtp } from '../../test/rtpPackets.js';
import { PacketCache } from './PacketCache.js';
import { RtpRewriter } from './RtpRewriter.js';

test('the packet cache answers by SSRC and sequence, and forgets what was overwritten', () => {
  const cache = new PacketCache(4);
  for (let seq = 0; seq < 6; seq++) cache.put(rtp({ ssrc: 5, seq, ts: seq }));
  assert.equal(cache.get(5, 5)?.readUInt32BE(4), 5);
  assert.equal(cache.get(5, 1), undefined, 'overwritten by seq 5');
  assert.equal(cache.get(6, 5), undefined, 'another SSRC');
  assert.throws(() => new PacketCache(5));
  // A NACKed sequence maps back to the source's through the slot's rewriter.
  const r = new RtpRewriter(0xabc, 'video', 96);
  r.rewrite(rtp({ ssrc: 1, seq: 100, ts: 0 }));
  r.reset();
  const out = r.rewrite(rtp({ ssrc: 5, seq: 4, ts: 4 }));
  assert.equal(r.sourceSeq(out.readUInt16BE(2)), 4);
});
