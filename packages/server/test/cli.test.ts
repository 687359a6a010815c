import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { confabBin, runConfab, startConfab } from '../../../test/support/confabProcess.js';
import { tempDir } from './helpers.js';

/** A stderr of exactly one line. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${stderr}`);
  return lines[0] as string;
}

describe('confab command line', () => {
  test('--help lists the commands; every command has --help', async () => {
    const top = await runConfab(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Usage: confab <command>/);
    assert.match(top.stdout, /^ {2}serve +Run Confab/m);
    const none = await runConfab([]);
    assert.equal(none.stdout, top.stdout);
    for (const args of [
      ['serve', '--help'],
      ['serve', '-h'],
      ['help', 'serve'],
    ]) {
      const res = await runConfab(args);
      assert.equal(res.code, 0, args.join(' '));
      assert.match(
        res.stdout,
        /Usage: confab serve \[--config FILE\] \[--listen HOST:PORT\] \[--data-dir DIR\]/,
      );
      assert.match(res.stdout, /--data-dir DIR/);
    }
  });

  test('--version prints the package version', async () => {
    const res = await runConfab(['--version']);
    assert.equal(res.code, 0);
    const { version } = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    assert.equal(res.stdout.trim(), version);
  });

  test('an unknown command or flag exits 2 with one line', async () => {
    const cmd = await runConfab(['srve']);
    assert.equal(cmd.code, 2);
    assert.equal(oneLine(cmd.stderr), 'confab: unknown command "srve"; see confab --help');
    const flag = await runConfab(['serve', '--lisen', 'x']);
    assert.equal(flag.code, 2);
    assert.match(
      oneLine(flag.stderr),
      /^confab serve: Unknown option '--lisen'.*; see confab serve --help$/,
    );
    const missing = await runConfab(['serve', '--listen']);
    assert.equal(missing.code, 2);
    assert.match(
      oneLine(missing.stderr),
      /^confab serve: Option '--listen <value>' argument missing/,
    );
  });
});

describe('confab serve: bad input stops the start with one clear line', () => {
  test('an unknown config key exits 2 naming the key and the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'confab.yaml');
    writeFileSync(file, 'listen: 127.0.0.1:0\nbridge_wrokers: 3\n');
    const res = await runConfab(['serve', '--config', file, '--data-dir', path.join(dir, 'data')]);
    assert.equal(res.code, 2);
    assert.equal(oneLine(res.stderr), `confab: ${file}:2:1: unknown key "bridge_wrokers"`);
    assert.equal(res.stdout, '');
  });

  test('broken YAML exits 2 naming the file and position', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'confab.yaml'), 'listen: [127.0.0.1:0\n');
    // ./confab.yaml in the working directory is read by default.
    const res = await runConfab(['serve'], { cwd: dir });
    assert.equal(res.code, 2);
    assert.match(
      oneLine(res.stderr),
      new RegExp(`^confab: ${path.join(dir, 'confab.yaml')}:\\d+:\\d+: invalid YAML: `),
    );
  });

  test('a wrong type from the environment exits 2 naming the variable', async () => {
    const res = await runConfab(['serve', '--listen', '127.0.0.1:0'], {
      env: { CONFAB_ENABLE_GUEST_API: 'perhaps' },
    });
    assert.equal(res.code, 2);
    assert.match(
      oneLine(res.stderr),
      /^confab: environment variable CONFAB_ENABLE_GUEST_API: enable_guest_api: .*expected boolean/,
    );
  });

  test('a port in use exits 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const res = await runConfab([
        'serve',
        '--listen',
        `127.0.0.1:${port}`,
        '--data-dir',
        path.join(tempDir(), 'data'),
      ]);
      assert.equal(res.code, 1);
      assert.equal(
        oneLine(res.stderr),
        `confab: cannot listen on 127.0.0.1:${port}: address already in use`,
      );
    } finally {
      blocker.close();
    }
  });

  /** Runs `confab serve` with TLS files prepared in a fresh folder by `prepare`. */
  async function serveWithTls(prepare: (cert: string, key: string) => void) {
    const dir = tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    prepare(cert, key);
    const res = await runConfab(
      ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')],
      {
        env: { CONFAB_TLS_CERT: cert, CONFAB_TLS_KEY: key },
      },
    );
    assert.equal(res.code, 2);
    return { cert, line: oneLine(res.stderr) };
  }

  test('an unreadable TLS file exits 2 naming the key', async () => {
    const { cert, line } = await serveWithTls((cert, key) => {
      writeFileSync(key, '-----BEGIN PRIVATE KEY-----\n');
      mkdirSync(cert); // a directory where a file should be
    });
    assert.match(line, new RegExp(`^confab: tls_cert: cannot read ${cert}: `));
  });

  test('a TLS file that is not PEM exits 2 naming the key', async () => {
    const { cert, line } = await serveWithTls((cert, key) => {
      writeFileSync(cert, 'not a certificate');
      writeFileSync(key, 'not a key');
    });
    assert.equal(line, `confab: tls_cert: ${cert} holds no PEM certificate`);
  });

  test('TURN without its secret, or with an unreadable one, exits 2 naming the key', async () => {
    const dir = tempDir();
    const noSecret = await runConfab(
      ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')],
      { env: { CONFAB_TURN_URIS: 'turn:127.0.0.1:3478' } },
    );
    assert.equal(noSecret.code, 2);
    assert.equal(
      oneLine(noSecret.stderr),
      'confab: environment variable CONFAB_TURN_URIS: turn_uris needs turn_server_shared_secret',
    );
    const unreadable = await runConfab(
      ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')],
      {
        env: {
          CONFAB_TURN_URIS: 'turn:127.0.0.1:3478',
          CONFAB_TURN_SERVER_SHARED_SECRET: path.join(dir, 'missing-secret'),
        },
      },
    );
    assert.equal(unreadable.code, 2);
    assert.equal(
      oneLine(unreadable.stderr),
      `confab: turn_server_shared_secret: cannot read ${dir}/missing-secret: no such file or directory`,
    );
  });

  test('a data dir that cannot be created exits 1', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'file'), '');
    const res = await runConfab([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      path.join(dir, 'file/data'),
    ]);
    assert.equal(res.code, 1);
    assert.equal(
      oneLine(res.stderr),
      `confab: data directory ${dir}/file/data is not usable: a part of the path is not a directory`,
    );
  });
});

