export type DirectoryErrorCode =
  | 'user_exists'
  | 'user_not_found'
  | 'invalid_user'
  | 'directory_unavailable';

/** A directory operation that cannot be done; the CLI prints `message` and exits 1. */
export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';
  constructor(
    readonly code: DirectoryErrorCode,
    message: string,
  ) {
    super(message);
  }
}
