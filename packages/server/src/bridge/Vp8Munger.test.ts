import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { rtp } from '../../test/rtpPackets.js';
import { newVp8Descriptor, readVp8Descriptor } from './rtp.js';
import { Vp8Munger } from './Vp8Munger.js';

/** A VP8 packet with the full descriptor Chromium writes: X, I (15-bit PictureID), L, T and K. */
function vp8(picture: number, tl0: number, tid: number, keyIdx: number, start = true): Buffer {
  const first = 0x80 | (start ? 0x10 : 0);
  return rtp({
    ssrc: 1,
    seq: 1,
    ts: 1,
    payload: [
      first,
      0x80 | 0x40 | 0x20 | 0x10,
      0x80 | ((picture >> 8) & 0x7f),
      picture & 0xff,
      tl0,
      ((tid & 3) << 6) | 0x20 | (keyIdx & 0x1f),
      0x9d, // the VP8 payload itself, which must stay as it was
      0x01,
    ],
  });
}

const read = (p: Buffer) => {
  const d = readVp8Descriptor(p, newVp8Descriptor());
  return {
    picture: (((p[d.pictureId] ?? 0) & 0x7f) << 8) | (p[d.pictureId + 1] ?? 0),
    tl0: p[d.tl0PicIdx] ?? -1,
    keyIdx: (p[d.keyIdx] ?? 0) & 0x1f,
    tid: (p[d.keyIdx] ?? 0) >> 6,
  };
};

/** One source's run of pictures: where its numbering starts and how many pictures it sends. */
const run = fc.record({
  picture: fc.integer({ min: 0, max: 0x7fff }),
  tl0: fc.integer({ min: 0, max: 0xff }),
  keyIdx: fc.integer({ min: 0, max: 0x1f }),
  pictures: fc.integer({ min: 1, max: 40 }),
  packetsPerPicture: fc.integer({ min: 1, max: 3 }),
});

test('over any sequence of source switches, PictureID, TL0PICIDX and KEYIDX go on by one at each switch, and wrap', () => {
  fc.assert(
    fc.property(fc.array(run, { minLength: 1, maxLength: 8 }), (runs) => {
      const munger = new Vp8Munger();
      let last: ReturnType<typeof read> | undefined;
      for (const r of runs) {
        munger.switchSource();
        for (let i = 0; i < r.pictures; i++) {
          // Every picture is a base-layer one here (TID 0), so TL0PICIDX steps with it.
          const picture = (r.picture + i) & 0x7fff;
          const tl0 = (r.tl0 + i) & 0xff;
          for (let k = 0; k < r.packetsPerPicture; k++) {
            const p = vp8(picture, tl0, 0, r.keyIdx, k === 0);
            munger.munge(p);
            const got = read(p);
            if (last && k === 0) {
              assert.equal(got.picture, (last.picture + 1) & 0x7fff, 'PictureID continues');
              assert.equal(got.tl0, (last.tl0 + 1) & 0xff, 'TL0PICIDX continues');
            }
            if (last && k > 0) assert.equal(got.picture, last.picture, 'one picture, one id');
            if (last && i === 0 && k === 0)
              assert.equal(got.keyIdx, (last.keyIdx + 1) & 0x1f, 'KEYIDX moves on at a switch');
            if (last && i > 0) assert.equal(got.keyIdx, last.keyIdx, 'KEYIDX kept within a source');
            assert.equal(p[p.length - 2], 0x9d, 'the payload is left alone');
            assert.equal(got.tid, 0, 'TID is kept');
            last = got;
          }
        }
      }
    }),
  );
});

test('within a source a gap stays a gap: lost pictures still show to the receiver', () => {
  const m = new Vp8Munger();
  const a = vp8(100, 7, 0, 3);
  m.munge(a);
  const b = vp8(103, 8, 0, 3);
  m.munge(b);
  assert.equal(read(b).picture - read(a).picture, 3);
  // A late packet of an older picture is mapped the same way and does not move the anchor.
  const late = vp8(101, 7, 0, 3, false);
  m.munge(late);
  assert.equal(read(late).picture, read(a).picture + 1);
  m.switchSource();
  const c = vp8(5000, 200, 0, 9);
  m.munge(c);
  assert.equal(read(c).picture, read(b).picture + 1, 'continues from the highest sent');
  assert.equal(read(c).tl0, read(b).tl0 + 1, 'TL0PICIDX too, not from the late packet');
});

test('receivers sharing one copy in turn each get their own numbering', () => {
  const x = new Vp8Munger();
  const y = new Vp8Munger();
  x.munge(vp8(10, 1, 0, 1));
  y.munge(vp8(500, 50, 0, 4));
  y.switchSource();
  const original = vp8(20, 2, 0, 1);
  const shared = Buffer.from(original);
  x.munge(original, shared);
  assert.equal(read(shared).picture, 20);
  y.munge(original, shared); // the same copy, now as y sends it
  assert.equal(read(shared).picture, 501);
  assert.equal(read(original).picture, 20, 'the packet as it came is left alone');
  assert.equal(read(shared).tl0, 51);
});

test('a 7-bit PictureID stays 7 bits and continues in them', () => {
  const short = (picture: number) =>
    rtp({ ssrc: 1, seq: 1, ts: 1, payload: [0x90, 0x80, picture & 0x7f, 0x9d] });
  const m = new Vp8Munger();
  const a = short(126);
  m.munge(a);
  const b = short(127);
  m.munge(b);
  const c = short(0);
  m.munge(c);
  assert.deepEqual([a[14], b[14], c[14]], [126, 127, 0]);
  m.switchSource();
  const d = short(60);
  m.munge(d);
  assert.equal(d[14], 1);
  assert.equal(d[15], 0x9d);
});

test('truncated and random descriptors never throw and never write past the packet', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 12, maxLength: 40 }), fc.boolean(), (bytes, sw) => {
      const p = Buffer.from(bytes);
      p[0] = 0x80 | ((p[0] ?? 0) & 0x3f);
      const before = p.length;
      const m = new Vp8Munger();
      m.munge(p);
      if (sw) m.switchSource();
      m.munge(p);
      assert.equal(p.length, before);
    }),
  );
});

test('a packet without a descriptor extension is left as it was', () => {
  const p = rtp({ ssrc: 1, seq: 1, ts: 1, payload: [0x10, 0x9d, 0x01, 0x2a] });
  const copy = Buffer.from(p);
  new Vp8Munger().munge(p);
  assert.deepEqual(p, copy);
});

test('temporal layers dropped whole leave the PictureIDs sent continuous', () => {
  const m = new Vp8Munger();
  const sent: number[] = [];
  // Pictures 100..111 with the pattern TID 0,2,1,2; the receiver gets TID 0 and 1 only.
  for (let i = 0; i < 12; i++) {
    const tid = [0, 2, 1, 2][i % 4] as number;
    // Two packets per picture: the first starts the frame.
    for (const start of [true, false]) {
      const p = vp8(100 + i, 7 + Math.floor(i / 4), tid, 1, start);
      if (tid > 1) m.drop(p);
      else {
        m.munge(p);
        if (start) sent.push(read(p).picture);
      }
    }
  }
  assert.deepEqual(
    sent,
    sent.map((_, i) => (sent[0] ?? 0) + i),
    `continuous: ${sent}`,
  );
});
