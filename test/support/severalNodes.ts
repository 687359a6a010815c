import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  postgresPassword,
  startPostgres,
  type TestPostgres,
} from '../../packages/server/test/postgres.js';
import { startRedis, type TestRedis } from '../../packages/server/test/redis.js';
import { type ConfabProcess, runConfab, startConfab } from './confabProcess.js';
import { testRp } from './oidcFlow.js';
import { type RoundRobinProxy, startRoundRobinProxy } from './roundRobinProxy.js';

export interface SeveralNodes {
  pg: TestPostgres;
  redis: TestRedis;
  proxy: RoundRobinProxy;
  nodes: ConfabProcess[];
  /** Each node's folder (its confab.yaml, for `confab` commands). */
  dirs: string[];
  /** Adds a user to the shared directory (through the first node's config). */
  addUser(username: string, name: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

const registry = `clients:\n  - id: ${testRp.id}\n    secret: ${testRp.secret}\n    trusted: true\n    redirect_uris: [${testRp.redirectUri}]\n`;

/**
 * `count` `confab serve` nodes on one throwaway PostgreSQL and one redis-server, each with one
 * bridge process of its own, behind a round-robin proxy whose URL is every node's `hostname`;
 * resolves once every node has seen the others (docs/deployment.md "Several nodes").
 */
export async function startSeveralNodes(count = 3, extraConfig = ''): Promise<SeveralNodes> {
  const [pg, redis, proxy] = await Promise.all([
    startPostgres(),
    startRedis(),
    startRoundRobinProxy(),
  ]);
  const url = await pg.createDatabase('confab_nodes');
  const base = mkdtempSync(path.join(tmpdir(), 'confab-nodes-'));
  const config = [
    `database_url: ${url.replace(`:${postgresPassword}@`, '@')}`,
    'database_password_file: db-password',
    `redis_url: ${redis.url}`,
    `hostname: ${proxy.url}`,
    'identifier_registration_conf: registry.yaml',
    extraConfig,
  ].join('\n');
  const dirs = Array.from({ length: count }, (_, i) =>
    mkdtempSync(path.join(base, `node-${i + 1}-`)),
  );
  for (const [i, dir] of dirs.entries()) {
    writeFileSync(path.join(dir, 'db-password'), `${postgresPassword}\n`, { mode: 0o600 });
    writeFileSync(path.join(dir, 'registry.yaml'), registry);
    writeFileSync(path.join(dir, 'confab.yaml'), `${config}\nnode_id: node-${i + 1}\n`);
  }
  const serve = (dir: string, i: number) =>
    startConfab({
      dir,
      config: `${config}\nnode_id: node-${i + 1}\n`,
      env: { CONFAB_BRIDGE_WORKERS: '1' },
    });
  const nodes: ConfabProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await proxy.close();
    await redis.kill();
    pg.destroy();
  };
  try {
    // The first node migrates the empty database; the others start on it together.
    nodes.push(await serve(dirs[0] as string, 0));
    nodes.push(...(await Promise.all(dirs.slice(1).map((d, i) => serve(d, i + 1)))));
    proxy.setTargets(nodes.map((n) => n.localUrl));
    const deadline = Date.now() + 15_000;
    while (
      !nodes.every(
        (n) => n.logs.filter((l) => l.msg === 'nodes: a node joined').length >= count - 1,
      )
    ) {
      if (Date.now() > deadline) throw new Error('the nodes did not find each other');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pg,
    redis,
    proxy,
    nodes,
    dirs,
    async addUser(username, name, password) {
      const res = await runConfab(
        [
          'user',
          'add',
          username,
          '--name',
          name,
          '--email',
          `${username}@example.com`,
          '--password-stdin',
          '--config',
          'confab.yaml',
        ],
        { cwd: dirs[0] as string, input: `${password}\n` },
      );
      if (res.code !== 0) throw new Error(`user add ${username}: ${res.stderr}`);
    },
    stop,
  };
}
