import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackoffLimiter } from './BackoffLimiter.js';

const minute = 60_000;

test('failures past the limit lock the key, for twice as long each time, up to the cap', () => {
  let now = 0;
  const limiter = new BackoffLimiter(
    { limit: 3, windowMs: minute, baseLockMs: minute, maxLockMs: 4 * minute },
    () => now,
  );
  const lockFor = () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.check('k').allowed, true);
      limiter.fail('k');
    }
    return limiter.check('k').retryAfter;
  };
  assert.equal(lockFor(), 60);
  assert.equal(limiter.check('other').allowed, true, 'other keys are not held up');
  now += minute;
  assert.equal(lockFor(), 120);
  now += 2 * minute;
  assert.equal(lockFor(), 240);
  now += 4 * minute;
  assert.equal(lockFor(), 240, 'never longer than the cap');
});

test('a success clears the key; failures spread over windows do not add up', () => {
  let now = 0;
  const limiter = new BackoffLimiter(
    { limit: 3, windowMs: minute, baseLockMs: minute, maxLockMs: 15 * minute },
    () => now,
  );
  limiter.fail('k');
  limiter.fail('k');
  limiter.succeed('k');
  limiter.fail('k');
  limiter.fail('k');
  assert.equal(limiter.check('k').allowed, true);
  now += minute;
  limiter.fail('k');
  assert.equal(limiter.check('k').allowed, true, 'a new window starts from zero');
});
