import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidStateError } from './InvalidStateError.js';
import { checkNegotiation, type NegotiationState, negotiationStates } from './NegotiationState.js';

/** Every transition the bridge may make, and only those. */
const allowed: readonly [NegotiationState, NegotiationState][] = [
  ['stable', 'awaiting_answer'], // an offer is made
  ['stable', 'closed'],
  ['awaiting_answer', 'stable'], // answered, or the offer could not be made or sent
  ['awaiting_answer', 'answer_then_offer'], // a change while the offer is out
  ['awaiting_answer', 'closed'],
  ['answer_then_offer', 'stable'], // answered: the next offer follows
  ['answer_then_offer', 'closed'],
];

test('the allowed negotiation transitions pass', () => {
  for (const [prev, next] of allowed) checkNegotiation(prev, next, 'endpoint e1');
});

test('every other transition throws InvalidStateError naming the endpoint and both states', () => {
  const isAllowed = (p: NegotiationState, n: NegotiationState) =>
    allowed.some(([a, b]) => a === p && b === n);
  let illegal = 0;
  for (const prev of negotiationStates)
    for (const next of negotiationStates) {
      if (prev === next || isAllowed(prev, next)) continue;
      illegal++;
      assert.throws(
        () => checkNegotiation(prev, next, 'endpoint e1'),
        (err: unknown) =>
          err instanceof InvalidStateError &&
          err.name === 'InvalidStateError' &&
          err.message === `endpoint e1: negotiation ${prev} -> ${next}`,
        `${prev} -> ${next}`,
      );
    }
  // closed is final; answer_then_offer never goes back to awaiting_answer by itself.
  assert.equal(illegal, 4 * 4 - 4 - allowed.length);
});

test('closed is final', () => {
  for (const next of negotiationStates)
    if (next !== 'closed')
      assert.throws(() => checkNegotiation('closed', next, 'e'), InvalidStateError);
});
