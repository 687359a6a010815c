import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareDataDir } from './dataDir.js';

const modeOf = (p: string) => statSync(p).mode & 0o777;

function makeFile(p: string, mode: number): void {
  writeFileSync(p, 'x');
  chmodSync(p, mode); // past the umask
}

test('prepareDataDir takes group and other access off every directory and file, and says which', () => {
  const data = path.join(mkdtempSync(path.join(tmpdir(), 'confab-datadir-')), 'data');
  mkdirSync(path.join(data, 'identity'), { recursive: true });
  chmodSync(data, 0o755);
  chmodSync(path.join(data, 'identity'), 0o750);
  makeFile(path.join(data, 'confab.sqlite'), 0o644);
  makeFile(path.join(data, 'identity', 'cookie.key'), 0o640);
  makeFile(path.join(data, 'tool'), 0o755);
  makeFile(path.join(data, 'read-only'), 0o400);
  makeFile(path.join(data, 'already'), 0o600);

  const { created, tightened, failed } = prepareDataDir(data);

  assert.equal(created, false);
  assert.deepEqual(failed, []);
  assert.deepEqual(tightened.map((c) => [path.relative(data, c.path), c.from, c.to]).sort(), [
    ['', 0o755, 0o700],
    ['confab.sqlite', 0o644, 0o600],
    ['identity', 0o750, 0o700],
    ['identity/cookie.key', 0o640, 0o600],
    ['tool', 0o755, 0o600],
  ]);
  for (const [p, mode] of [
    ['', 0o700],
    ['identity', 0o700],
    ['confab.sqlite', 0o600],
    ['identity/cookie.key', 0o600],
    ['tool', 0o600],
    ['read-only', 0o400], // bits are only taken away
    ['already', 0o600],
  ] as const)
    assert.equal(modeOf(path.join(data, p)), mode, p || 'the data dir');
  assert.deepEqual(prepareDataDir(data).tightened, [], 'nothing left to do the second time');
});

test('symlinks in the data dir are not followed', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'confab-datadir-'));
  const outside = path.join(root, 'outside');
  mkdirSync(outside, { mode: 0o755 });
  chmodSync(outside, 0o755);
  makeFile(path.join(outside, 'shared.txt'), 0o644);
  const data = path.join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  symlinkSync(path.join(outside, 'shared.txt'), path.join(data, 'file-link'));
  symlinkSync(outside, path.join(data, 'dir-link'));

  const { tightened, failed } = prepareDataDir(data);

  assert.deepEqual(tightened, []);
  assert.deepEqual(failed, []);
  assert.equal(modeOf(outside), 0o755);
  assert.equal(modeOf(path.join(outside, 'shared.txt')), 0o644);
});

const isRoot = process.getuid?.() === 0;

test('a file of another user that cannot be tightened is reported, not thrown', {
  skip: isRoot ? false : 'needs root, to own a file the test process then cannot chmod',
}, () => {
  const nobody = 65534;
  const root = mkdtempSync(path.join(tmpdir(), 'confab-datadir-'));
  chmodSync(root, 0o755);
  const data = path.join(root, 'data');
  mkdirSync(data);
  chmodSync(data, 0o755);
  makeFile(path.join(data, 'theirs.key'), 0o644); // stays root's
  makeFile(path.join(data, 'mine.key'), 0o644);
  chownSync(data, nobody, nobody);
  chownSync(path.join(data, 'mine.key'), nobody, nobody);

  // prepareDataDir as that other user, in a process of its own.
  const dataDirTs = fileURLToPath(new URL('./dataDir.ts', import.meta.url));
  const script = `const { prepareDataDir } = await import(${JSON.stringify(dataDirTs)});
process.stdout.write(JSON.stringify(prepareDataDir(${JSON.stringify(data)})));`;
  const res = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
    {
      uid: nobody,
      gid: nobody,
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)), // where tsx resolves
      env: { ...process.env, HOME: root },
    },
  );
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout) as ReturnType<typeof prepareDataDir>;
  assert.deepEqual(out.tightened.map((c) => path.basename(c.path)).sort(), ['data', 'mine.key']);
  assert.deepEqual(out.failed, [
    { path: path.join(data, 'theirs.key'), mode: 0o644, error: 'permission denied' },
  ]);
  assert.equal(modeOf(path.join(data, 'theirs.key')), 0o644);
});
