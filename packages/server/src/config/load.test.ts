import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from './ConfigError.js';
import { type LoadOptions, loadConfig } from './load.js';
import { issuerOf, publicOrigin } from './origin.js';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'confab-config-'));
}

function withFile(yaml: string, opts: Omit<LoadOptions, 'configFile'> = {}) {
  const dir = tempDir();
  const file = path.join(dir, 'confab.yaml');
  writeFileSync(file, yaml);
  return { dir, file, load: () => loadConfig({ cwd: dir, configFile: file, ...opts }) };
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes('\n'), `error is one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  test('no file, no environment: localhost:8080, ./data, origin http://localhost:8080', () => {
    const cwd = tempDir();
    const s = loadConfig({ cwd, env: {} });
    assert.equal(s.listen, 'localhost:8080');
    assert.deepEqual(s.listenAddress, { host: 'localhost', port: 8080 });
    assert.equal(s.data_dir, path.join(cwd, 'data'));
    assert.equal(s.configFile, undefined);
    assert.equal(publicOrigin(s), 'http://localhost:8080');
    assert.equal(issuerOf(s), 'http://localhost:8080');
    assert.equal(s.enable_guest_api, true, 'guests work out of the box');
    assert.equal(s.allow_client_guests, true);
    assert.equal(s.public_guest_access_regexp, '^group/public/.*');
    assert.deepEqual(s.apps.enabled, []);
  });

  test('./confab.yaml in the working directory is read when present', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'confab.yaml'), 'listen: 127.0.0.1:9000\n');
    const s = loadConfig({ cwd, env: {} });
    assert.equal(s.listen, '127.0.0.1:9000');
    assert.equal(s.configFile, path.join(cwd, 'confab.yaml'));
  });

  test('an empty file is a valid configuration', () => {
    const { load } = withFile('# nothing here\n');
    assert.equal(load().listen, 'localhost:8080');
  });
});

describe('loadConfig precedence', () => {
  test('environment overrides the file, flags override both', () => {
    const { load } = withFile('listen: 127.0.0.1:1111\nlog_level: warn\ndata_dir: ./from-file\n', {
      env: { CONFAB_LISTEN: '127.0.0.1:2222', CONFAB_LOG_LEVEL: 'debug' },
      flags: { listen: '127.0.0.1:3333' },
    });
    const s = load();
    assert.equal(s.listen, '127.0.0.1:3333');
    assert.equal(s.log_level, 'debug');
    assert.ok(s.data_dir.endsWith('/from-file'));
  });

  test('CONFAB_CONFIG names the file when --config is not given', () => {
    const { file, dir } = withFile('listen: 127.0.0.1:4444\n');
    const s = loadConfig({ cwd: tempDir(), env: { CONFAB_CONFIG: file } });
    assert.equal(s.listen, '127.0.0.1:4444');
    assert.equal(s.configFile, path.join(dir, 'confab.yaml'));
  });

  test('nested keys take CONFAB_ variables joined by _', () => {
    const s = loadConfig({ cwd: tempDir(), env: { CONFAB_APPS_ENABLED: 'meet calendar' } });
    assert.deepEqual(s.apps.enabled, ['meet', 'calendar']);
  });
});

describe('loadConfig values', () => {
  test('booleans take yes/no and true/false, in the file and the environment', () => {
    const { load } = withFile('enable_guest_api: "no"\nallow_client_guests: no\n');
    const s = load();
    assert.equal(s.enable_guest_api, false);
    assert.equal(s.allow_client_guests, false);
    const e = loadConfig({
      cwd: tempDir(),
      env: { CONFAB_ENABLE_GUEST_API: 'YES', CONFAB_ALLOW_CLIENT_GUESTS: 'true' },
    });
    assert.equal(e.enable_guest_api, true);
    assert.equal(e.allow_client_guests, true);
  });

  test('lists from the environment: words, commas, or a YAML list', () => {
    const a = loadConfig({
      cwd: tempDir(),
      env: { CONFAB_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8' },
    });
    assert.deepEqual(a.trusted_proxies, ['127.0.0.1', '10.0.0.0/8']);
    const b = loadConfig({ cwd: tempDir(), env: { CONFAB_TRUSTED_PROXIES: '[::1, 127.0.0.1]' } });
    assert.deepEqual(b.trusted_proxies, ['::1', '127.0.0.1']);
  });

  test('maps from the environment as JSON', () => {
    const s = loadConfig({
      cwd: tempDir(),
      env: { CONFAB_WEB_CONFIG: '{"kwm":{"webrtc":{"config":{"iceTransportPolicy":"relay"}}}}' },
    });
    assert.deepEqual(s.web_config, {
      kwm: { webrtc: { config: { iceTransportPolicy: 'relay' } } },
    });
  });

  test('integers from the environment', () => {
    const s = loadConfig({ cwd: tempDir(), env: { CONFAB_SHUTDOWN_TIMEOUT: '3' } });
    assert.equal(s.shutdown_timeout, 3);
  });

  test('relative paths resolve from the file folder; from env and flags, from the working directory', () => {
    const { dir, file } = withFile('data_dir: ./d\ntls_cert: certs/c.pem\ntls_key: /abs/k.pem\n');
    const cwd = tempDir();
    const s = loadConfig({ cwd, configFile: file, env: {} });
    assert.equal(s.data_dir, path.join(dir, 'd'));
    assert.equal(s.tls_cert, path.join(dir, 'certs/c.pem'));
    assert.equal(s.tls_key, '/abs/k.pem');
    assert.equal(s.tlsEnabled, true);
    const f = loadConfig({
      cwd,
      configFile: file,
      env: { CONFAB_TLS_CERT: 'env.pem' },
      flags: { 'data-dir': 'flagdir' },
    });
    assert.equal(f.data_dir, path.join(cwd, 'flagdir'));
    assert.equal(f.tls_cert, path.join(cwd, 'env.pem'));
  });

  test('the default data_dir resolves from the config file folder when there is one', () => {
    const { dir, file } = withFile('listen: localhost:8080\n');
    const s = loadConfig({ cwd: tempDir(), configFile: file, env: {} });
    assert.equal(s.data_dir, path.join(dir, 'data'));
  });

  test('listen takes IPv6 in brackets and port 0', () => {
    const s = loadConfig({ cwd: tempDir(), env: {}, flags: { listen: '[::1]:0' } });
    assert.deepEqual(s.listenAddress, { host: '::1', port: 0 });
    assert.equal(publicOrigin(s, 41234), 'http://[::1]:41234');
  });
});

describe('public origin (SPEC §2)', () => {
  test('hostname wins and is normalised to an origin', () => {
    const { load } = withFile('hostname: https://Meet.Example.com/\n');
    const s = load();
    assert.equal(publicOrigin(s), 'https://meet.example.com');
    assert.equal(issuerOf(s), 'https://meet.example.com');
  });

  test('with TLS and no hostname the scheme is https', () => {
    const { load } = withFile('listen: localhost:8443\ntls_cert: c.pem\ntls_key: k.pem\n');
    assert.equal(publicOrigin(load()), 'https://localhost:8443');
  });

  test('oidc_issuer_identifier overrides the issuer only', () => {
    const { load } = withFile('oidc_issuer_identifier: https://id.example.com\n');
    const s = load();
    assert.equal(issuerOf(s), 'https://id.example.com');
    assert.equal(publicOrigin(s), 'http://localhost:8080');
  });
});

describe('loadConfig errors (exit code 2, one line naming key and source)', () => {
  test('unknown key names the file, line and key, with a hint', () => {
    const { file, load } = withFile('log_level: info\nlisen: 127.0.0.1:8080\n');
    const msg = configError(load);
    assert.equal(msg, `confab: ${file}:2:1: unknown key "lisen" (did you mean "listen"?)`);
  });

  test('unknown nested key', () => {
    const { file, load } = withFile('apps:\n  enabld: [meet]\n');
    assert.equal(
      configError(load),
      `confab: ${file}:2:3: unknown key "apps.enabld" (did you mean "enabled"?)`,
    );
  });

  test('wrong type names key and file', () => {
    const { file, load } = withFile('shutdown_timeout: soon\n');
    const msg = configError(load);
    assert.match(msg, new RegExp(`^confab: ${file}:1:1: shutdown_timeout: .*expected number`));
  });

  test('a boolean that is not one', () => {
    // Logons the identity provider would refuse are a mistake said at start.
    assert.match(
      configError(withFile('allow_client_guests: no\n').load),
      /confab\.yaml.*enable_guest_api hands out guest logons .* set allow_client_guests too/,
    );
    const { load } = withFile('enable_guest_api: maybe\n');
    assert.match(configError(load), /enable_guest_api: .*expected boolean/);
  });

  test('a bad listen address', () => {
    const { load } = withFile('listen: 8080\n');
    assert.match(configError(load), /listen: .*expected string/);
    const { load: load2 } = withFile('listen: "localhost"\n');
    assert.match(configError(load2), /listen: expected HOST:PORT/);
    const { load: load3 } = withFile('listen: "localhost:70000"\n');
    assert.match(configError(load3), /listen: expected HOST:PORT/);
  });

  test('hostname must be an origin', () => {
    const { load } = withFile('hostname: https://meet.example.com/app\n');
    assert.match(configError(load), /hostname: expected an origin/);
    const { load: load2 } = withFile('hostname: meet.example.com\n');
    assert.match(configError(load2), /hostname: expected an origin/);
  });

  test('applications of the grid: known names, Kopano names, names with an address; others refused', () => {
    const { load } = withFile(
      'apps:\n  enabled: [kopano-webapp, calendar, Wiki]\n  links: {Wiki: "https://wiki.example.com/"}\n',
    );
    assert.deepEqual(load().apps, {
      enabled: ['kopano-webapp', 'calendar', 'Wiki'],
      links: { Wiki: 'https://wiki.example.com/' },
    });
    const { file, load: unknown } = withFile('apps:\n  enabled: [meet, wiki]\n');
    assert.match(
      configError(unknown),
      new RegExp(
        `^confab: ${file}:2:\\d+: apps.enabled.1: wiki is not a known application: give its address in apps.links`,
      ),
    );
    for (const bad of ['javascript:alert(1)', '//evil.example', 'wiki'])
      assert.match(
        configError(withFile(`apps:\n  enabled: [w]\n  links: {w: "${bad}"}\n`).load),
        /apps\.links\.w: expected an http\(s\) URL or a path starting with \//,
      );
  });

  test('a regular expression that does not compile', () => {
    const { load } = withFile('public_guest_access_regexp: "^group/(public"\n');
    assert.match(
      configError(load),
      /public_guest_access_regexp: expected a valid regular expression/,
    );
  });

  test('broken YAML names the file, line and column', () => {
    const { file, load } = withFile('listen: localhost:8080\nweb_config: {kwm: [\n');
    assert.match(configError(load), new RegExp(`^confab: ${file}:\\d+:\\d+: invalid YAML: `));
  });

  test('a duplicated key is broken YAML', () => {
    const { file, load } = withFile('listen: a:1\nlisten: b:2\n');
    assert.match(
      configError(load),
      new RegExp(`^confab: ${file}:2:1: invalid YAML: Map keys must be unique`),
    );
  });

  test('a top level that is not a mapping', () => {
    const { file, load } = withFile('- listen\n- data_dir\n');
    assert.equal(configError(load), `confab: ${file}: expected a mapping of keys at the top level`);
  });

  test('a missing --config file', () => {
    const dir = tempDir();
    const msg = configError(() => loadConfig({ cwd: dir, configFile: 'nope.yaml', env: {} }));
    assert.equal(
      msg,
      `confab: cannot read config file ${path.join(dir, 'nope.yaml')}: no such file`,
    );
  });

  test('a config path that is a directory', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'conf.yaml'));
    assert.match(
      configError(() => loadConfig({ cwd: dir, configFile: 'conf.yaml', env: {} })),
      /cannot read config file .*conf\.yaml: EISDIR/,
    );
  });

  test('an unknown CONFAB_ variable names the variable', () => {
    assert.equal(
      configError(() => loadConfig({ cwd: tempDir(), env: { CONFAB_LISTN: 'x:1' } })),
      'confab: environment variable CONFAB_LISTN: unknown key (did you mean CONFAB_LISTEN?)',
    );
  });

  test('a wrong type from the environment names the variable', () => {
    assert.match(
      configError(() => loadConfig({ cwd: tempDir(), env: { CONFAB_SHUTDOWN_TIMEOUT: 'later' } })),
      /^confab: environment variable CONFAB_SHUTDOWN_TIMEOUT: shutdown_timeout: .*expected number/,
    );
  });

  test('a malformed map in the environment', () => {
    assert.match(
      configError(() => loadConfig({ cwd: tempDir(), env: { CONFAB_WEB_CONFIG: '{"kwm": ' } })),
      /CONFAB_WEB_CONFIG: invalid YAML\/JSON value/,
    );
  });

  test('a bad flag value names the flag', () => {
    assert.match(
      configError(() => loadConfig({ cwd: tempDir(), env: {}, flags: { listen: 'nowhere' } })),
      /^confab: flag --listen: listen: expected HOST:PORT/,
    );
  });

  test('tls_cert without tls_key', () => {
    const { file, load } = withFile('tls_cert: c.pem\n');
    assert.equal(
      configError(load),
      `confab: ${file}:1:1: tls_key is required when tls_cert is set`,
    );
  });
});

describe('several nodes: redis_url and node_id', () => {
  const pgUrl = 'postgres://confab@db.example.com/confab';
  test('redis_url needs database_url and hostname; with both it loads', () => {
    assert.match(
      configError(withFile('redis_url: redis://127.0.0.1:6379\n').load),
      /redis_url needs database_url/,
    );
    assert.match(
      configError(withFile(`redis_url: redis://127.0.0.1:6379\ndatabase_url: ${pgUrl}\n`).load),
      /redis_url needs hostname/,
    );
    const s = withFile(
      `redis_url: rediss://:pw@redis.example.com:6380/1\ndatabase_url: ${pgUrl}\nhostname: https://meet.example.com\nnode_id: meet-1\n`,
    ).load();
    assert.equal(s.redis_url, 'rediss://:pw@redis.example.com:6380/1');
    assert.equal(s.node_id, 'meet-1');
  });

  test('a malformed redis_url or node_id names the key', () => {
    const base = `database_url: ${pgUrl}\nhostname: https://meet.example.com\n`;
    assert.match(configError(withFile(`${base}redis_url: http://redis\n`).load), /redis_url/);
    assert.match(configError(withFile(`${base}redis_url: not a url\n`).load), /redis_url/);
    assert.match(
      configError(withFile(`${base}redis_url: redis://r\nnode_id: "two words"\n`).load),
      /node_id/,
    );
  });
});
