/**
 * Identity benchmark. A `confab serve` pinned to core 0 (this process runs on core 1):
 * - token endpoint: code exchange and refresh for sessions that are already signed in (the
 *   password is checked once; scrypt is left out), requests per second and p99;
 * - address book: `$search` p99 with 10,000 users.
 * On SQLite; with --database=postgres on SQLite and then on a throwaway PostgreSQL, side by
 * side.
 * Goals (issues 3 and 26): at least 200 tokens/s; search p99 under 20 ms, on each database.
 * Usage: npm run bench -- identity [--codes=N] [--searches=N] [--database=postgres]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../packages/server/src/directory/index.js';
import { silentLogger } from '../../packages/server/src/logging/index.js';
import { openPostgres, openSqlite, type Sql } from '../../packages/server/src/storage/index.js';
import {
  postgresPassword,
  startPostgres,
  type TestPostgres,
} from '../../packages/server/test/postgres.js';
import { startConfab } from '../../test/support/confabProcess.js';
import {
  authorizeUrl,
  type CookieJar,
  follow,
  pkce,
  signInOverHttp,
} from '../../test/support/oidcFlow.js';
import { describeLoad, runLoad } from '../stats.js';

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const codes = arg('codes', 1000);
const searches = arg('searches', 2000);
const concurrency = 8;
const userCount = 10_000;
const redirectUri = 'http://127.0.0.1:9/callback'; // never dialled
const basic = `Basic ${Buffer.from('bench-rp:bench-secret').toString('base64')}`;

const withPostgres = process.argv.includes('--database=postgres');

/** The users' rows: `user<i>`, names that common and rare search terms match. */
async function userRows(): Promise<unknown[][]> {
  const hash = await hashPassword('bench-password');
  const first = ['Ada', 'Bea', 'Cy', 'Dee', 'Eli', 'Fay', 'Gus', 'Hal', 'Ida', 'Jo'];
  const last = [
    'Lovelace',
    'Hopper',
    'Turing',
    'Noether',
    'Curie',
    'Meitner',
    'Franklin',
    'Johnson',
    'Shannon',
    'Knuth',
  ];
  return Array.from({ length: userCount }, (_, i) => {
    const username = `user${i}`;
    const name = `${first[i % 10]} ${last[Math.floor(i / 10) % 10]} ${i}`;
    const mail = `${username}@example.com`;
    return [
      `id-${i}`,
      username,
      name,
      mail,
      'Staff',
      hash,
      `${username}\n${name}\n${mail}`.toLowerCase(),
    ];
  });
}

const insertUser =
  'INSERT INTO users (id, username, display_name, mail, job_title, password_hash, search_text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)';

async function seed(db: Sql, rows: unknown[][]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const row of rows) await tx.run(insertUser, row);
  });
}

const rows = await userRows();
for (const database of withPostgres ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const))
  await bench(database);

