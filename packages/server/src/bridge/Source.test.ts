import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dynacastPauseMs, Source } from './Source.js';

test('dynacast: a source nobody receives is paused only after a while, and resumed at once; layers are not told apart', () => {
  const src = new Source({} as never, 'camera', {} as never);
  src.bindSimulcast([11, 22, 33]);
  assert.deepEqual(src.dynacast(0, 0), [true, true, true], 'told at first what to send');
  assert.equal(
    src.dynacast(0, dynacastPauseMs + 1),
    undefined,
    'only its lowest layer needed: still all on (the REMB turns the others off)',
  );
  assert.equal(src.dynacast(-1, dynacastPauseMs + 2), undefined, 'nobody: not paused at once');
  assert.deepEqual(src.dynacast(-1, 2 * dynacastPauseMs + 1), [false, false, false]);
  assert.equal(src.dynacast(-1, 2 * dynacastPauseMs + 500), undefined, 'told once');
  assert.deepEqual(
    src.dynacast(2, 2 * dynacastPauseMs + 600),
    [true, true, true],
    'resumed at once',
  );
  assert.equal(src.dynacast(-1, 2 * dynacastPauseMs + 700), undefined);
  assert.deepEqual(src.dynacast(-1, 3 * dynacastPauseMs + 600), [false, false, false]);
  src.resetDynacast();
  assert.deepEqual(
    src.dynacast(-1, 3 * dynacastPauseMs + 700),
    [false, false, false],
    'told again after its channel reopened',
  );
  assert.ok(src.paused);
  src.bindSimulcast([44, 55]);
  assert.deepEqual(
    src.dynacast(-1, 3 * dynacastPauseMs + 800),
    [false, false],
    'other layers: told again',
  );

  const screen = new Source({} as never, 'screen', {} as never);
  screen.setActive(true);
  assert.deepEqual(screen.dynacast(0, 0), [true]);
  assert.deepEqual(screen.dynacast(-1, dynacastPauseMs), [false], 'one layer: on or off');
  screen.setActive(false);
  screen.setActive(true); // shared again, long after
  assert.deepEqual(
    screen.dynacast(-1, 10 * dynacastPauseMs),
    [true],
    'a new share is not paused by the last one: on until nobody has needed it for a while',
  );
  assert.equal(screen.paused, false);
});
