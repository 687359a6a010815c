import type { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** Defaults to standard output. */
  destination?: NodeJS.WritableStream;
}

/**
 * The root logger: JSON lines, or readable lines on a terminal. Each module takes a child with
 * `logger.child({ module: 'gateway' })`. Levels: info is one line per lifecycle change, debug is
 * per request or message, warn is something an administrator should fix.
 */
export async function createLogger(opts: LoggerOptions): Promise<Logger> {
  const dest = opts.destination ?? process.stdout;
  const pretty =
    opts.format === 'pretty' ||
    (opts.format === 'auto' && (dest as { isTTY?: boolean }).isTTY === true);
  const base = {
    level: opts.level,
    base: { pid: process.pid },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.secret'],
      censor: '[redacted]',
    },
  };
  if (!pretty) return pino(base, pino.destination({ dest: fdOf(dest), sync: true }));
  const { default: pinoPretty } = await import('pino-pretty');
  return pino(
    base,
    pinoPretty({
      destination: dest as Writable,
      colorize: (dest as { isTTY?: boolean }).isTTY === true,
      sync: true,
      ignore: 'pid,hostname',
    }),
  );
}

function fdOf(stream: NodeJS.WritableStream): number {
  const fd = (stream as { fd?: number }).fd;
  if (typeof fd === 'number') return fd;
  throw new Error('log destination must be a file descriptor stream');
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