describe('confab serve: the Must show of issue 2', () => {
  test('with an empty data dir it serves the app, config, health and metrics, and stops cleanly on SIGTERM', async () => {
    const server = await startConfab();
    try {
      assert.equal(statSync(server.dataDir).mode & 0o777, 0o700);
      const get = (p: string) => fetch(new URL(p, server.localUrl), { redirect: 'manual' });

      const root = await get('/');
      assert.equal(root.status, 302);
      assert.equal(root.headers.get('location'), '/meet/');

      for (const p of ['/meet/', '/meet/r/group/x']) {
        const res = await get(p);
        assert.equal(res.status, 200, p);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
        assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
        const html = await res.text();
        assert.match(html, /<title>Confab<\/title>/);
        assert.match(
          html,
          /<script type="module" crossorigin src="\/meet\/assets\/index-[\w-]+\.js">/,
        );
      }

      const config = await get('/api/config/v1/kopano/meet/config.json');
      assert.equal(config.headers.get('cache-control'), 'no-cache');
      const body = (await config.json()) as Record<string, unknown>;
      for (const key of ['apiPrefix', 'oidc', 'kwm', 'guests', 'apps']) assert.ok(key in body, key);

      assert.equal((await get('/health-check')).status, 200);
      assert.match(await (await get('/metrics')).text(), /^process_cpu_seconds_total /m);
    } finally {
      const { code } = await server.stop('SIGTERM');
      assert.equal(code, 0);
    }
    assert.ok(server.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
    assert.ok(server.logs.some((l) => l.msg === 'stopped'));
  });

  test('SIGINT stops it too', async () => {
    const server = await startConfab();
    const { code } = await server.stop('SIGINT');
    assert.equal(code, 0);
  });
});

describe('confab bridge: bad input stops the start with one clear line', () => {
  test('a bad --port or --focus exits 2', async () => {
    const dir = tempDir();
    const port = await runConfab(['bridge', '--data-dir', path.join(dir, 'data'), '--port', 'abc']);
    assert.equal(port.code, 2);
    assert.equal(oneLine(port.stderr), 'confab bridge: --port abc: expected a port number');
    const focus = await runConfab([
      'bridge',
      '--data-dir',
      path.join(dir, 'data'),
      '--focus',
      'http://x',
    ]);
    assert.equal(focus.code, 2);
    assert.equal(
      oneLine(focus.stderr),
      'confab bridge: --focus http://x: expected ws://HOST:PORT or wss://HOST:PORT',
    );
  });

  test('a bad bridge.port_range or a too short bridge.shared_secret exits 2 naming the key', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'confab.yaml');
    writeFileSync(file, 'bridge:\n  port_range: 20000-10000\n');
    const range = await runConfab([
      'bridge',
      '--config',
      file,
      '--data-dir',
      path.join(dir, 'data'),
    ]);
    assert.equal(range.code, 2);
    assert.match(oneLine(range.stderr), /bridge\.port_range.*FIRST <= LAST/);
    writeFileSync(path.join(dir, 'secret'), 'short\n');
    writeFileSync(file, 'bridge:\n  shared_secret: secret\n');
    const secret = await runConfab([
      'bridge',
      '--config',
      file,
      '--data-dir',
      path.join(dir, 'data'),
    ]);
    assert.equal(secret.code, 2);
    assert.equal(
      oneLine(secret.stderr),
      `confab: bridge.shared_secret: ${path.join(dir, 'secret')} must hold a secret of at least 16 characters`,
    );
  });

  test('a bridge with the wrong secret is refused by the focus and says why', async () => {
    const server = await startConfab();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'secret'), 'not-the-servers-secret\n');
    writeFileSync(path.join(dir, 'confab.yaml'), 'bridge:\n  shared_secret: secret\n');
    const bridge = spawn(
      process.execPath,
      [
        confabBin,
        'bridge',
        '--config',
        path.join(dir, 'confab.yaml'),
        '--data-dir',
        path.join(dir, 'data'),
        '--focus',
        server.localUrl.replace(/^http/, 'ws'),
        '--port',
        '10990',
      ],
      { env: { ...process.env, CONFAB_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no refusal logged')), 10_000);
        let buf = '';
        bridge.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          for (const l of buf.split('\n')) {
            if (!l.includes('refused this bridge')) continue;
            clearTimeout(timer);
            resolve(JSON.parse(l) as Record<string, unknown>);
          }
        });
      });
      assert.equal(line.status, 401);
      assert.match(String(line.msg), /check bridge\.shared_secret/);
      assert.ok(
        !JSON.stringify(line).includes('not-the-servers-secret'),
        'the secret is not logged',
      );
    } finally {
      bridge.kill('SIGTERM');
      await server.stop();
    }
  });
});
