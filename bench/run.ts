/**
 * `npm run bench -- [name ...]`: runs benchmarks by name (all when none is given), each inside
 * a fresh network namespace with only loopback up, and prints their figures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const benches: Record<string, string> = {
  startup: 'startup/run.ts',
  identity: 'identity/run.ts',
  signaling: 'signaling/run.ts',
  'call-setup': 'call-setup/run.ts',
  bridge: 'bridge/run.ts',
  meeting: 'meeting/run.ts',
  room: 'room/run.ts',
  pair: 'pair/run.ts',
  'audio-room': 'audio-room/run.ts',
  soak: 'soak/run.ts',
  failover: 'failover/run.ts',
  'redis-client': 'redis-client/run.ts',
};
/** Test hosts some benchmarks need inside their namespace (TESTING.md "Janus"). */
const janusHost =
  'ip link add bench0 type veth peer name bench1 && ip addr add 198.18.0.1/32 dev bench0 && ip link set bench0 up && ip link set bench1 up && ';
const hosts: Record<string, string> = {
  bridge: janusHost,
  meeting: janusHost,
  'audio-room': janusHost,
};

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const chosen = names.length ? names : Object.keys(benches);
for (const name of chosen) {
  const script = benches[name];
  if (!script) {
    console.error(`bench: unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  if (!existsSync(path.join(here, '../packages/server/dist/cli.js'))) {
    console.error('bench: the tree is not built: run npm run build');
    process.exit(1);
  }
  const node = [process.execPath, '--import', 'tsx', path.join(here, script), ...extra]
    .map((a) => `'${a}'`)
    .join(' ');
  const res = spawnSync(
    'unshare',
    ['-n', 'sh', '-c', `ip link set lo up && ${hosts[name] ?? ''}exec ${node}`],
    {
      stdio: 'inherit',
      cwd: path.join(here, '..'),
    },
  );
  if (res.status !== 0) process.exit(res.status ?? 1);
}