async function bench(database: 'sqlite' | 'postgres'): Promise<void> {
  // Users first, straight into the database the server will use.
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-bench-identity-'));
  const dataDir = path.join(dir, 'data');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let cluster: TestPostgres | undefined;
  let databaseConfig = '';
  if (database === 'sqlite') {
    const db = openSqlite(dataDir);
    await seed(db, rows);
    await db.close();
  } else {
    cluster = await startPostgres();
    const url = await cluster.createDatabase('bench');
    const db = await openPostgres(
      { database_url: url, database_password_file: undefined },
      silentLogger(),
    );
    await seed(db, rows);
    // What autovacuum does within a minute of such a load (a directory that grew over time has
    // it done): statistics, without which the planner takes a common term for a rare one.
    await db.run('VACUUM ANALYZE');
    await db.close();
    // Unpinned, the database runs where there is room (BENCH_PG_CPU=0 puts it with the server:
    // one core then switches between Confab and four database backends, which costs the tail).
    if (process.env.BENCH_PG_CPU)
      spawnSync('taskset', ['-a', '-p', '-c', process.env.BENCH_PG_CPU, String(cluster.pid())]);
    writeFileSync(path.join(dir, 'db-password'), `${postgresPassword}\n`, { mode: 0o600 });
    databaseConfig = `database_url: ${cluster.url('bench')}\ndatabase_password_file: db-password\n`;
  }

  const server = await startConfab({
    files: {
      'registry.yaml': `clients:\n  - id: bench-rp\n    secret: bench-secret\n    trusted: true\n    redirect_uris: [${redirectUri}]\n`,
    },
    config: `identifier_registration_conf: registry.yaml\ndata_dir: ${dataDir}\nsignin_rate_limit_per_ip: 100000\nauthorize_rate_limit_per_ip: 100000\n${databaseConfig}`,
    args: ['--data-dir', dataDir],
    dir,
    pinCpu: 0,
  });

  try {
    const base = server.localUrl;
    // One real sign-in; every further authorization rides on its session and grant.
    const first = await signInOverHttp({
      base,
      clientId: 'bench-rp',
      redirectUri,
      username: 'user1',
      password: 'bench-password',
    });
    const jar: CookieJar = first.jar;
    const mint = async () => {
      const p = pkce();
      const res = await follow(
        jar,
        base,
        await jar.fetch(
          authorizeUrl({ base, clientId: 'bench-rp', redirectUri, pkce: p, state: 's' }),
        ),
      );
      if (!res.finalUrl)
        throw new Error(`no redirect: ${res.status} ${(await res.text()).slice(0, 300)}`);
      const code = new URL(res.finalUrl).searchParams.get('code');
      if (!code) throw new Error(`no code: ${res.status} ${res.finalUrl}`);
      return { code, verifier: p.verifier };
    };
    const token = (body: Record<string, string>) =>
      fetch(new URL('/konnect/v1/token', base), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        body: new URLSearchParams(body).toString(),
      });

    // Warm up, then codes in batches that are exchanged well within their 60 s lifetime.
    for (let i = 0; i < 20; i++) {
      const c = await mint();
      await (
        await token({
          grant_type: 'authorization_code',
          code: c.code,
          code_verifier: c.verifier,
          redirect_uri: redirectUri,
        })
      ).text();
    }
    const minted = [];
    for (let i = 0; i < codes; i++) minted.push(await mint());
    const refreshTokens: string[] = [];
    const exchange = await runLoad(minted, concurrency, async (c) => {
      const res = await token({
        grant_type: 'authorization_code',
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: redirectUri,
      });
      const body = (await res.json()) as { refresh_token?: string };
      if (body.refresh_token) refreshTokens.push(body.refresh_token);
      return res.status === 200;
    });
    const refresh = await runLoad(refreshTokens, concurrency, async (rt) => {
      const res = await token({ grant_type: 'refresh_token', refresh_token: rt });
      await res.arrayBuffer();
      return res.status === 200;
    });

    // Address book with a token of the signed-in user.
    const c = await mint();
    const at = (
      (await (
        await token({
          grant_type: 'authorization_code',
          code: c.code,
          code_verifier: c.verifier,
          redirect_uri: redirectUri,
        })
      ).json()) as { access_token: string }
    ).access_token;
    const terms = [
      'ada',
      'hopper',
      'user12',
      'CURIE 5',
      'example.com',
      'zzz-nobody',
      'noether',
      'jo k',
      '999',
      'meitner 3',
    ];
    const queries = Array.from({ length: searches }, (_, i) => terms[i % terms.length] as string);
    // node:http with keep-alive: undici's fetch costs the load generator about as much CPU per
    // request as the server spends, which would measure the client.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const { hostname, port } = new URL(base);
    const get = (q: string) =>
      new Promise<boolean>((resolve) => {
        const req = request(
          {
            agent,
            hostname,
            port,
            path: `/api/gc/v1/users?$search=${encodeURIComponent(q)}&$top=50`,
            headers: { authorization: `Bearer ${at}`, 'accept-encoding': 'gzip, br' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200));
          },
        );
        req.on('error', () => resolve(false));
        req.end();
      });
    await runLoad(queries.slice(0, 200), 1, get); // warm-up
    const searchOne = await runLoad(queries, 1, get);
    const search = await runLoad(queries, 4, get);
    agent.destroy();

    console.log(
      `identity benchmark on ${database === 'sqlite' ? 'SQLite' : 'PostgreSQL 15'} (server on core 0${database === 'postgres' ? `, the database ${process.env.BENCH_PG_CPU ? `on core ${process.env.BENCH_PG_CPU}` : 'on either'}` : ''}, load on core 1, concurrency ${concurrency}; ${userCount} users):`,
    );
    console.log(describeLoad('token: code exchange', exchange));
    console.log(describeLoad('token: refresh', refresh));
    console.log(describeLoad('address book $search, one at a time', searchOne));
    console.log(describeLoad('address book $search, 4 in flight', search));
    const tokensPerSecond = Math.min(exchange.perSecond, refresh.perSecond);
    console.log(
      `tokens/s: ${tokensPerSecond.toFixed(0)} (the slower of the two), goal ≥ 200, ratio ${(tokensPerSecond / 200).toFixed(2)} (≥ 1 meets it)`,
    );
    console.log(
      `search p99 (4 in flight): ${search.p99.toFixed(1)} ms, goal < 20 ms, ratio ${(search.p99 / 20).toFixed(2)} (< 1 meets it)`,
    );
  } finally {
    await server.stop();
    cluster?.destroy();
  }
}
