import { InvalidStateError } from './InvalidStateError.js';

/**
 * Where an endpoint's offer/answer exchange stands. The bridge always offers and the client
 * always answers; a change while an offer is out waits for its answer, then one offer covers it
 * (LiveKit's transport does the same with "waiting for remote" and "retry").
 */
export const negotiationStates = [
  'stable',
  'awaiting_answer',
  'answer_then_offer',
  'closed',
] as const;
export type NegotiationState = (typeof negotiationStates)[number];

/** The states that may follow each state; anything else is a bug and throws. */
const transitions: { readonly [S in NegotiationState]: readonly NegotiationState[] } = {
  // No offer out: the last answer set (if any) describes the session.
  stable: ['awaiting_answer', 'closed'],
  // An offer is being made or is out, and nothing changed since. Back to stable when it is
  // answered, or when it could not be made or sent (so that the next change offers again).
  awaiting_answer: ['stable', 'answer_then_offer', 'closed'],
  // An offer is out and the session changed since: offer again once it is answered.
  answer_then_offer: ['stable', 'closed'],
  closed: [],
};

/** Throws `InvalidStateError` unless `next` may follow `prev` (pion `checkNextSignalingState`). */
export function checkNegotiation(
  prev: NegotiationState,
  next: NegotiationState,
  who: string,
): void {
  if (!transitions[prev].includes(next))
    throw new InvalidStateError(`${who}: negotiation ${prev} -> ${next}`);
}
