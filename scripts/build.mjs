// Builds everything `confab serve` needs: the TypeScript packages and the PWA, precompressed.
// Run by `npm install` (prepare) and `npm run build`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules/.bin', name);

function run(label, cmd, args, cwd = root) {
  const started = performance.now();
  const res = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`build: ${label} failed`);
    process.exit(res.status ?? 1);
  }
  console.log(`build: ${label} (${Math.round(performance.now() - started)} ms)`);
}

run('server and protocol (tsc)', bin('tsc'), ['-b']);
run(
  'web app (vite)',
  bin('vite'),
  ['build', '--logLevel', 'warn'],
  path.join(root, 'packages/web'),
);

// Precompressed copies, served by @fastify/static when the browser accepts them.
const dist = path.join(root, 'packages/web/dist');
const compressible = /\.(js|css|html|svg|webmanifest|json)$/;
let count = 0;
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !compressible.test(entry.name)) continue;
  const file = path.join(entry.parentPath, entry.name);
  const data = readFileSync(file);
  if (data.length < 1024) continue;
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
  writeFileSync(
    `${file}.br`,
    brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
  count++;
}
console.log(`build: precompressed ${count} files`);
