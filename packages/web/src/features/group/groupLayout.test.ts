import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GroupParticipant } from '@confab/protocol';
import type { RemoteMedia } from '../../calls/GroupController.js';
import { gridFit, initialsOf, planGroupLayout } from './groupLayout.js';

const person = (id: string): GroupParticipant => ({
  id,
  name: id.toUpperCase(),
  owner: false,
  guest: false,
  muted: false,
});

/** A stream with `video` video tracks and one audio track. */
const stream = (video: number) =>
  ({
    getVideoTracks: () => Array.from({ length: video }, () => ({ kind: 'video' })),
  }) as unknown as MediaStream;

const camera = (video = 1): RemoteMedia => ({
  camera: stream(video),
  screen: undefined,
  forwarded: { camera: video > 0, screen: false },
});

const others = ['bob', 'carol', 'dave'].map(person);
const media: Record<string, RemoteMedia> = {
  bob: camera(),
  carol: camera(),
  // Dave joined with his camera off: audio only.
  dave: camera(0),
};

test('speaker view: the latest speaker with a camera on the stage’s own box, nobody’s tile marked', () => {
  const plan = planGroupLayout({
    others,
    media,
    speakers: ['dave', 'carol', 'bob'],
    pinnedId: undefined,
    layout: 'speaker',
  });
  assert.deepEqual(plan.staged, { user: 'carol', source: 'camera', pinned: false });
  assert.equal(plan.stageBox, true);
  assert.deepEqual(
    plan.tiles.map((t) => [t.user, t.source, t.stage]),
    [
      ['bob', 'camera', false],
      ['carol', 'camera', false],
      ['dave', 'camera', false],
    ],
  );
});

test('grid view: no stage box; the stage’s tile is marked: the pinned person, else a shared screen, else the speaker', () => {
  const plan = (pinnedId: string | undefined, m = media) =>
    planGroupLayout({ others, media: m, speakers: ['bob'], pinnedId, layout: 'grid' });
  const speaking = plan(undefined);
  assert.equal(speaking.stageBox, false);
  assert.deepEqual(
    speaking.tiles.filter((t) => t.stage).map((t) => t.user),
    ['bob'],
  );
  const pinned = plan('dave');
  assert.deepEqual(pinned.staged, { user: 'dave', source: 'camera', pinned: true });
  assert.deepEqual(
    pinned.tiles.filter((t) => t.stage).map((t) => t.user),
    ['dave'],
  );

  const sharing = { ...media, carol: { ...camera(), screen: stream(1) } };
  const shared = plan(undefined, sharing);
  assert.deepEqual(
    shared.tiles.map((t) => [t.user, t.source, t.stage]),
    [
      ['bob', 'camera', false],
      ['carol', 'camera', false],
      ['dave', 'camera', false],
      ['carol', 'screen', true],
    ],
    'the screen is a tile of the grid, the stage',
  );
  // In speaker view the staged screen has the box, not a tile.
  const speakerView = planGroupLayout({
    others,
    media: sharing,
    speakers: [],
    pinnedId: undefined,
    layout: 'speaker',
  });
  assert.deepEqual(speakerView.staged, { user: 'carol', source: 'screen', pinned: false });
  assert.equal(
    speakerView.tiles.some((t) => t.source === 'screen'),
    false,
  );
});

test('nobody staged before anyone speaks: speaker view has no box either', () => {
  for (const layout of ['speaker', 'grid'] as const) {
    const plan = planGroupLayout({ others, media, speakers: [], pinnedId: undefined, layout });
    assert.equal(plan.staged, undefined);
    assert.equal(plan.stageBox, false);
    assert.equal(
      plan.tiles.some((t) => t.stage),
      false,
    );
  }
});

test('the grid: the largest 4:3 tiles with all of them in the box; past the smallest size, as many columns as fit and the grid scrolls', () => {
  // 1280x800 less the participant list and the controls: about 1030 x 700.
  const fit = (count: number, width = 1030, height = 700) => gridFit(count, width, height, 8, 128);
  assert.deepEqual(fit(1), { columns: 1, tileWidth: 933 }, 'one: as high as the box');
  assert.deepEqual(fit(4), { columns: 2, tileWidth: 461 }, 'four: two by two');
  assert.deepEqual(fit(21), { columns: 5, tileWidth: 178 }, 'twenty-one: 5 x 5');
  for (const count of [2, 3, 5, 9, 16, 21, 25, 30]) {
    const { columns, tileWidth } = fit(count);
    const rows = Math.ceil(count / columns);
    assert.ok(tileWidth >= 128, `${count}: tiles of ${tileWidth}`);
    assert.ok(columns * tileWidth + 8 * (columns - 1) <= 1030, `${count} tiles fit across`);
    assert.ok(rows * tileWidth * 0.75 + 8 * (rows - 1) <= 700, `${count} tiles fit down`);
  }
  assert.deepEqual(fit(60), { columns: 7, tileWidth: 140 }, 'as many 128-wide columns as fit');
  // A phone: one column, scrolling, once the tiles would be too small.
  assert.deepEqual(fit(8, 374, 300), { columns: 2, tileWidth: 183 });
  assert.equal(fit(0).columns, 1);
});

test('initials for a tile without a picture: first and last word, one letter each', () => {
  assert.equal(initialsOf('Alice Liddell'), 'AL');
  assert.equal(initialsOf('  carol  '), 'C');
  assert.equal(initialsOf('Jean Luc de la Tour'), 'JT');
  assert.equal(initialsOf('Émile Zola'), 'ÉZ');
  assert.equal(initialsOf(''), '');
});
