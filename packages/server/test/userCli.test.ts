import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CompactSign, compactVerify, importJWK, type JWK } from 'jose';
import { parse as parseYaml } from 'yaml';
import { confabBin, runConfab } from '../../../test/support/confabProcess.js';
import { tempDir } from './helpers.js';

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${stderr}`);
  return lines[0] as string;
}

describe('confab user', () => {
  const dataDir = path.join(tempDir(), 'data');
  const user = (args: string[], input?: string) =>
    runConfab(['user', ...args, '--data-dir', dataDir], input === undefined ? {} : { input });

  test('add reads the password from stdin, list shows the user, passwd and remove work', async () => {
    const added = await user(
      [
        'add',
        'alice',
        '--name',
        'Alice Liddell',
        '--email',
        'alice@example.com',
        '--job-title',
        'Explorer',
        '--password-stdin',
      ],
      'wonderland\n',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added alice \([0-9a-f-]{36}\)\n$/);

    const list = await user(['list', '--json']);
    assert.equal(list.code, 0);
    const users = JSON.parse(list.stdout) as {
      username: string;
      displayName: string;
      mail: string;
      jobTitle: string;
      id: string;
    }[];
    assert.deepEqual(
      users.map(({ username, displayName, mail, jobTitle }) => ({
        username,
        displayName,
        mail,
        jobTitle,
      })),
      [
        {
          username: 'alice',
          displayName: 'Alice Liddell',
          mail: 'alice@example.com',
          jobTitle: 'Explorer',
        },
      ],
    );
    const table = await user(['list']);
    assert.match(
      table.stdout,
      /^USERNAME +NAME +MAIL +ID\nalice +Alice Liddell +alice@example\.com +[0-9a-f-]{36}\n$/,
    );

    assert.equal(
      (await user(['passwd', 'alice', '--password-stdin'], 'looking-glass\r\n')).code,
      0,
    );
    const removed = await user(['remove', 'alice']);
    assert.equal(removed.code, 0);
    assert.equal(removed.stdout, 'removed alice\n');
    assert.deepEqual(JSON.parse((await user(['list', '--json'])).stdout), []);
  });

  test('a duplicate or unknown user exits 1 with one clear line', async () => {
    assert.equal((await user(['add', 'bob', '--name', 'Bob', '--password-stdin'], 'pw\n')).code, 0);
    const dup = await user(['add', 'BOB', '--name', 'Bob again', '--password-stdin'], 'pw\n');
    assert.equal(dup.code, 1);
    assert.equal(oneLine(dup.stderr), 'confab: user "bob" already exists');
    for (const args of [
      ['remove', 'nobody'],
      ['passwd', 'nobody', '--password-stdin'],
    ]) {
      const res = await user(args, 'pw\n');
      assert.equal(res.code, 1, args.join(' '));
      assert.equal(oneLine(res.stderr), 'confab: no user "nobody"');
    }
  });

  test('an empty password is refused; without --password-stdin and no terminal it says how', async () => {
    const empty = await user(['add', 'carol', '--name', 'Carol', '--password-stdin'], '\n');
    assert.equal(empty.code, 1);
    assert.equal(oneLine(empty.stderr), 'confab: the password read from standard input is empty');
    const noTty = await user(['add', 'carol', '--name', 'Carol'], '');
    assert.equal(noTty.code, 2);
    assert.equal(
      oneLine(noTty.stderr),
      'confab: no terminal to ask for the password on: use --password-stdin',
    );
  });

  test('on a terminal it asks twice without --password-stdin; a mismatch or missing answer fails', async () => {
    // `script` gives the command a real terminal; all input is typed ahead at once.
    const onTerminal = (username: string, typed: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const cmd = `'${process.execPath}' '${confabBin}' user add ${username} --name 'On Terminal' --data-dir '${dataDir}'`;
        const proc = spawn('script', ['-qec', cmd, '/dev/null'], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        proc.stdin.end(typed);
        proc.on('exit', (code) =>
          // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal's escape sequences, which begin with ESC
          resolve({ code, out: out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') }),
        );
      });
    const ok = await onTerminal('terry', 'typed-pw\rtyped-pw\r');
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /Password: [\s\S]*Repeat password: [\s\S]*added terry/);
    const mismatch = await onTerminal('tina', 'one\rtwo\r');
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.out, /confab: the passwords do not match/);
    const ended = await onTerminal('tom', 'only-once\r');
    assert.equal(ended.code, 1);
    assert.match(ended.out, /confab: no password was entered/);
    const users = JSON.parse((await user(['list', '--json'])).stdout) as { username: string }[];
    assert.ok(users.some((u) => u.username === 'terry'));
    assert.ok(!users.some((u) => u.username === 'tina' || u.username === 'tom'));
  });

  test('bad input: invalid username or mail, missing --name or USERNAME, extra arguments', async () => {
    const bad = await user(['add', 'Not Valid!', '--name', 'X', '--password-stdin'], 'pw\n');
    assert.equal(bad.code, 1);
    assert.match(oneLine(bad.stderr), /^confab: invalid username "Not Valid!"/);
    const mail = await user(
      ['add', 'dave', '--name', 'Dave', '--email', 'not-a-mail', '--password-stdin'],
      'pw\n',
    );
    assert.equal(mail.code, 1);
    assert.equal(oneLine(mail.stderr), 'confab: invalid mail address "not-a-mail"');
    const noName = await user(['add', 'dave', '--password-stdin'], 'pw\n');
    assert.equal(noName.code, 2);
    assert.equal(
      oneLine(noName.stderr),
      'confab user add: --name NAME is required; see confab user add --help',
    );
    const noUser = await user(['remove']);
    assert.equal(noUser.code, 2);
    assert.equal(
      oneLine(noUser.stderr),
      'confab user remove: USERNAME is missing; see confab user remove --help',
    );
    const extra = await user(['remove', 'a', 'b']);
    assert.equal(extra.code, 2);
    assert.equal(
      oneLine(extra.stderr),
      'confab user remove: unexpected argument "b"; see confab user remove --help',
    );
    const unknown = await runConfab(['user', 'frobnicate']);
    assert.equal(unknown.code, 2);
    assert.equal(
      oneLine(unknown.stderr),
      'confab: unknown command "user frobnicate"; see confab user --help',
    );
  });

  test('with directory: ldap the user commands refuse to run', async () => {
    const res = await runConfab(['user', 'list', '--data-dir', dataDir], {
      env: {
        CONFAB_DIRECTORY: 'ldap',
        CONFAB_LDAP_URI: 'ldap://127.0.0.1:1',
        CONFAB_LDAP_BASE_DN: 'dc=example,dc=com',
      },
    });
    assert.equal(res.code, 2);
    assert.equal(
      oneLine(res.stderr),
      'confab user: users come from LDAP (directory: ldap); manage them there',
    );
  });

  test('help lists the user commands', async () => {
    const res = await runConfab(['user', '--help']);
    assert.equal(res.code, 0);
    for (const c of ['user add', 'user list', 'user remove', 'user passwd'])
      assert.match(res.stdout, new RegExp(`^ {2}${c} `, 'm'));
  });
});

describe('confab keys rotate', () => {
  test('adds new keys and keeps the old ones until their tokens have expired', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const res = await runConfab(['keys', 'rotate', '--data-dir', dataDir]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /^added es256-\S+ \(ES256\), rs256-\S+ \(RS256\)\nold keys stay published until \d{4}-\d\d-\d\dT/,
    );
    const { keys } = JSON.parse(
      readFileSync(path.join(dataDir, 'identity/signing-keys.json'), 'utf8'),
    ) as { keys: { kid: string; alg: string; retireAt?: number }[] };
    assert.equal(keys.length, 4, 'two new, two retiring');
    const retiring = keys.filter((k) => k.retireAt !== undefined);
    assert.equal(retiring.length, 2);
    const now = Date.now() / 1000;
    for (const k of retiring)
      assert.ok((k.retireAt as number) > now + 3600 && (k.retireAt as number) < now + 3600 + 120);
  });
});

describe('confab keys generate and jwk-from-pem', () => {
  test('a generated key signs ES256 and its JWK (kid from the file name) verifies; YAML quotes "y" as Konnect does', async () => {
    const dir = tempDir();
    const gen = await runConfab(['keys', 'generate']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /^-----BEGIN PRIVATE KEY-----\n/);
    const file = path.join(dir, 'meet-kwmserver.pem');
    writeFileSync(file, gen.stdout);
    const json = await runConfab(['keys', 'jwk-from-pem', file]);
    assert.equal(json.code, 0, json.stderr);
    const jwk = JSON.parse(json.stdout) as JWK;
    assert.deepEqual(Object.keys(jwk), ['crv', 'd', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(jwk.kid, 'meet-kwmserver');
    // The JWK is the key: what it signs, its public part verifies.
    const jws = await new CompactSign(new TextEncoder().encode('guest'))
      .setProtectedHeader({ alg: 'ES256' })
      .sign(await importJWK(jwk, 'ES256'));
    const { d: _d, ...pub } = jwk;
    await compactVerify(jws, await importJWK(pub, 'ES256'));
    const yaml = await runConfab(['keys', 'jwk-from-pem', '--yaml', file]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(
      yaml.stdout,
      /^crv: P-256\nd: \S+\nkid: meet-kwmserver\nkty: EC\nuse: sig\nx: \S+\n"y": \S+\n$/,
    );
    assert.deepEqual(parseYaml(yaml.stdout), jwk);
  });

  test('openssl keys (SEC1 private, public) work; other files fail with one line and exit 1', async () => {
    const dir = tempDir();
    const sec1 = path.join(dir, 'sec1.pem');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(sec1, privateKey.export({ type: 'sec1', format: 'pem' }));
    const pubFile = path.join(dir, 'pub.pem');
    writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const a = JSON.parse((await runConfab(['keys', 'jwk-from-pem', sec1])).stdout) as JWK;
    const b = JSON.parse((await runConfab(['keys', 'jwk-from-pem', pubFile])).stdout) as JWK;
    assert.ok(a.d, 'private JWK');
    assert.equal(b.d, undefined, 'public JWK');
    assert.deepEqual([a.x, a.y], [b.x, b.y]);
    const rsa = path.join(dir, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    const junk = path.join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key');
    for (const [f, message] of [
      [rsa, /not an EC P-256 key/],
      [junk, /not a PEM private or public key/],
      [path.join(dir, 'missing.pem'), /cannot read .*ENOENT/],
    ] as const) {
      const res = await runConfab(['keys', 'jwk-from-pem', f]);
      assert.equal(res.code, 1);
      assert.match(oneLine(res.stderr), message);
    }
    const none = await runConfab(['keys', 'jwk-from-pem']);
    assert.equal(none.code, 2, 'a missing FILE is a usage error');
  });
});
