import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AllocatorState,
  allocate,
  applyLastN,
  initialAllocatorState,
  type LayerInfo,
  raiseHoldMs,
  type TileInfo,
} from './Allocator.js';

/** Three layers as Chromium sends a 720p camera: 320/640/1280 wide, ~150/500/1500 kbit/s. */
function simulcast(settled = true): LayerInfo[] {
  return [
    {
      bitrate: 150_000,
      temporalBitrates: [60_000, 100_000, 150_000],
      width: 320,
      active: true,
      settled,
    },
    {
      bitrate: 500_000,
      temporalBitrates: [200_000, 350_000, 500_000],
      width: 640,
      active: true,
      settled,
    },
    {
      bitrate: 1_500_000,
      temporalBitrates: [600_000, 1_000_000, 1_500_000],
      width: 1280,
      active: true,
      settled,
    },
  ];
}

function tile(key: string, width: number, extra: Partial<TileInfo> = {}): TileInfo {
  return {
    key,
    layers: simulcast(),
    width,
    stage: false,
    screen: false,
    speakerRank: Infinity,
    ...extra,
  };
}

const spatial = (r: { choices: Map<string, { spatial: number }> }, key: string) =>
  r.choices.get(key)?.spatial;

test('with room for all, the stage gets the layer that fills it and thumbnails the lowest', () => {
  const r = allocate(
    [tile('stage', 1280, { stage: true }), tile('t1', 320), tile('t2', 300)],
    10_000_000,
    initialAllocatorState,
    0,
  );
  assert.deepEqual(
    ['stage', 't1', 't2'].map((k) => spatial(r, k)),
    [2, 0, 0],
  );
  assert.equal(r.allocated, 1_800_000);
});

test('a tile of 640 gets the middle layer, a hidden tile nothing', () => {
  const r = allocate([tile('a', 640), tile('b', 0)], Infinity, initialAllocatorState, 0);
  assert.equal(spatial(r, 'a'), 1);
  assert.equal(spatial(r, 'b'), -1);
});

test('short of bandwidth, the stage comes first, then every thumbnail at its lowest', () => {
  const tiles = [tile('t1', 320), tile('stage', 1280, { stage: true }), tile('t2', 320)];
  // 1.0 Mbit/s: the stage's 1.5 Mbit/s top layer does not fit, its middle one does.
  const r = allocate(tiles, 1_000_000, initialAllocatorState, 0);
  assert.deepEqual(
    ['stage', 't1', 't2'].map((k) => spatial(r, k)),
    [1, 0, 0],
  );
  assert.ok(r.allocated <= 1_000_000);
  assert.equal(r.wanted, 1_800_000);
});

test('when not even the lowest layers fit, thumbnails lose frames, then pause; the stage never does', () => {
  const tiles = [tile('stage', 1280, { stage: true }), tile('t1', 320), tile('t2', 320)];
  // 280k: the stage's lowest (150k) leaves 130k: TID 0-1 of one thumbnail (100k), the other paused.
  const r = allocate(tiles, 280_000, initialAllocatorState, 0);
  assert.deepEqual(r.choices.get('stage'), { spatial: 0, temporal: 2 });
  assert.deepEqual(r.choices.get('t1'), { spatial: 0, temporal: 1 });
  assert.equal(spatial(r, 't2'), -1);
  const less = allocate(tiles, 230_000, initialAllocatorState, 0);
  assert.deepEqual(less.choices.get('t1'), { spatial: 0, temporal: 0 }, 'TID 0 only (60k of 80k)');
  const tight = allocate(tiles, 100_000, initialAllocatorState, 0);
  assert.deepEqual(tight.choices.get('stage'), { spatial: 0, temporal: 1 });
  assert.equal(spatial(tight, 't1'), -1);
  const none = allocate(tiles, 10_000, initialAllocatorState, 0);
  assert.deepEqual(none.choices.get('stage'), { spatial: 0, temporal: 0 }, 'never paused');
});

