import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Conference } from './Conference.js';
import type { Endpoint } from './Endpoint.js';

/** An endpoint with nothing to forward: all `Conference.add` and `remove` need of one. */
function endpoint(id: string): Endpoint {
  return {
    id,
    closed: false,
    sources: () => [][Symbol.iterator](),
    negotiate() {},
    negotiateSoon() {},
    close() {},
  } as unknown as Endpoint;
}

test('the last-N order: latest speakers first, then those never heard by when they joined', () => {
  const c = new Conference('c');
  for (const id of ['a', 'b', 'c', 'd']) c.add(endpoint(id));
  const order = () => ['a', 'b', 'c', 'd'].sort((x, y) => c.lastNRank(x) - c.lastNRank(y));
  assert.deepEqual(order(), ['a', 'b', 'c', 'd'], 'nobody heard: join order');
  assert.equal(c.speakerRank('a'), Infinity, 'not heard: no speaker rank');
  c.spoke('c');
  assert.deepEqual(order(), ['c', 'a', 'b', 'd']);
  c.spoke('d');
  c.spoke('c');
  assert.deepEqual(order(), ['c', 'd', 'a', 'b']);
  assert.deepEqual([c.speakerRank('c'), c.speakerRank('d'), c.speakerRank('a')], [0, 1, Infinity]);
  c.remove('d');
  c.add(endpoint('e'));
  assert.deepEqual(
    ['a', 'b', 'c', 'e'].sort((x, y) => c.lastNRank(x) - c.lastNRank(y)),
    ['c', 'a', 'b', 'e'],
    'one who left is gone; one who joined comes last',
  );
  assert.equal(c.speakerRank('a'), Infinity, 'still not heard');
  assert.equal(c.lastNRank('d'), Infinity);
  c.spoke('nobody'); // not in the conference: ignored
  assert.equal(c.lastNRank('nobody'), Infinity);
});
