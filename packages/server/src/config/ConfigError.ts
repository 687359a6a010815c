/** A configuration problem: the process stops with exit code 2 and this one-line message. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly exitCode = 2;
}
