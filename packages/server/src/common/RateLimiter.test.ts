import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRateLimiter } from './RateLimiter.js';

test('allows the limit per window and says when to retry; keys are independent', () => {
  let now = 1_000_000;
  const limiter = new MemoryRateLimiter(3, 60_000, () => now);
  for (let i = 0; i < 3; i++)
    assert.deepEqual(limiter.hit('ip:1'), { allowed: true, retryAfter: 0 });
  assert.deepEqual(limiter.hit('ip:1'), { allowed: false, retryAfter: 60 });
  assert.equal(limiter.hit('ip:2').allowed, true);
  now += 45_500;
  assert.deepEqual(limiter.hit('ip:1'), { allowed: false, retryAfter: 15 });
  now += 15_000;
  assert.deepEqual(limiter.hit('ip:1'), { allowed: true, retryAfter: 0 });
});
