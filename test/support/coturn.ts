import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { freePort } from './net.js';

export interface Coturn {
  port: number;
  secret: string;
  uri: string;
  /** Lines coturn logged, for checking that it relayed. */
  log: string[];
  stop(): Promise<void>;
}

/**
 * A throwaway coturn on 127.0.0.1 checking TURN REST credentials (`use-auth-secret`), relaying
 * between loopback peers only.
 */
export async function startCoturn(): Promise<Coturn> {
  const port = await freePort();
  const secret = randomBytes(12).toString('hex');
  const bin = existsSync('/usr/bin/turnserver') ? '/usr/bin/turnserver' : 'turnserver';
  const proc: ChildProcess = spawn(
    bin,
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--min-port=49160',
      '--max-port=49400',
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=confab.test',
      '--allow-loopback-peers',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-multicast-peers',
      '--log-file=stdout',
      '--simple-log',
      '--verbose',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`coturn did not start: ${log.join('\n')}`)),
      10_000,
    );
    const onData = (d: Buffer) => {
      for (const line of String(d).split('\n')) if (line) log.push(line);
      if (log.some((l) => /Total (General|UDP) servers/i.test(l) || /IO method/i.test(l))) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`coturn exited with ${code}: ${log.join('\n')}`)));
  });
  await ready;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    port,
    secret,
    uri: `turn:127.0.0.1:${port}?transport=udp`,
    log,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
