import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fields, rtp } from '../../test/rtpPackets.js';
import { RtpRewriter } from './RtpRewriter.js';

test('a forwarded packet gets the slot SSRC and payload type; marker and payload are kept', () => {
  const r = new RtpRewriter(0xabcdef01, 'video', 100);
  const out = must(
    r.rewrite(rtp({ ssrc: 1111, seq: 500, ts: 9000, pt: 96, marker: true, payload: [9, 8, 7] })),
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
  const shared = must(a.rewrite(packet));
  const first = Buffer.from(shared);
  const second = b.rewrite(packet, shared);
  assert.equal(second, shared, 'the same buffer');
  assert.deepEqual(first, own[0]?.rewrite(packet));
  assert.deepEqual(Buffer.from(must(second)), own[1]?.rewrite(packet));
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
  r.rewrite(rtp({ ssrc: 1, seq: 100, ts: 1000 }), undefined, 0);
  const last = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 101, ts: 4000 }), undefined, 10)));
  const next = fields(must(r.rewrite(rtp({ ssrc: 2, seq: 60000, ts: 123456789 }), undefined, 20)));
  assert.equal(next.seq, (last.seq + 1) & 0xffff);
  assert.equal(next.ts, last.ts + 3000, 'at least one 30 fps frame interval at 90 kHz later');
  const after = fields(must(r.rewrite(rtp({ ssrc: 2, seq: 60001, ts: 123459789 }), undefined, 50)));
  assert.equal(after.seq, next.seq + 1);
  assert.equal(after.ts, next.ts + 3000);
});

test('sequence numbers and timestamps wrap around', () => {
  const r = new RtpRewriter(7, 'audio', 111);
  r.rewrite(rtp({ ssrc: 1, seq: 65535, ts: 0xffffff00 }));
  const next = fields(must(r.rewrite(rtp({ ssrc: 2, seq: 10, ts: 5 }))));
  assert.equal(next.seq, 0);
  assert.equal(next.ts, (0xffffff00 + 960) >>> 0);
});

test('a late (reordered) packet keeps its place and does not move the continuation point', () => {
  const r = new RtpRewriter(7, 'video', 96);
  r.rewrite(rtp({ ssrc: 1, seq: 10, ts: 100 }));
  r.rewrite(rtp({ ssrc: 1, seq: 12, ts: 300 }));
  assert.equal(fields(must(r.rewrite(rtp({ ssrc: 1, seq: 11, ts: 200 })))).seq, 11);
  const switched = fields(must(r.rewrite(rtp({ ssrc: 9, seq: 1, ts: 1 }))));
  assert.equal(switched.seq, 13, 'continues after 12, the highest sent');
});

test('after a pause the timestamp moves on by the time that passed, so the clock keeps pace', () => {
  const r = new RtpRewriter(7, 'video', 96);
  const last = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 1, ts: 1000 }), undefined, 1000)));
  const next = fields(must(r.rewrite(rtp({ ssrc: 2, seq: 1, ts: 5 }), undefined, 1500)));
  assert.equal(next.ts, last.ts + 45_000, '500 ms at 90 kHz');
});

test('dropped packets (padding, temporal layers) leave no gap in what the receiver gets', () => {
  const r = new RtpRewriter(7, 'video', 96);
  const out: number[] = [];
  for (let seq = 100; seq < 110; seq++) {
    const p = rtp({ ssrc: 1, seq, ts: seq * 10 });
    if (seq % 3 === 0) r.drop(p);
    else out.push(fields(must(r.rewrite(p))).seq);
  }
  assert.deepEqual(
    out,
    out.map((_, i) => (out[0] ?? 0) + i),
  );
});

test('a late packet gets the number it would have had, across drops after it', () => {
  const r = new RtpRewriter(7, 'video', 96);
  const a = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 10, ts: 1 })))).seq;
  // 11 is late; 12 is padding, dropped; 13 follows.
  r.drop(rtp({ ssrc: 1, seq: 12, ts: 1 }));
  const c = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 13, ts: 1 })))).seq;
  const late = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 11, ts: 1 })))).seq;
  assert.deepEqual([a, late, c], [a, a + 1, a + 2]);
});

test('packets from before the first one forwarded of a source get no number', () => {
  const r = new RtpRewriter(7, 'video', 96);
  r.rewrite(rtp({ ssrc: 1, seq: 500, ts: 1 }));
  assert.equal(r.rewrite(rtp({ ssrc: 1, seq: 499, ts: 1 })), undefined);
});

test("the bridge's padding continues the stream and the source's packets move up one", () => {
  const r = new RtpRewriter(7, 'video', 96);
  const a = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 10, ts: 900 }))));
  const pad = Buffer.alloc(300);
  const n = r.padding(pad, 200);
  assert.equal(n, 212);
  const p = pad.subarray(0, n);
  assert.deepEqual(fields(p), { pt: 96, marker: false, seq: a.seq + 1, ts: 900, ssrc: 7 });
  assert.equal(p[0], 0xa0, 'version 2 with padding');
  assert.equal(p[n - 1], 200);
  const b = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 11, ts: 3900 }))));
  assert.equal(b.seq, a.seq + 2);
  const late = fields(must(r.rewrite(rtp({ ssrc: 1, seq: 10, ts: 900 }))));
  assert.equal(late.seq, a.seq, 'a retransmission of 10 keeps its number');
  assert.equal(new RtpRewriter(8, 'video', 96).padding(pad, 10), 0, 'nothing before a packet');
});

function must(b: Buffer | undefined): Buffer {
  assert.ok(b, 'rewritten');
  return b;
}
