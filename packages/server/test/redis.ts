import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { freePort } from '../../../test/support/net.js';

export interface TestRedis {
  port: number;
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  /** Stops the server at once (SIGKILL, as a crash would; nothing is kept). */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server stops answering without closing its sockets. */
  pause(): void;
  resume(): void;
  /** One command by the inline protocol, answered as the server's first reply line. */
  command(...args: string[]): Promise<string>;
  /** `INFO`'s text. */
  info(): Promise<string>;
  /** What the server logged so far. */
  log(): string;
}

/**
 * A throwaway redis-server on 127.0.0.1 and a free port, without persistence
 * (../shared/TESTING.md); `extra` are more `--key value` arguments.
 */
export async function startRedis(extra: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let logged = '';
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      logged += d.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!out.includes('Ready to accept connections')) {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await once(c, 'exit');
  };
  await start();
  const info = () =>
    new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let reply = '';
      s.on('data', (d) => {
        reply += d.toString();
        const m = /^\$(\d+)\r\n/.exec(reply);
        if (m && Buffer.byteLength(reply) >= m[0].length + Number(m[1])) {
          s.end();
          resolve(reply);
        }
      });
      s.on('error', reject);
      s.write('INFO\r\n');
    });
  const redis: TestRedis = {
    info,
    log: () => logged,
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    command: (...args) =>
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        let reply = '';
        s.on('data', (d) => {
          reply += d.toString();
          if (reply.includes('\r\n')) {
            s.end();
            resolve(reply.split('\r\n')[0] ?? '');
          }
        });
        s.on('error', reject);
        s.write(`${args.map((a) => JSON.stringify(a)).join(' ')}\r\n`);
      }),
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  return redis;
}
