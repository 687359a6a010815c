import { createClient } from 'redis';
import type { Logger } from '../logging/index.js';

function newClient(url: string, role: string, timeoutMs: number) {
  return createClient({
    url,
    name: `confab-${role}`,
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries: number) => Math.min(2000, 50 * 2 ** Math.min(retries, 6)),
    },
  });
}

/** A node-redis client (docs/architecture.md "Redis: node-redis"). */
export type Redis = ReturnType<typeof newClient>;

/**
 * The two connections a node holds to Redis: one for commands, one in subscriber mode (a
 * connection that subscribed can run nothing else). Both reconnect by themselves with a backoff
 * (50 ms doubling to 2 s); the subscriber subscribes again. Commands given while Redis is away
 * fail at once (no offline queue), and any command fails after `commandTimeoutMs`.
 */
export interface RedisLink {
  readonly cmd: Redis;
  readonly sub: Redis;
  /** The keys' prefix of this deployment: `confab:<hostname>:`. */
  readonly prefix: string;
  close(): Promise<void>;
}

export interface RedisLinkOptions {
  url: string;
  /** The deployment's name (`hostname`): nodes with the same one share the keys. */
  deployment: string;
  logger: Logger;
  commandTimeoutMs?: number;
}

export function redisUrlRedacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(malformed)';
  }
}

export async function openRedis(opts: RedisLinkOptions): Promise<RedisLink> {
  const log = opts.logger.child({ module: 'redis' });
  const make = (role: string): Redis => {
    const r = newClient(opts.url, role, opts.commandTimeoutMs ?? 5000);
    let away = false;
    // Without a listener an error event would stop the process.
    r.on('error', (err: Error) => {
      if (!away) log.warn({ role, err: err.message }, 'redis: unreachable; reconnecting');
      away = true;
    });
    r.on('ready', () => {
      if (away) log.info({ role }, 'redis: reachable again');
      away = false;
    });
    return r;
  };
  const cmd = make('cmd');
  const sub = make('sub');
  // node-redis retries a first connection without end: a start gives up after 10 s.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
  });
  try {
    await Promise.race([Promise.all([cmd.connect(), sub.connect()]), deadline]);
    clearTimeout(timer);
  } catch (err) {
    clearTimeout(timer);
    cmd.destroy();
    sub.destroy();
    throw err;
  }
  return {
    cmd,
    sub,
    prefix: `confab:${opts.deployment}:`,
    async close() {
      cmd.destroy();
      sub.destroy();
    },
  };
}
