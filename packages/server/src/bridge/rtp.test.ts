import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  audioLevel,
  isRtcp,
  isRtp,
  isVp8Keyframe,
  LossTracker,
  nackPacket,
  PacketCache,
  parseFeedback,
  parseSenderReports,
  pictureLossIndication,
  ReceiveStats,
  RtpRewriter,
  rembPacket,
  senderReport,
} from './rtp.js';

function rtp(opts: {
  ssrc: number;
  seq: number;
  ts: number;
  pt?: number;
  marker?: boolean;
  payload?: number[];
}): Buffer {
  const b = Buffer.alloc(12 + (opts.payload?.length ?? 4));
  b[0] = 0x80;
  b[1] = ((opts.marker ? 1 : 0) << 7) | (opts.pt ?? 96);
  b.writeUInt16BE(opts.seq, 2);
  b.writeUInt32BE(opts.ts >>> 0, 4);
  b.writeUInt32BE(opts.ssrc >>> 0, 8);
  Buffer.from(opts.payload ?? [1, 2, 3, 4]).copy(b, 12);
  return b;
}

const fields = (p: Buffer) => ({
  pt: p.readUInt8(1) & 0x7f,
  marker: (p.readUInt8(1) & 0x80) !== 0,
  seq: p.readUInt16BE(2),
  ts: p.readUInt32BE(4),
  ssrc: p.readUInt32BE(8),
});

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

test('RTP and RTCP are told apart on a muxed port', () => {
  assert.equal(isRtp(rtp({ ssrc: 1, seq: 1, ts: 1 })), true);
  const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
  assert.equal(isRtcp(pli), true);
  assert.equal(isRtp(pli), false);
  assert.equal(isRtp(Buffer.from([0x80, 96, 0])), false, 'too short');
});

test('VP8 keyframes are recognised from the payload descriptor and frame header', () => {
  // S=1, PID=0, no extensions; frame header P bit clear = keyframe.
  assert.equal(
    isVp8Keyframe(rtp({ ssrc: 1, seq: 1, ts: 1, payload: [0x10, 0x00, 0x00, 0x00] })),
    true,
  );
  assert.equal(
    isVp8Keyframe(rtp({ ssrc: 1, seq: 1, ts: 1, payload: [0x10, 0x01, 0x00, 0x00] })),
    false,
  );
  assert.equal(
    isVp8Keyframe(rtp({ ssrc: 1, seq: 1, ts: 1, payload: [0x00, 0x00] })),
    false,
    'not a start',
  );
  // X=1 with a 15-bit picture id: descriptor is 4 bytes.
  assert.equal(
    isVp8Keyframe(rtp({ ssrc: 1, seq: 1, ts: 1, payload: [0x90, 0x80, 0x81, 0x23, 0x00] })),
    true,
  );
});

test('feedback in a compound RTCP packet: receiver report, PLI, FIR, NACK and REMB', () => {
  const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]);
  const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 9, 0x12, 0x34, 0x56, 0x78]);
  const fir = Buffer.from([0x84, 206, 0, 4, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0]);
  const nack = Buffer.from([0x81, 205, 0, 3, 0, 0, 0, 9, 0, 0, 0, 7, 0x00, 0x64, 0x00, 0x05]);
  // REMB: 1 SSRC, exponent 2, mantissa 250000 -> 1,000,000 bit/s.
  const remb = Buffer.alloc(24);
  remb.set([0x8f, 206, 0, 5, 0, 0, 0, 9, 0, 0, 0, 0], 0);
  remb.write('REMB', 12, 'latin1');
  remb[16] = 1;
  remb[17] = (2 << 2) | (250000 >> 16);
  remb.writeUInt16BE(250000 & 0xffff, 18);
  remb.writeUInt32BE(77, 20);
  const found = parseFeedback(Buffer.concat([rr, pli, fir, nack, remb]));
  assert.deepEqual(found, [
    { kind: 'pli', mediaSsrc: 0x12345678 },
    { kind: 'fir', mediaSsrc: 5 },
    { kind: 'nack', mediaSsrc: 7, lost: [100, 101, 103] },
    { kind: 'remb', bitrate: 1_000_000, ssrcs: [77] },
  ]);
});

test('malformed RTCP yields what is whole and never throws', () => {
  const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0, 3]);
  assert.deepEqual(parseFeedback(Buffer.concat([pli, Buffer.from([0x81, 206, 0, 9, 1])])), [
    { kind: 'pli', mediaSsrc: 3 },
  ]);
  assert.deepEqual(parseFeedback(Buffer.from([0x00, 206, 0, 2])), [], 'wrong version');
  assert.deepEqual(parseFeedback(Buffer.alloc(0)), []);
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(
      Array.from({ length: (i % 40) + 1 }, (_, k) => (i * 31 + k * 17) & 0xff),
    );
    parseFeedback(junk);
  }
});

/** An Opus packet with an RFC 6464 audio level in a one-byte header extension. */
function withLevel(level: number, id = 1, pad = 0): Buffer {
  const ext = Buffer.alloc(8);
  ext.writeUInt16BE(0xbede, 0);
  ext.writeUInt16BE(1, 2);
  ext[4 + pad] = (id << 4) | 0; // one byte of data
  ext[5 + pad] = 0x80 | level; // V bit set
  const p = rtp({ ssrc: 7, seq: 1, ts: 0, pt: 111, payload: [...ext, 0xaa, 0xbb] });
  p[0] = 0x90; // X bit
  return p;
}

