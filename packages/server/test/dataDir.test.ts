import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestServer, tempDir } from './helpers.js';

const modeOf = (p: string) => statSync(p).mode & 0o777;

/** Every directory and file below `dir` (symlinks left out), with its mode. */
function modesBelow(dir: string): Map<string, number> {
  const out = new Map<string, number>([[dir, modeOf(dir)]]);
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isSymbolicLink()) continue;
    const p = path.join(e.parentPath, e.name);
    out.set(p, modeOf(p));
  }
  return out;
}

function assertPrivate(dataDir: string): void {
  for (const [p, mode] of modesBelow(dataDir))
    assert.equal(
      mode.toString(8),
      (statSync(p).isDirectory() ? 0o700 : 0o600).toString(8),
      path.relative(dataDir, p) || 'the data dir',
    );
}

/** A data dir as an older Confab, or an admin with umask 022, left it. */
function looseDataDir(dir: string) {
  const data = path.join(dir, 'data');
  mkdirSync(path.join(data, 'identity'), { recursive: true });
  chmodSync(data, 0o755);
  chmodSync(path.join(data, 'identity'), 0o755);
  // An empty file is an empty database to SQLite.
  writeFileSync(path.join(data, 'confab.sqlite'), '');
  chmodSync(path.join(data, 'confab.sqlite'), 0o644);
  // As an unclean shutdown leaves them (empty ones are valid to SQLite).
  for (const f of ['confab.sqlite-wal', 'confab.sqlite-shm']) {
    writeFileSync(path.join(data, f), '');
    chmodSync(path.join(data, f), 0o644);
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path.join(data, 'identity', 'cookie.key'), `${secret}\n`);
  chmodSync(path.join(data, 'identity', 'cookie.key'), 0o644);
  // Something the data dir links to is not the data dir's to change.
  const outside = path.join(dir, 'elsewhere.txt');
  writeFileSync(outside, 'not ours');
  chmodSync(outside, 0o644);
  symlinkSync(outside, path.join(data, 'link'));
  return { data, secret, outside };
}

describe('data directory modes', () => {
  test('a loose data dir is made private at start, before the database opens, each path named in a warning', async () => {
    const dir = tempDir();
    const { data, secret, outside } = looseDataDir(dir);
    const server = await startTestServer({ dir });
    try {
      // -wal and -shm exist while the database is open, and were left loose before it opened.
      for (const f of ['confab.sqlite-wal', 'confab.sqlite-shm'])
        assert.ok(existsSync(path.join(data, f)), f);
      assertPrivate(data);
      assert.equal(modeOf(outside), 0o644, 'a symlink is not followed');
      const warned = server.logs.filter(
        (l) => l.level === 40 && l.msg === 'data directory: removed group and other access',
      );
      assert.deepEqual(
        warned.map((l) => [path.relative(data, l.path as string), l.from, l.to]).sort(),
        [
          ['', '0755', '0700'],
          ['confab.sqlite', '0644', '0600'],
          ['confab.sqlite-shm', '0644', '0600'],
          ['confab.sqlite-wal', '0644', '0600'],
          ['identity', '0755', '0700'],
          ['identity/cookie.key', '0644', '0600'],
        ],
      );
      assert.ok(!JSON.stringify(server.logs).includes(secret), 'no secret in the log');
    } finally {
      await server.close();
    }
  });

  test('a new data dir is private from the first start, with no warning', async () => {
    const server = await startTestServer();
    try {
      for (const f of ['confab.sqlite', 'confab.sqlite-wal', 'confab.sqlite-shm'])
        assert.ok(existsSync(path.join(server.dataDir, f)), f);
      assertPrivate(server.dataDir);
      assert.deepEqual(
        server.logs.filter((l) => String(l.msg).startsWith('data directory:')),
        [],
      );
    } finally {
      await server.close();
    }
  });

  test('confab user tightens the data dir too, and names each path on stderr', () => {
    const dir = tempDir();
    const { data, secret } = looseDataDir(dir);
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const res = spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', cli, 'user', 'list', '--data-dir', data],
      {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !k.startsWith('CONFAB_')),
        ),
      },
    );
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stderr.trimEnd().split('\n').sort();
    assert.deepEqual(lines, [
      `confab: ${data} was 0755: removed group and other access (now 0700)`,
      `confab: ${path.join(data, 'confab.sqlite')} was 0644: removed group and other access (now 0600)`,
      `confab: ${path.join(data, 'confab.sqlite-shm')} was 0644: removed group and other access (now 0600)`,
      `confab: ${path.join(data, 'confab.sqlite-wal')} was 0644: removed group and other access (now 0600)`,
      `confab: ${path.join(data, 'identity')} was 0755: removed group and other access (now 0700)`,
      `confab: ${path.join(data, 'identity', 'cookie.key')} was 0644: removed group and other access (now 0600)`,
    ]);
    assert.ok(!res.stderr.includes(secret), 'no secret on stderr');
    assertPrivate(data);
  });
});
