import type { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** Defaults to standard output. */
  destination?: Writable & { isTTY?: boolean };
}

/** Fields that carry credentials, wherever they appear in a log object. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
];

/**
 * The root logger: JSON lines, or readable lines on a terminal. Each module takes a child with
 * `logger.child({ module: 'gateway' })`. Levels: info is one line per lifecycle change, debug is
 * per request or message, warn is something an administrator should fix.
 */
export async function createLogger(opts: LoggerOptions): Promise<Logger> {
  const dest = opts.destination;
  const isTTY = (dest ?? process.stdout).isTTY === true;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && isTTY);
  const base = {
    level: opts.level,
    base: { pid: process.pid },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  };
  if (pretty) {
    const { default: pinoPretty } = await import('pino-pretty');
    return pino(
      base,
      pinoPretty({ destination: dest ?? 1, colorize: isTTY, sync: true, ignore: 'pid,hostname' }),
    );
  }
  // Synchronous writes to stdout: nothing is lost when the process exits right after a line.
  return pino(base, dest ?? pino.destination({ dest: 1, sync: true }));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
