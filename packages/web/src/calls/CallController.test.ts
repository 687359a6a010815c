import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallController } from './CallController.js';

/** A controller whose signaling hands out ids, as the socket does. */
function controller() {
  let id = 0;
  const sent: Record<string, unknown>[] = [];
  const calls = new CallController({
    send: (m) => {
      sent.push(m);
      return ++id;
    },
    localStream: () => undefined,
    rtcConfig: () => ({}),
    videoMaxBitrate: () => 1_000_000,
    screenMaxBitrate: () => 2_500_000,
    audioOnly: () => false,
  });
  return { calls, sent };
}

const bob = { id: 'bob-id', name: 'Bob Builder' };

test('a call the server refuses before it rings ends at once: rate_limited (rung by too many) as busy, anything else as failed', () => {
  for (const [code, reason] of [
    ['rate_limited', 'busy'],
    ['access_restricted', 'failed'],
  ] as const) {
    const { calls } = controller();
    calls.call(bob, false);
    assert.equal(calls.getState().phase, 'outgoing');
    calls.handle({ type: 'error', reply_to: 1, error: { code, msg: 'no' } });
    assert.deepEqual(calls.getState(), { phase: 'ended', peer: bob, reason });
  }
});

test('an error replying to something else leaves the outgoing call ringing', () => {
  const { calls } = controller();
  calls.call(bob, false);
  calls.handle({ type: 'error', reply_to: 99, error: { code: 'rate_limited', msg: 'slow down' } });
  calls.handle({ type: 'error', error: { code: 'media_failed', msg: 'not about calls' } });
  assert.equal(calls.getState().phase, 'outgoing');
});
