import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fields, rtp } from '../../test/rtpPackets.js';
import { RtpRewriter } from './RtpRewriter.js';

test('a forwarded packet gets the slot SSRC and payload type; marker and payload are kept', () => {
  const r = new RtpRewriter(0xabcdef01, 'video', 100);
  const out = r.rewrite(
    rtp({ ssrc: 1111, seq: 500, ts: 9000, pt: 96, marker: true, payload: [9, 8, 7] }),
  );
  assert.deepEqual(fields(out), { pt: 100, marker: true, seq: 500, ts: 9000, ssrc: 0xabcdef01 });
  assert.deepEqual([...out.subarray(12)], [9, 8, 7]);
});

test('receivers may share one copy in turn: each rewrite of it equals a rewrite of its own', () => {
  const packet = rtp({ ssrc: 7, seq: 300, ts: 4000, pt: 96, payload: [1, 2, 3, 4] });
  const a = new RtpRewriter(0x1111, 'video', 100);
  const b = new RtpRewriter(0x2222, 'video', 101);
  // b has forwarded another source before: its sequence and timestamp continue from that one.
  b.rewrite(rtp({ ssrc: 9, seq: 50, ts: 10 }));
  const own = [new RtpRewriter(0x1111, 'video', 100), new RtpRewriter(0x2222, 'video', 101)];
  own[1]?.rewrite(rtp({ ssrc: 9, seq: 50, ts: 10 }));
  const shared = a.rewrite(packet);
  const first = Buffer.from(shared);
  const second = b.rewrite(packet, shared);
  assert.equal(second, shared, 'the same buffer');
  assert.deepEqual(first, own[0]?.rewrite(packet));
  assert.deepEqual(Buffer.from(second), own[1]?.rewrite(packet));
  assert.throws(() => a.rewrite(packet, Buffer.alloc(3)), RangeError);
});

test('the input packet is left as it was (each receiver rewrites its own copy)', () => {
  const input = rtp({ ssrc: 1111, seq: 1, ts: 1 });
  const copy = Buffer.from(input);
  new RtpRewriter(42, 'audio', 111).rewrite(input);
  assert.deepEqual(input, copy);
});

test('when the source changes, sequence numbers and timestamps go on without a jump', () => {
  const r = new RtpRewriter(7, 'video', 96);
  r.rewrite(rtp({ ssrc: 1, seq: 100, ts: 1000 }));
  const last = fields(r.rewrite(rtp({ ssrc: 1, seq: 101, ts: 4000 })));
  const next = fields(r.rewrite(rtp({ ssrc: 2, seq: 60000, ts: 123456789 })));
  assert.equal(next.seq, (last.seq + 1) & 0xffff);
  assert.equal(next.ts, last.ts + 3000, 'one 30 fps frame interval at 90 kHz later');
  const after = fields(r.rewrite(rtp({ ssrc: 2, seq: 60001, ts: 123459789 })));
  assert.equal(after.seq, next.seq + 1);
  assert.equal(after.ts, next.ts + 3000);
});

test('sequence numbers and timestamps wrap around', () => {
  const r = new RtpRewriter(7, 'audio', 111);
  r.rewrite(rtp({ ssrc: 1, seq: 65535, ts: 0xffffff00 }));
  const next = fields(r.rewrite(rtp({ ssrc: 2, seq: 10, ts: 5 })));
  assert.equal(next.seq, 0);
  assert.equal(next.ts, (0xffffff00 + 960) >>> 0);
});

test('a late (reordered) packet keeps its place and does not move the continuation point', () => {
  const r = new RtpRewriter(7, 'video', 96);
  r.rewrite(rtp({ ssrc: 1, seq: 10, ts: 100 }));
  r.rewrite(rtp({ ssrc: 1, seq: 12, ts: 300 }));
  assert.equal(fields(r.rewrite(rtp({ ssrc: 1, seq: 11, ts: 200 }))).seq, 11);
  const switched = fields(r.rewrite(rtp({ ssrc: 9, seq: 1, ts: 1 })));
  assert.equal(switched.seq, 13, 'continues after 12, the highest sent');
});

test('reset() after a slot gets another source of the same SSRC still continues smoothly', () => {
  const r = new RtpRewriter(7, 'video', 96);
  r.rewrite(rtp({ ssrc: 1, seq: 100, ts: 1000 }));
  r.reset();
  assert.equal(fields(r.rewrite(rtp({ ssrc: 1, seq: 5, ts: 50 }))).seq, 101);
});
