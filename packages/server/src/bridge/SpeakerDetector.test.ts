import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpeakerDetector } from './SpeakerDetector.js';

/** One tick of 15 packets (300 ms of 20 ms Opus frames) at the given levels. */
function tick(d: SpeakerDetector, levels: Record<string, number>): string | undefined {
  for (let i = 0; i < 15; i++) for (const [id, dBov] of Object.entries(levels)) d.level(id, dBov);
  return d.tick();
}

test('the first one heard becomes the speaker; silence names nobody', () => {
  const d = new SpeakerDetector();
  assert.equal(tick(d, { a: 127, b: 127 }), undefined);
  assert.equal(tick(d, { a: 30, b: 127 }), 'a');
  assert.equal(d.current, 'a');
});

test('another takes over only after leading for two ticks; a single word does not switch', () => {
  const d = new SpeakerDetector();
  tick(d, { a: 30, b: 127 });
  tick(d, { a: 30, b: 127 });
  // b says one short thing over a
  assert.equal(tick(d, { a: 40, b: 10 }), undefined);
  assert.equal(tick(d, { a: 30, b: 127 }), undefined);
  assert.equal(d.current, 'a');
  // a falls silent, b speaks on
  const changes = [1, 2, 3, 4].map(() => tick(d, { a: 127, b: 20 }));
  assert.deepEqual(changes.filter(Boolean), ['b']);
  assert.equal(d.current, 'b');
});

test('the last speaker stays when everyone is quiet, and one who leaves is forgotten', () => {
  const d = new SpeakerDetector();
  tick(d, { a: 20 });
  for (let i = 0; i < 5; i++) assert.equal(tick(d, { a: 127, b: 127 }), undefined);
  assert.equal(d.current, 'a');
  d.remove('a');
  assert.equal(d.current, undefined);
  assert.equal(tick(d, { b: 25 }), 'b');
});
