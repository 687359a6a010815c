import type { RtmErrorCode } from '@confab/protocol';

/**
 * A reason a request cannot be done; the connection answers it as an RTM error frame. The code
 * is one of the catalogue's RTM codes (`errorCatalogue`, docs/errors.md); clients key on it, the
 * message is for people.
 */
export class Refusal extends Error {
  constructor(
    readonly code: RtmErrorCode,
    message: string,
  ) {
    super(message);
  }
}
