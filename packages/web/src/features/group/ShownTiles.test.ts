import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { GroupView } from '../../calls/GroupController.js';
import { ShownTiles } from './ShownTiles.js';

/** The browser's observers, played by the test: it says what each element's box does. */
type Callback = (entries: unknown[]) => void;
const observers: { resize: Callback[]; intersect: Callback[] } = { resize: [], intersect: [] };
const saved = {
  ResizeObserver: globalThis.ResizeObserver,
  IntersectionObserver: globalThis.IntersectionObserver,
  window: (globalThis as { window?: unknown }).window,
};

beforeEach(() => {
  observers.resize = [];
  observers.intersect = [];
  const make = (list: Callback[]) =>
    class {
      constructor(cb: Callback) {
        list.push(cb);
      }
      observe() {}
      unobserve() {}
      disconnect() {}
    };
  Object.assign(globalThis, {
    ResizeObserver: make(observers.resize),
    IntersectionObserver: make(observers.intersect),
    window: { devicePixelRatio: 2 },
  });
});
afterEach(() => Object.assign(globalThis, saved));

function element(width = 0, height = 0): Element {
  return { getBoundingClientRect: () => ({ width, height }) } as unknown as Element;
}

const resize = (target: Element, width: number, height: number) =>
  observers.resize[0]?.([{ target, contentRect: { width, height } }]);
const intersect = (target: Element, isIntersecting: boolean) =>
  observers.intersect[0]?.([{ target, isIntersecting }]);

test('shown videos in device pixels, per participant and source the largest box, the stage marked; a box out of sight or of no size is not shown', () => {
  const views: GroupView[] = [];
  const tiles = new ShownTiles((v) => views.push(v));
  const stage = element(640, 360);
  const bobTile = element(192, 144);
  const carolTile = element(192, 144);
  const screen = element();
  tiles.observe(stage, { user: 'bob', source: 'camera', stage: true });
  tiles.observe(bobTile, { user: 'bob', source: 'camera' });
  tiles.observe(carolTile, { user: 'carol', source: 'camera' });
  tiles.observe(screen, { user: 'carol', source: 'screen' });
  assert.equal(views.length, 0, 'nothing is seen before the observers say so');
  for (const el of [stage, bobTile, carolTile, screen]) intersect(el, true);
  assert.deepEqual(views.at(-1), {
    bob: { camera: { width: 1280, height: 720, stage: true } },
    carol: { camera: { width: 384, height: 288 } },
  });
  resize(screen, 320.3, 180.2);
  assert.deepEqual(views.at(-1)?.carol, {
    camera: { width: 384, height: 288 },
    screen: { width: 641, height: 360 },
  });
  // Carol's tile scrolled out of the strip; the same again is not reported twice.
  intersect(carolTile, false);
  const count = views.length;
  intersect(carolTile, false);
  assert.equal(views.length, count);
  assert.equal(views.at(-1)?.carol?.camera, undefined);
  tiles.disconnect();
});

test('a tile that goes away is reported gone', () => {
  const views: GroupView[] = [];
  const tiles = new ShownTiles((v) => views.push(v));
  const tile = element(100, 100);
  const stop = tiles.observe(tile, { user: 'bob', source: 'camera' });
  intersect(tile, true);
  assert.deepEqual(views.at(-1), { bob: { camera: { width: 200, height: 200 } } });
  stop();
  assert.deepEqual(views.at(-1), {});
});
