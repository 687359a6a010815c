import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Bus, openRedis, type RedisLink } from '../src/cluster/index.js';
import { silentLogger } from '../src/logging/index.js';
import { startRedis, type TestRedis } from './redis.js';

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Node {
  link: RedisLink;
  bus: Bus;
  got: unknown[];
  lost: number;
}

describe('messages between nodes over Redis pub/sub (a real redis-server)', () => {
  let redis: TestRedis;
  const nodes: Node[] = [];
  const children: ChildProcess[] = [];
  let deployment = 0;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const n of nodes) {
      n.bus.close();
      await n.link.close();
    }
    await redis.kill();
  });

  async function pair(opts: { backlogSize?: number } = {}): Promise<[Node, Node]> {
    const name = `d${++deployment}`;
    const make = async (id: string): Promise<Node> => {
      const link = await openRedis({ url: redis.url, deployment: name, logger: silentLogger() });
      const node: Node = { link, bus: undefined as unknown as Bus, got: [], lost: 0 };
      node.bus = new Bus({
        nodeId: id,
        link,
        logger: silentLogger(),
        tickMs: 100,
        ...opts,
        onMessage: (_from, m) => node.got.push(m),
        onLost: () => {
          node.lost++;
        },
      });
      await node.bus.start();
      nodes.push(node);
      return node;
    };
    return [await make('a'), await make('b')];
  }

  test('what one node sends another arrives once, in order, batched per turn of the event loop', async () => {
    const [a, b] = await pair();
    for (let i = 0; i < 500; i++) {
      a.bus.send('b', { i });
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await until('500 messages', () => b.got.length >= 500);
    await new Promise((r) => setTimeout(r, 300)); // ticks and acks: nothing twice
    assert.deepEqual(
      b.got,
      Array.from({ length: 500 }, (_, i) => ({ i })),
    );
    assert.equal(b.bus.repaired, 0);
  });

  interface Lines {
    m?: { i: number };
    lost?: boolean;
    ready?: boolean;
  }

  /** Node `c` of the latest pair's deployment, in a process of its own (test/busNode.ts). */
  async function otherProcess(): Promise<{
    child: ChildProcess;
    lines: Lines[];
    got: () => number[];
  }> {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        fileURLToPath(new URL('./busNode.ts', import.meta.url)),
        redis.url,
        `d${deployment}`,
        'c',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const lines: Lines[] = [];
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)) as Lines);
        buf = buf.slice(nl + 1);
      }
    });
    await until('the other node listens', () => lines.some((l) => l.ready), 20_000);
    return { child, lines, got: () => lines.flatMap((l) => (l.m ? [l.m.i] : [])) };
  }

  test('a node that stops reading (SIGSTOP) is cut off by Redis once its output buffer overflows, and gets what it missed from the backlog, in order', async () => {
    const [a] = await pair();
    const c = await otherProcess();
    // A pub/sub client more than 64 kB behind is cut off at once.
    assert.equal(
      await redis.command('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 64kb 32kb 60'),
      '+OK',
    );
    const cut = /overcoming of output buffer limits/g;
    const cutBefore = redis.log().match(cut)?.length ?? 0;
    try {
      c.child.kill('SIGSTOP');
      const body = 'x'.repeat(2000);
      for (let i = 0; i < 2000; i++) {
        a.bus.send('c', { i, body });
        // One message an envelope: far more than the kernel's and Redis's buffers hold.
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 300));
      c.child.kill('SIGCONT');
      await until('all 2,000', () => c.got().length >= 2000, 20_000);
      assert.ok(
        (redis.log().match(cut)?.length ?? 0) > cutBefore,
        'Redis cut the stopped subscriber off',
      );
      assert.deepEqual(
        c.got(),
        Array.from({ length: 2000 }, (_, i) => i),
      );
      assert.ok(!c.lines.some((l) => l.lost), 'nothing lost beyond the backlog');
    } finally {
      c.child.kill('SIGCONT');
      await redis.command('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    }
  });

  test('the last messages lost (nothing after them) are noticed by the sender’s tick and repaired', async () => {
    const [a] = await pair();
    const c = await otherProcess();
    a.bus.send('c', { i: 0 });
    await until('first', () => c.got().length === 1);
    // The other node's connection dies while it is stopped; the next message is published
    // while it is away, and nothing comes after it.
    c.child.kill('SIGSTOP');
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    a.bus.send('c', { i: 1 });
    await new Promise((r) => setTimeout(r, 200));
    c.child.kill('SIGCONT');
    await until('the missed one, by the tick', () => c.got().length === 2, 10_000);
    assert.deepEqual(c.got(), [0, 1]);
  });

  test('more lost than the backlog holds: the receiver is told (it reads the state again) and goes on', async () => {
    const [a] = await pair({ backlogSize: 5 });
    const c = await otherProcess();
    a.bus.send('c', { i: 0 });
    await until('first', () => c.got().length === 1);
    // Stopped, and its connection cut meanwhile: it cannot come back before it runs again.
    c.child.kill('SIGSTOP');
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    for (let i = 1; i <= 50; i++) {
      a.bus.send('c', { i });
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    c.child.kill('SIGCONT');
    await until('told of the loss', () => c.lines.some((l) => l.lost), 10_000);
    a.bus.send('c', { i: 51 });
    await until('the newest', () => c.got().includes(51));
    const seen = c.got();
    assert.ok(seen.length < 52, 'some were lost');
    assert.deepEqual(
      seen,
      [...seen].sort((x, y) => x - y),
      'in order',
    );
    assert.equal(new Set(seen).size, seen.length, 'none twice');
  });
});
