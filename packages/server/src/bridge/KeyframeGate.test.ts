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

test('a receiver that has just become able to take the layer waits only a short gap once the last request was answered', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let sent = 0;
  const gate = new KeyframeGate(() => sent++, 500, Date.now, 100);
  gate.request(true);
  assert.equal(sent, 1);
  t.mock.timers.tick(150);
  gate.request(true);
  assert.equal(sent, 1, 'no keyframe came since the last request: it is on its way, so wait');
  t.mock.timers.tick(349);
  assert.equal(sent, 1);
  t.mock.timers.tick(1);
  assert.equal(sent, 2, 'unanswered, the interval applies');
  gate.received();
  t.mock.timers.tick(50);
  gate.request(true);
  assert.equal(sent, 2, 'answered, but within the short gap');
  t.mock.timers.tick(50);
  assert.equal(sent, 3, 'sent when the short gap is over, not the whole interval');
  gate.received();
  t.mock.timers.tick(1000);
  gate.request();
  assert.equal(sent, 4, 'a quiet interval later, at once');
  gate.received();
  t.mock.timers.tick(200);
  gate.request();
  assert.equal(sent, 4, "a receiver's own PLI keeps the whole interval, answered or not");
  gate.request(true);
  assert.equal(sent, 5, 'a new receiver brings the waiting request forward');
  t.mock.timers.tick(1000);
  assert.equal(sent, 5, 'and it is not sent twice');
  gate.request();
  assert.equal(sent, 6, 'a quiet interval later, at once');
  gate.request();
  gate.received();
  t.mock.timers.tick(1000);
  assert.equal(sent, 6, 'a keyframe that comes answers the waiting request too');
});

test('the short gap is had once a second per layer, however often receivers ask', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let sent = 0;
  const gate = new KeyframeGate(() => sent++, 500, Date.now, 100, 1000);
  // A receiver flipping its tile every 100 ms, each keyframe arriving at once.
  for (let i = 0; i < 50; i++) {
    gate.request(true);
    t.mock.timers.tick(50);
    gate.received();
    t.mock.timers.tick(50);
  }
  // 5 s: two a second from the interval, and at most one more a second from the short gap.
  assert.ok(sent <= 16, `${sent} keyframes in 5 s`);
  assert.ok(sent >= 10, `${sent} keyframes in 5 s: the interval's still come`);
});