test('without reported loss the stage gets what it needs and no tile loses frames or pauses', () => {
  const tiles = [tile('stage', 1280, { stage: true }), tile('t1', 640), tile('t2', 320)];
  const r = allocate(tiles, 100_000, initialAllocatorState, 0, false);
  assert.deepEqual(
    ['stage', 't1', 't2'].map((k) => r.choices.get(k)),
    [2, 0, 0].map((spatial) => ({ spatial, temporal: 2 })),
    'the stage at its tile, the thumbnails at their lowest, every frame',
  );
  const more = allocate(tiles, 2_500_000, initialAllocatorState, 0, false);
  assert.equal(spatial(more, 't1'), 1, 'thumbnails are raised as far as the estimate goes');
});

test('priority among thumbnails: screen shares, then the latest speakers', () => {
  const tiles = [
    tile('quiet', 1280),
    tile('speaker', 1280, { speakerRank: 0 }),
    tile('screen', 1280, { screen: true }),
  ];
  // Room for the three lowest (450k) and one raise to the middle (+350k).
  const r = allocate(tiles, 850_000, initialAllocatorState, 0);
  assert.deepEqual(
    ['screen', 'speaker', 'quiet'].map((k) => spatial(r, k)),
    [1, 0, 0],
  );
  const more = allocate(tiles, 1_200_000, initialAllocatorState, 0);
  assert.deepEqual(
    ['screen', 'speaker', 'quiet'].map((k) => spatial(more, k)),
    [1, 1, 0],
  );
});

test('an estimate within 15% of the last one changes nothing', () => {
  const tiles = [tile('stage', 1280, { stage: true })];
  const first = allocate(tiles, 1_600_000, initialAllocatorState, 0);
  assert.equal(spatial(first, 'stage'), 2);
  const dip = allocate(tiles, 1_400_000, first.state, 1000);
  assert.equal(spatial(dip, 'stage'), 2, '12.5% lower: the same');
  const drop = allocate(tiles, 1_000_000, dip.state, 2000);
  assert.equal(spatial(drop, 'stage'), 1, 'a real drop lowers it');
});

test('after a downgrade nothing is raised for bandwidth for 10 s; a tile that grows is served at once', () => {
  const stage = [tile('stage', 1280, { stage: true }), tile('t', 320)];
  let s: AllocatorState = allocate(stage, 5_000_000, initialAllocatorState, 0).state;
  s = allocate(stage, 700_000, s, 1000).state;
  assert.equal(s.choices.get('stage')?.spatial, 1);
  const back = allocate(stage, 5_000_000, s, 2000);
  assert.equal(spatial(back, 'stage'), 1, 'held');
  const later = allocate(stage, 5_000_000, back.state, 1000 + raiseHoldMs + 1);
  assert.equal(spatial(later, 'stage'), 2, 'raised after the hold');
  // During a hold, a thumbnail put on stage (it now needs more) gets its layer at once.
  const pinned = allocate(
    [tile('stage', 320), tile('t', 1280, { stage: true })],
    5_000_000,
    back.state,
    2500,
  );
  assert.equal(spatial(pinned, 't'), 2);
});

test('a layer that just started is not chosen above what the receiver gets until it settled', () => {
  const layers = simulcast();
  const t = (settled: boolean): TileInfo => ({
    ...tile('a', 1280, { stage: true }),
    layers: layers.map((l, i) => (i === 2 ? { ...l, settled } : l)),
  });
  const first = allocate([t(false)], 600_000, initialAllocatorState, 0);
  assert.equal(spatial(first, 'a'), 1, 'what fits');
  const up = allocate([t(false)], 5_000_000, first.state, 500);
  assert.equal(spatial(up, 'a'), 1, 'room now, but the top layer is new (not settled): not yet');
  assert.equal(spatial(allocate([t(true)], 5_000_000, up.state, 1000), 'a'), 2);
  // A tile that grows (pinned) gets the new layer once it settled, too: one Chromium just
  // turned on stalled the decoder when taken at once.
  const small = allocate(
    [{ ...t(false), width: 320, stage: false }],
    5_000_000,
    initialAllocatorState,
    0,
  );
  const grown = allocate([t(false)], 5_000_000, small.state, 100);
  assert.equal(spatial(grown, 'a'), 1);
});

