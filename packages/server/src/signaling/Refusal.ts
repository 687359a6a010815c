import type { RtmErrorCode } from '@confab/protocol';

/** A reason a request cannot be done; the connection answers it as an RTM error. */
export class Refusal extends Error {
  constructor(
    readonly code: RtmErrorCode,
    message: string,
  ) {
    super(message);
  }
}
