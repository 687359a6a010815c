import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../../test/support/net.js';

/** Debian's PostgreSQL binaries: not on PATH (../shared/TESTING.md). */
export const postgresBin = '/usr/lib/postgresql/15/bin';

/** The superuser's password in every throwaway cluster: TCP connections must give it. */
export const postgresPassword = 'throwaway-cluster-password';

export interface TestPostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/NAME`, without the password. */
  url(database: string): string;
  /** The same with the password in it. */
  urlWithPassword(database: string): string;
  /** Makes an empty database and gives its URL with the password. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server at once (as a crash would); `start` brings it back on the same port. */
  stop(): void;
  start(): void;
  /** The server's main process (its connections are its children). */
  pid(): number;
  /** Stops it for good and removes its files. */
  destroy(): void;
}

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 and a free port: `initdb` refuses root, so as
 * root it runs as the `postgres` user the package creates, in a folder that user owns.
 * Password (scram) over TCP, trust over its own socket folder.
 */
export async function startPostgres(): Promise<TestPostgres> {
  if (!existsSync(path.join(postgresBin, 'initdb')))
    throw new Error(`PostgreSQL is not installed (no ${postgresBin}/initdb): npm test installs it`);
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-pg-'));
  const asRoot = process.getuid?.() === 0;
  const runAs = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', path.join(postgresBin, cmd), ...args]]
      : [path.join(postgresBin, cmd), args];
    const res = spawnSync(file, argv, { encoding: 'utf8' });
    if (res.status !== 0)
      throw new Error(`${cmd} failed (${res.status}): ${res.stderr || res.stdout}`);
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, `${postgresPassword}\n`, { mode: 0o644 });
  runAs('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${pwfile}`,
    '--no-sync',
  ]);
  const port = await freePort();
  const start = () =>
    runAs('pg_ctl', [
      '-D',
      data,
      '-o',
      `-k ${dir} -h 127.0.0.1 -p ${port} -c fsync=off -c full_page_writes=off`,
      '-l',
      path.join(dir, 'log'),
      '-w',
      'start',
    ]);
  const stop = () => runAs('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const urlWithPassword = (db: string) =>
    `postgres://postgres:${postgresPassword}@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
    urlWithPassword,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: urlWithPassword('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return urlWithPassword(name);
    },
    stop,
    start,
    pid: () => Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    destroy() {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
