import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyframeGate } from './KeyframeGate.js';

test('receivers asking at once cost the publisher one keyframe; one asking later gets another after the interval', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let sent = 0;
  const gate = new KeyframeGate(() => sent++, 500);
  gate.request();
  gate.request();
  gate.request();
  assert.equal(sent, 1, 'the first goes at once, the rest within the interval wait');
  t.mock.timers.tick(499);
  assert.equal(sent, 1);
  t.mock.timers.tick(1);
  assert.equal(sent, 2, 'the waiting request is sent when the interval ends, once');
  t.mock.timers.tick(2000);
  assert.equal(sent, 2, 'nothing more without requests');
  gate.request();
  assert.equal(sent, 3, 'after a quiet interval, at once again');
  gate.request();
  gate.close();
  t.mock.timers.tick(1000);
  assert.equal(sent, 3, 'closing drops what waits');
});
