/** A state change its state machine does not allow: a bug in the caller, never an input error. */
export class InvalidStateError extends Error {
  override name = 'InvalidStateError';
}
