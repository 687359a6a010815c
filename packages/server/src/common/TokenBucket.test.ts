import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from './TokenBucket.js';

test('a token bucket allows its capacity at once, then one per refill interval', () => {
  let now = 0;
  const bucket = new TokenBucket(3, 0.5, () => now);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take()),
    [true, true, true, false],
  );
  now += 1999;
  assert.equal(bucket.take(), false);
  now += 1;
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  now += 60_000; // never more than the capacity, however long it rested
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take()),
    [true, true, true, false],
  );
});
