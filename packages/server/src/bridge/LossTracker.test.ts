import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LossTracker } from './LossTracker.js';

test('lost upstream packets are asked for at once, again after the retry interval, and given up', () => {
  const loss = new LossTracker(128, 100, 3, 1000);
  assert.deepEqual(loss.packet(1, 5, 0), []);
  assert.deepEqual(loss.packet(1, 6, 1), [], 'in order: nothing');
  assert.deepEqual(loss.packet(1, 10, 2), [7, 8, 9], 'a gap is asked for at once');
  assert.deepEqual(loss.packet(1, 8, 3), [], 'a late one arrives; the rest were just asked');
  assert.deepEqual(loss.packet(1, 11, 50), [], 'not again before the retry interval');
  assert.deepEqual(loss.packet(1, 12, 110), [7, 9], 'again after it');
  assert.deepEqual(loss.packet(1, 13, 220), [7, 9], 'a third time');
  assert.deepEqual(loss.packet(1, 14, 330), [], 'then given up');
  assert.deepEqual(loss.packet(1, 14, 331), [], 'a duplicate is nothing');
  assert.deepEqual(loss.packet(1, 16, 400), [15]);
  assert.deepEqual(loss.packet(1, 17, 1500), [], 'too old to ask for');
  assert.deepEqual(loss.packet(1, 1000, 1501), [], 'a jump beyond the window is not loss');
  assert.deepEqual(loss.packet(1, 1001, 1502), []);
  const wrap = new LossTracker();
  wrap.packet(1, 65534, 0);
  assert.deepEqual(wrap.packet(1, 1, 1), [65535, 0], 'across the wrap');
  assert.deepEqual(wrap.packet(2, 9, 2), [], 'a new SSRC starts afresh');
  assert.deepEqual(wrap.packet(2, 12, 3), [10, 11], 'and has its own gaps');
});

test('a packet older than the newest is late (a retransmission or reordered), the next newer one is not', () => {
  const t = new LossTracker();
  t.packet(1, 10, 0);
  assert.equal(t.late, false);
  t.packet(1, 12, 1);
  assert.equal(t.late, false);
  t.packet(1, 11, 2);
  assert.equal(t.late, true, 'the missing one, sent again');
  t.packet(1, 12, 3);
  assert.equal(t.late, true, 'a duplicate');
  t.packet(1, 13, 4);
  assert.equal(t.late, false);
});
