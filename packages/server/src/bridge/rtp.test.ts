import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { rtp } from '../../test/rtpPackets.js';
import { PacketCache } from './PacketCache.js';
import { ReceiveStats } from './ReceiveStats.js';
import { RtpRewriter } from './RtpRewriter.js';
import {
  audioLevel,
  isRtcp,
  isRtp,
  isVp8Keyframe,
  nackPacket,
  parseFeedback,
  parseSenderReports,
  pictureLossIndication,
  rembPacket,
  senderReport,
} from './rtp.js';

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
  r.rewrite(rtp({ ssrc: 2222, seq: 50, ts: 500_000 }));
  const ts = r.timestamp(2222, 500_000);
  assert.equal(ts, r.rewrite(rtp({ ssrc: 2222, seq: 51, ts: 500_000 }))?.readUInt32BE(4));
  assert.equal(r.timestamp(1111, 1000), undefined, 'not the current source');
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

test("report blocks of receiver and sender reports give each stream's loss", () => {
  const block = (ssrc: number, fraction: number) => {
    const b = Buffer.alloc(24);
    b.writeUInt32BE(ssrc, 0);
    b[4] = fraction;
    return b;
  };
  const rr = Buffer.concat([
    Buffer.from([0x82, 201, 0, 13, 0, 0, 0, 1]),
    block(7, 30),
    block(8, 0),
  ]);
  const sr = Buffer.concat([Buffer.from([0x81, 200, 0, 12]), Buffer.alloc(24), block(9, 255)]);
  assert.deepEqual(
    parseFeedback(Buffer.concat([rr, sr])).filter((f) => f.kind === 'loss'),
    [
      { kind: 'loss', mediaSsrc: 7, fraction: 30 },
      { kind: 'loss', mediaSsrc: 8, fraction: 0 },
      { kind: 'loss', mediaSsrc: 9, fraction: 255 },
    ],
  );
  // A count that claims more blocks than the packet holds reads only those there.
  const cut = Buffer.from(rr);
  cut[0] = 0x85;
  assert.equal(parseFeedback(cut).length, 2);
});
