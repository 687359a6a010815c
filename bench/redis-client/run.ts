/**
 * `npm run bench -- redis-client`: the two Redis clients of the field side by side on what
 * Confab asks of Redis (docs/architecture.md "Redis: ..."): node-to-node messages over pub/sub
 * (a burst, and their latency at a steady 1,000/s) and the one-time keys' SET and GETDEL round
 * trip. A throwaway redis-server pinned to core 0, the clients on core 1. Confab uses node-redis;
 * ioredis is not installed: `npm install --no-save ioredis@6` first.
 */
import { spawnSync } from 'node:child_process';
import { startRedis } from '../../packages/server/test/redis.js';
import { median, percentile } from '../stats.js';

interface Client {
  publish(channel: string, message: string): Promise<unknown>;
  set(key: string, value: string, ttlMs: number): Promise<unknown>;
  getdel(key: string): Promise<string | null>;
  subscribe(channel: string, onMessage: (m: string) => void): Promise<void>;
  close(): Promise<void>;
}

type Maker = (url: string) => Promise<Client>;

/** ioredis's client, as far as this uses it (it is not installed with Confab). */
interface IoRedisClient {
  publish(c: string, m: string): Promise<unknown>;
  set(k: string, v: string, px: 'PX', ttl: number): Promise<unknown>;
  getdel(k: string): Promise<string | null>;
  on(event: 'message', listener: (c: string, m: string) => void): void;
  subscribe(c: string): Promise<unknown>;
  disconnect(): void;
}

async function ioredis(url: string, autoPipelining = false): Promise<Client> {
  const name = 'ioredis'; // not resolved at type check: installed only for this benchmark
  const { Redis } = (await import(name)) as {
    Redis: new (url: string, o?: { enableAutoPipelining?: boolean }) => IoRedisClient;
  };
  const pub = new Redis(url, { enableAutoPipelining: autoPipelining });
  const sub = new Redis(url);
  return {
    publish: (c, m) => pub.publish(c, m),
    set: (k, v, ttl) => pub.set(k, v, 'PX', ttl),
    getdel: (k) => pub.getdel(k),
    async subscribe(channel, onMessage) {
      sub.on('message', (_c: string, m: string) => onMessage(m));
      await sub.subscribe(channel);
    },
    async close() {
      pub.disconnect();
      sub.disconnect();
    },
  };
}

/** node-redis's client, as far as this uses it (it is not installed with Confab). */
interface NodeRedisClient {
  connect(): Promise<unknown>;
  duplicate(): NodeRedisClient;
  publish(c: string, m: string): Promise<unknown>;
  set(k: string, v: string, o: unknown): Promise<unknown>;
  getDel(k: string): Promise<string | null>;
  subscribe(c: string, on: (m: string) => void): Promise<void>;
  destroy(): void;
}

async function nodeRedis(url: string): Promise<Client> {
  const name = 'redis'; // not resolved at type check: installed only for this benchmark
  const { createClient } = (await import(name)) as {
    createClient(o: { url: string }): NodeRedisClient;
  };
  const pub = createClient({ url });
  await pub.connect();
  const sub = pub.duplicate();
  await sub.connect();
  return {
    publish: (c, m) => pub.publish(c, m),
    set: (k, v, ttl) => pub.set(k, v, { expiration: { type: 'PX', value: ttl } }),
    getdel: (k) => pub.getDel(k),
    subscribe: (channel, onMessage) => sub.subscribe(channel, (m: string) => onMessage(m)),
    async close() {
      pub.destroy();
      sub.destroy();
    },
  };
}

const clients: [string, Maker][] = [
  ['ioredis', (url) => ioredis(url)],
  ['ioredis (auto-pipelining)', (url) => ioredis(url, true)],
  ['node-redis', nodeRedis],
];

interface Figures {
  burstPerSecond: number;
  /** What its subscriber takes in from a publisher that is not the bottleneck (a raw socket). */
  receivePerSecond: number;
  lost: number;
  latencyP50: number;
  latencyP99: number;
  keyP50: number;
  keyP99: number;
}

/** 100,000 messages of 256 bytes with at most 1,000 publishes unanswered at a time. */
async function burst(c: Client, channel: string): Promise<{ perSecond: number; lost: number }> {
  const n = 100_000;
  const body = 'x'.repeat(256);
  let got = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => {
    done = r;
  });
  await c.subscribe(channel, () => {
    if (++got === n) done();
  });
  const t0 = performance.now();
  let inFlight = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < n; i++) {
    while (inFlight >= 1000) await new Promise<void>((r) => (wake = r));
    inFlight++;
    void c.publish(channel, body).then(() => {
      inFlight--;
      wake?.();
      wake = undefined;
    });
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 30_000))]);
  return { perSecond: (got / (performance.now() - t0)) * 1000, lost: n - got };
}