test('a layer that stopped sending is not chosen', () => {
  const layers = simulcast().map((l, i) => (i === 2 ? { ...l, active: false } : l));
  const r = allocate([{ ...tile('a', 1280), layers }], Infinity, initialAllocatorState, 0);
  assert.equal(spatial(r, 'a'), 1);
});

test('a publisher without simulcast is one layer, forwarded whole to every tile shown', () => {
  const one: LayerInfo[] = [
    { bitrate: 1_000_000, temporalBitrates: [0, 0, 0], width: 640, active: true, settled: true },
  ];
  const r = allocate(
    [
      { ...tile('big', 1280, { stage: true }), layers: one },
      { ...tile('small', 160), layers: one },
    ],
    Infinity,
    initialAllocatorState,
    0,
  );
  assert.deepEqual(r.choices.get('big'), { spatial: 0, temporal: 2 });
  assert.deepEqual(r.choices.get('small'), { spatial: 0, temporal: 2 });
  const short = allocate(
    [
      { ...tile('big', 1280, { stage: true }), layers: one },
      { ...tile('small', 160), layers: one },
    ],
    500_000,
    initialAllocatorState,
    0,
  );
  assert.equal(spatial(short, 'small'), 0, 'not paused when bandwidth is short: nothing smaller');
});

test('on a steady link with a noisy estimate, choices hardly ever change (under one a minute)', () => {
  // Ten minutes of ticks every 500 ms, the estimate swinging ±10% around 2 Mbit/s.
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -0.1, max: 0.1, noNaN: true }), {
        minLength: 1200,
        maxLength: 1200,
      }),
      (noise) => {
        const tiles = [tile('stage', 1280, { stage: true }), tile('a', 320), tile('b', 320)];
        let state = initialAllocatorState;
        let flips = 0;
        let prev: string | undefined;
        noise.forEach((n, i) => {
          const r = allocate(tiles, 2_000_000 * (1 + n), state, i * 500);
          state = r.state;
          const now = JSON.stringify([...r.choices.entries()]);
          if (prev !== undefined && now !== prev) flips++;
          prev = now;
        });
        assert.ok(flips <= 10, `${flips} changes in 10 minutes`);
      },
    ),
    { numRuns: 20 },
  );
});

test('any inputs: choices stay within the layers, hidden tiles get nothing, simulcast thumbnails keep to the budget', () => {
  const layer = fc.record({
    bitrate: fc.integer({ min: 0, max: 3_000_000 }),
    temporalBitrates: fc.constant([0, 0, 0]),
    width: fc.integer({ min: 0, max: 1920 }),
    active: fc.boolean(),
    settled: fc.boolean(),
  });
  const anyTile = fc.record({
    key: fc.string({ minLength: 1, maxLength: 4 }),
    layers: fc.array(layer, { minLength: 0, maxLength: 3 }),
    width: fc.integer({ min: 0, max: 4000 }),
    stage: fc.boolean(),
    screen: fc.boolean(),
    speakerRank: fc.constantFrom(0, 1, 2, Infinity),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(anyTile, { selector: (t) => t.key, maxLength: 8 }),
      fc.integer({ min: 0, max: 10_000_000 }),
      (tiles, estimate) => {
        const r = allocate(tiles, estimate, initialAllocatorState, 0);
        let nonStage = 0;
        for (const t of tiles) {
          const c = r.choices.get(t.key);
          assert.ok(c, 'every tile gets a choice');
          assert.ok(c.spatial < t.layers.length);
          if (t.width === 0) assert.equal(c.spatial, -1);
          if (c.spatial >= 0) assert.ok(t.layers[c.spatial]?.active, 'only layers that send');
          if (!t.stage && t.layers.length > 1 && c.spatial >= 0)
            nonStage += t.layers[c.spatial]?.bitrate ?? 0;
        }
        assert.ok(nonStage <= estimate, 'simulcast thumbnails never exceed the estimate');
      },
    ),
  );
});