test('audio levels are read from the one-byte header extension; packets without one give -1', () => {
  assert.equal(audioLevel(withLevel(30)), 30);
  assert.equal(audioLevel(withLevel(127)), 127);
  assert.equal(audioLevel(withLevel(5, 1, 1)), 5, 'after padding');
  assert.equal(audioLevel(withLevel(30, 3)), -1, 'another extension id');
  assert.equal(audioLevel(rtp({ ssrc: 7, seq: 1, ts: 0 })), -1, 'no extension');
  const truncated = withLevel(30).subarray(0, 15);
  assert.equal(audioLevel(truncated), -1);
});

test("a publisher's sender report is found in a compound packet and rewritten for a slot", () => {
  const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]);
  const sr = senderReport(1111, 0x11223344, 0x55667788, 90_000, 10, 1000);
  const [found] = parseSenderReports(Buffer.concat([rr, sr]));
  assert.deepEqual(found, {
    ssrc: 1111,
    ntpHigh: 0x11223344,
    ntpLow: 0x55667788,
    rtpTimestamp: 90_000,
  });
  assert.deepEqual(parseSenderReports(sr.subarray(0, 20)), [], 'truncated');
  // The slot maps the publisher's timestamp as it maps its packets.
  const r = new RtpRewriter(0xabc, 'video', 96);
  r.rewrite(rtp({ ssrc: 1111, seq: 1, ts: 1000 }));
  r.reset();
  r.rewrite(rtp({ ssrc: 2222, seq: 50, ts: 500_000 }));
  const ts = r.timestamp(2222, 500_000);
  assert.equal(ts, r.rewrite(rtp({ ssrc: 2222, seq: 51, ts: 500_000 })).readUInt32BE(4));
  assert.equal(r.timestamp(1111, 1000), undefined, 'not the current source');
});

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

test('PLI and REMB are built as RFC 4585 and REMB say, and read back by parseFeedback', () => {
  assert.deepEqual(parseFeedback(pictureLossIndication(1, 2)), [{ kind: 'pli', mediaSsrc: 2 }]);
  const [remb] = parseFeedback(rembPacket(1, 1_200_000, 9));
  assert.equal(remb?.kind, 'remb');
  assert.ok(remb?.kind === 'remb' && Math.abs(remb.bitrate - 1_200_000) < 16);
  assert.deepEqual(remb?.kind === 'remb' && remb.ssrcs, [9]);
});

test('malformed RTP and RTCP never throw from the parsers (fuzz)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const b = Buffer.from(bytes);
      parseFeedback(b);
      parseSenderReports(b);
      if (isRtp(b)) {
        audioLevel(b);
        isVp8Keyframe(b);
        new RtpRewriter(1, 'video', 96).rewrite(b);
        new ReceiveStats(90_000).packet(b, 0);
        new PacketCache(8).put(b);
      }
    }),
    { numRuns: 20_000 },
  );
});

test('a NACK the bridge builds names exactly the sequence numbers asked for, across runs and the wrap', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { maxLength: 64 }), (seqs) => {
      const sorted = [...seqs].sort((a, b) => a - b);
      const fb = parseFeedback(nackPacket(7, 9, sorted));
      const lost = fb.flatMap((f) => (f.kind === 'nack' && f.mediaSsrc === 9 ? f.lost : []));
      assert.deepEqual(
        [...lost].sort((a, b) => a - b),
        sorted,
      );
    }),
  );
  const wrap = parseFeedback(nackPacket(7, 9, [65534, 65535, 0, 3]));
  assert.deepEqual(wrap, [{ kind: 'nack', mediaSsrc: 9, lost: [65534, 65535, 0, 3] }]);
  assert.equal(nackPacket(7, 9, [65534, 65535, 0, 3]).length, 16, 'one FCI for the run');
});

test('lost upstream packets are asked for at once, again after the retry interval, and given up', () => {
  const loss = new LossTracker(128, 100, 3, 1000);
  assert.deepEqual(loss.packet(1, 5, 0), []);
  assert.deepEqual(loss.packet(1, 6, 1), [], 'in order: nothing');
  assert.deepEqual(loss.packet(1, 10, 2), [7, 8, 9], 'a gap is asked for at once');
  assert.deepEqual(loss.packet(1, 8, 3), [], 'a late one arrives; the rest were just asked');
  assert.deepEqual(loss.packet(1, 11, 50), [], 'not again before the retry interval');
  assert.deepEqual(loss.packet(1, 12, 110), [7, 9], 'again after it');
  assert.deepEqual(loss.packet(1, 13, 220), [7, 9], 'a third time');
  assert.deepEqual(loss.packet(1, 14, 330), [], 'then given up');
  assert.deepEqual(loss.packet(1, 14, 331), [], 'a duplicate is nothing');
  assert.deepEqual(loss.packet(1, 16, 400), [15]);
  assert.deepEqual(loss.packet(1, 17, 1500), [], 'too old to ask for');
  assert.deepEqual(loss.packet(1, 1000, 1501), [], 'a jump beyond the window is not loss');
  assert.deepEqual(loss.packet(1, 1001, 1502), []);
  const wrap = new LossTracker();
  wrap.packet(1, 65534, 0);
  assert.deepEqual(wrap.packet(1, 1, 1), [65535, 0], 'across the wrap');
  assert.deepEqual(wrap.packet(2, 9, 2), [], 'a new SSRC starts afresh');
  assert.deepEqual(wrap.packet(2, 12, 3), [10, 11], 'and has its own gaps');
});