/**
 * 200,000 messages of 256 bytes published by a raw socket writing PUBLISH commands in bulk (no
 * client's cost), taken in by the client's subscriber: its parsing and delivery alone.
 */
async function receive(c: Client, channel: string, port: number): Promise<number> {
  const n = 200_000;
  const body = 'x'.repeat(256);
  let got = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => {
    done = r;
  });
  await c.subscribe(channel, () => {
    if (++got === n) done();
  });
  const { connect } = await import('node:net');
  const raw = connect(port, '127.0.0.1');
  await new Promise((r) => raw.once('connect', r));
  raw.on('data', () => {}); // the integer replies
  const cmd = `*3\r\n$7\r\nPUBLISH\r\n$${channel.length}\r\n${channel}\r\n$${body.length}\r\n${body}\r\n`;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    if (!raw.write(cmd.repeat(1000))) await new Promise((r) => raw.once('drain', r));
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 30_000))]);
  raw.destroy();
  return (got / (performance.now() - t0)) * 1000;
}

/** 3,000 messages at 1,000 a second: publish to arrival at the subscriber, in ms. */
async function latency(c: Client, channel: string): Promise<number[]> {
  const times: number[] = [];
  await c.subscribe(channel, (m) => times.push(performance.now() - Number(m)));
  for (let i = 0; i < 3000; i++) {
    void c.publish(channel, String(performance.now()));
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200));
  return times.sort((a, b) => a - b);
}

/** 5,000 one-time keys, one at a time: SET with a TTL, then GETDEL, in ms each. */
async function keys(c: Client): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const t = performance.now();
    await c.set(`k${i}`, 'session', 30_000);
    await c.getdel(`k${i}`);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

async function main() {
  spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const redis = await startRedis();
  spawnSync('sh', ['-c', `taskset -cp 0 $(pgrep -f "redis-server 127.0.0.1:${redis.port}")`], {
    stdio: 'ignore',
  });
  const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 3);
  const results = new Map<string, Figures[]>();
  for (let run = 0; run < runs; run++) {
    for (const [name, make] of clients) {
      let c: Client;
      try {
        c = await make(redis.url);
      } catch (err) {
        console.log(`${name}: not installed (${(err as Error).message.split('\n')[0]})`);
        continue;
      }
      const b = await burst(c, `burst-${run}`);
      await c.close();
      c = await make(redis.url);
      const received = await receive(c, `receive-${run}`, redis.port);
      await c.close();
      c = await make(redis.url);
      const l = await latency(c, `latency-${run}`);
      const k = await keys(c);
      await c.close();
      const f: Figures = {
        burstPerSecond: b.perSecond,
        receivePerSecond: received,
        lost: b.lost,
        latencyP50: percentile(l, 50),
        latencyP99: percentile(l, 99),
        keyP50: percentile(k, 50),
        keyP99: percentile(k, 99),
      };
      results.get(name)?.push(f) ?? results.set(name, [f]);
    }
  }
  await redis.kill();
  const med = (name: string, pick: (f: Figures) => number) =>
    median((results.get(name) ?? []).map(pick));
  for (const [name] of clients) {
    if (!results.has(name)) continue;
    console.log(
      `${name}: pub/sub burst ${Math.round(med(name, (f) => f.burstPerSecond))} msg/s (lost ${med(name, (f) => f.lost)}), subscriber alone ${Math.round(med(name, (f) => f.receivePerSecond))} msg/s, at 1,000/s p50 ${med(name, (f) => f.latencyP50).toFixed(2)} ms p99 ${med(name, (f) => f.latencyP99).toFixed(2)} ms; SET+GETDEL p50 ${med(name, (f) => f.keyP50).toFixed(3)} ms p99 ${med(name, (f) => f.keyP99).toFixed(3)} ms (median of ${runs} runs)`,
    );
  }
  for (const io of ['ioredis', 'ioredis (auto-pipelining)'])
    if (results.has(io) && results.has('node-redis'))
      console.log(
        `ratio ${io} / node-redis: burst ${(med(io, (f) => f.burstPerSecond) / med('node-redis', (f) => f.burstPerSecond)).toFixed(2)}x, subscriber alone ${(med(io, (f) => f.receivePerSecond) / med('node-redis', (f) => f.receivePerSecond)).toFixed(2)}x, latency p99 ${(med(io, (f) => f.latencyP99) / med('node-redis', (f) => f.latencyP99)).toFixed(2)}x, key round trip p99 ${(med(io, (f) => f.keyP99) / med('node-redis', (f) => f.keyP99)).toFixed(2)}x`,
      );
}

await main();