test('last-N keeps the receiver stage and then the latest speakers, hiding the rest; screens are not counted', () => {
  const tiles = [
    tile('a', 320, { lastNRank: 2 }),
    tile('b', 320, { lastNRank: 0 }),
    tile('c', 320, { lastNRank: 3 }),
    tile('d', 1280, { lastNRank: 5, stage: true }),
    tile('s', 1280, { screen: true, lastNRank: 9 }),
    tile('hidden', 0, { lastNRank: 1 }),
  ];
  const shown = (n: number) =>
    applyLastN(tiles, n)
      .filter((t) => t.width > 0)
      .map((t) => t.key)
      .sort();
  assert.deepEqual(
    shown(2),
    ['b', 'd', 's'],
    'the stage, then the latest speaker; a hidden tile takes no place',
  );
  assert.deepEqual(shown(3), ['a', 'b', 'd', 's']);
  assert.deepEqual(shown(-1), ['a', 'b', 'c', 'd', 's'], '-1: all');
  assert.deepEqual(shown(0), ['d', 's'], '0: no camera but the stage');
  // A cut tile gets nothing from the allocator, and needs nothing of its publisher.
  const r = allocate(applyLastN(tiles, 2), 10_000_000, initialAllocatorState, 0);
  assert.equal(spatial(r, 'c'), -1);
  assert.equal(r.state.needs.get('c'), -1);
  assert.equal(spatial(r, 'b'), 0);
});

test('last-N replacement: as the speaker order changes, the newest speaker comes in and the least recent goes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 5 }),
      (spoken, n) => {
        // Eight cameras; `spoken` is who became the dominant speaker, in turn.
        let order = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'];
        for (const s of spoken) {
          const key = `k${s}`;
          order = [key, ...order.filter((k) => k !== key)];
          const kept = applyLastN(
            order.map((k) => tile(k, 320, { lastNRank: order.indexOf(k) })),
            n,
          )
            .filter((t) => t.width > 0)
            .map((t) => t.key);
          assert.ok(kept.includes(key), 'the one speaking now is forwarded');
          assert.deepEqual(new Set(kept), new Set(order.slice(0, n)));
        }
      },
    ),
  );
});

test('last-N: the stage is kept even at 0, and a camera that sends nothing takes no place', () => {
  const tiles = [
    tile('off1', 320, { lastNRank: 0, silent: true }),
    tile('off2', 320, { lastNRank: 1, silent: true }),
    tile('live', 320, { lastNRank: 2 }),
    tile('later', 320, { lastNRank: 3 }),
    tile('stage', 1280, { lastNRank: 4, stage: true }),
  ];
  const shown = (n: number) =>
    applyLastN(tiles, n)
      .filter((t) => t.width > 0)
      .map((t) => t.key)
      .sort();
  assert.deepEqual(
    shown(0),
    ['off1', 'off2', 'stage'],
    '0: only the stage (the silent ones get nothing anyway)',
  );
  assert.deepEqual(
    shown(2),
    ['live', 'off1', 'off2', 'stage'],
    'the recent speakers whose cameras are off leave room for one that is on',
  );
});

test('a shown tile whose source has sent nothing yet needs its first layer, so that nobody pauses it', () => {
  const r = allocate([tile('new', 320, { layers: [] })], 10_000_000, initialAllocatorState, 0);
  assert.equal(r.state.needs.get('new'), 0);
  assert.equal(spatial(r, 'new'), -1, 'nothing to forward yet');
});
