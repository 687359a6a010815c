import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../config/index.js';
import { loadClientRegistry } from './ClientRegistry.js';
import { buildClients } from './Identity.js';

function file(text: string): string {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'confab-reg-')), 'registry.yaml');
  writeFileSync(f, text);
  return f;
}

function refused(text: string): string {
  const f = file(text);
  try {
    loadClientRegistry(f);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.replace(f, 'FILE');
  }
  assert.fail('expected a ConfigError');
}

test("reads Konnect's format: public and confidential clients, with defaults", () => {
  const clients = loadClientRegistry(
    file(`clients:
  - id: kpop-https://meet.example.com/meet/
    name: Kopano Meet
    application_type: web
    trusted: true
    trusted_scopes: [konnect/guestok, kopano/kwm]
    redirect_uris: [https://meet.example.com/meet/]
    jwks:
      keys:
        - {kty: EC, use: sig, crv: P-256, kid: meet-kwmserver, x: 3h9BEMjO0CSP1vILZrT8ALN1XLp3B4F9q26HKghiqns, y: pBnvjxvEFIymNB82xeQFNkpo01jxEprEPmxxdx1DS74, d: mr9hsFCC8q4v4I4Yv1HHSUoU2ax4X_vRKm60CkLb8XE}
    request_object_signing_alg: ES256
  - id: portal
    secret: shh
    redirect_uris: [https://portal.example.com/cb]
`),
  );
  assert.equal(clients.length, 2);
  assert.equal(clients[1]?.trusted, false);
  assert.equal(clients[1]?.application_type, 'web');
  const built = buildClients(
    'https://meet.example.com',
    'kpop-https://meet.example.com/meet/',
    clients,
  );
  assert.equal(built.length, 2, "the registry's entry for the web app merges into it");
  assert.equal(built[0]?.token_endpoint_auth_method, 'none');
  assert.equal(built[1]?.token_endpoint_auth_method, 'client_secret_basic');
  assert.equal(built[1]?.client_secret, 'shh');
});

test('a public registry client needs no secret; a loopback origin registers both loopback names', () => {
  const built = buildClients(
    'http://localhost:8080',
    'kpop-http://localhost:8080/meet/',
    loadClientRegistry(
      file(
        'clients:\n  - id: cli-app\n    application_type: native\n    redirect_uris: [http://127.0.0.1:7777/cb]\n',
      ),
    ),
  );
  assert.equal(built[1]?.token_endpoint_auth_method, 'none');
  assert.ok(built[0]?.redirect_uris?.includes('http://127.0.0.1:8080/meet/'));
  assert.ok(built[0]?.redirect_uris?.includes('http://localhost:8080/meet/'));
});

test('bad registries stop the start naming the file and line', () => {
  assert.equal(
    refused('clients:\n  - id: a\n    redirect_uri: [https://x/cb]\n'),
    'confab: FILE:3:5: unknown key "clients.0.redirect_uri"',
  );
  assert.match(
    refused('clients:\n  - id: a\n    redirect_uris: [not a url]\n'),
    /^confab: FILE:3:21: clients\.0\.redirect_uris\.0: Invalid URL$/,
  );
  assert.match(refused('clients: [\n'), /^confab: FILE:\d+:\d+: invalid YAML: /);
  assert.equal(
    refused('clients:\n  - id: a\n  - id: a\n'),
    'confab: FILE: client "a" is registered twice',
  );
  assert.match(refused('clients:\n  - name: no id\n'), /^confab: FILE:2:5: clients\.0\.id: /);
  assert.throws(
    () => loadClientRegistry('/nonexistent/registry.yaml'),
    /cannot read client registry \/nonexistent\/registry\.yaml: ENOENT/,
  );
});

test('registration_conf and identifier_registration_conf: one setting, two names', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-reg-'));
  const same = loadConfig({
    cwd: dir,
    env: { CONFAB_REGISTRATION_CONF: 'r.yaml', CONFAB_IDENTIFIER_REGISTRATION_CONF: 'r.yaml' },
  });
  assert.equal(same.registryFile, path.join(dir, 'r.yaml'));
  assert.equal(
    loadConfig({ cwd: dir, env: { CONFAB_REGISTRATION_CONF: 'k.yaml' } }).registryFile,
    path.join(dir, 'k.yaml'),
  );
  assert.throws(
    () =>
      loadConfig({
        cwd: dir,
        env: { CONFAB_REGISTRATION_CONF: 'a.yaml', CONFAB_IDENTIFIER_REGISTRATION_CONF: 'b.yaml' },
      }),
    /registration_conf .* and identifier_registration_conf .* are the same setting and name different files/,
  );
});

test('directory: ldap needs ldap_uri and ldap_base_dn', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-reg-'));
  assert.throws(
    () => loadConfig({ cwd: dir, env: { CONFAB_DIRECTORY: 'ldap' } }),
    /ldap_uri is required with directory: ldap/,
  );
  assert.throws(
    () => loadConfig({ cwd: dir, env: { CONFAB_DIRECTORY: 'ldap', CONFAB_LDAP_URI: 'ldap://x' } }),
    /ldap_base_dn is required/,
  );
  assert.throws(
    () => loadConfig({ cwd: dir, env: { CONFAB_LDAP_URI: 'http://x' } }),
    /ldap_uri: expected ldap:\/\/HOST/,
  );
});
