import type { parseArgs } from 'node:util';

export type OptionSpec = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** One `confab` command (`serve`, `user add`, ...). */
export interface Command {
  /** Words that select it, e.g. `user add`. */
  name: string;
  summary: string;
  /** Usage line after `confab `. */
  usage: string;
  /** Option descriptions and notes shown by --help. */
  help: string;
  options: OptionSpec;
  /** Names of required positional arguments, in order. */
  positionals?: string[];
  run(values: Values, positionals: string[]): Promise<void>;
}

/** A bad command line: one line on stderr, exit code 2, like configuration errors. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

export const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/** --config and --data-dir, for every command that works on a data directory. */
export const dataOptions = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const dataOptionsHelp = `  --config FILE       YAML configuration (default: ./confab.yaml when it exists; env CONFAB_CONFIG)
  --data-dir DIR      data directory (default ./data)`;
