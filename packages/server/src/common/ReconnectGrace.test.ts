import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReconnectGrace } from './ReconnectGrace.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('someone away is waited for the grace, then expires; back in time, nothing expires', async () => {
  const grace = new ReconnectGrace<string>(40);
  const expired: string[] = [];
  grace.start('a', () => expired.push('a'));
  grace.start('b', () => expired.push('b'));
  assert.equal(grace.pending, 2);
  assert.ok(grace.isAway('a'));
  assert.equal(grace.cancel('b'), true);
  assert.equal(grace.cancel('b'), false);
  await sleep(80);
  assert.deepEqual(expired, ['a']);
  assert.equal(grace.pending, 0);
  assert.equal(grace.isAway('a'), false);
});

test('starting a wait again restarts it: one expiry per key', async () => {
  const grace = new ReconnectGrace<string>(40);
  let n = 0;
  grace.start('a', () => n++);
  await sleep(25);
  grace.start('a', () => n++);
  await sleep(25);
  assert.equal(n, 0, 'the first wait was replaced');
  await sleep(40);
  assert.equal(n, 1);
});

test('a grace of 0 expires at once; a revoked session is never waited for', () => {
  const none = new ReconnectGrace<string>(0);
  let n = 0;
  none.start('a', () => n++);
  assert.equal(n, 1);
  assert.equal(none.pending, 0);
  assert.equal(none.waitsFor({ revoked: false }), false);
  const some = new ReconnectGrace<string>(1000);
  assert.equal(some.waitsFor({ revoked: false }), true);
  assert.equal(some.waitsFor({ revoked: true }), false);
});

test('close ends every wait without expiring any', async () => {
  const grace = new ReconnectGrace<number>(20);
  let n = 0;
  for (const k of [1, 2, 3]) grace.start(k, () => n++);
  grace.close();
  assert.equal(grace.pending, 0);
  await sleep(50);
  assert.equal(n, 0);
});
