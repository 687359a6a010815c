import { signInOverHttp } from '../../../test/support/oidcFlow.js';
import type { SqliteUserStore } from '../src/directory/index.js';
import { startTestServer, type TestServer } from './helpers.js';

const redirectUri = 'http://127.0.0.1:9/callback';
const registry = `clients:\n  - id: test-rp\n    secret: s3cret-for-tests\n    trusted: true\n    redirect_uris: [${redirectUri}]\n`;

export interface Users {
  [name: string]: { token: string; idToken: string; id: string };
}

/** A test server with three signed-in users (alice, bob, carol) and their tokens. */
export async function startSignaling(
  extraYaml = '',
  files: Record<string, string> = {},
  listen?: string,
  env?: Record<string, string>,
): Promise<{ server: TestServer; users: Users }> {
  const server = await startTestServer({
    files: { 'registry.yaml': registry, ...files },
    yaml: `identifier_registration_conf: registry.yaml\n${extraYaml}`,
    ...(listen ? { listen } : {}),
    ...(env ? { env } : {}),
  });
  const store = server.store as SqliteUserStore;
  const users: Users = {};
  for (const [name, display] of [
    ['alice', 'Alice Liddell'],
    ['bob', 'Bob Builder'],
    ['carol', 'Carol Danvers'],
  ] as const) {
    const user = await store.add({ username: name, displayName: display, password: `${name}-pw` });
    const flow = await signInOverHttp({
      base: server.localUrl,
      clientId: 'test-rp',
      redirectUri,
      username: name,
      password: `${name}-pw`,
    });
    const res = await fetch(new URL('/konnect/v1/token', server.localUrl), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('test-rp:s3cret-for-tests').toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: flow.code,
        code_verifier: flow.pkce.verifier,
        redirect_uri: redirectUri,
      }).toString(),
    });
    const body = (await res.json()) as { access_token: string; id_token: string };
    users[name] = { token: body.access_token, idToken: body.id_token, id: user.id };
  }
  return { server, users };
}
