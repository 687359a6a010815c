/** A reason a request cannot be done; the connection answers it as an RTM error. */
export class Refusal extends Error {
  constructor(
    readonly code: 'bad_message' | 'access_restricted' | 'create_restricted' | 'server_error',
    message: string,
  ) {
    super(message);
  }
}
