/** A reason the server cannot run (port in use, data dir not writable): one line, exit code 1. */
export class FatalError extends Error {
  override readonly name = 'FatalError';
  readonly exitCode: number = 1;
}
