import { testRp, tokensFor } from '../../../test/support/oidcFlow.js';
import type { SqlUserStore } from '../src/directory/index.js';
import { startTestServer, type TestServer } from './helpers.js';

const registry = `clients:\n  - id: ${testRp.id}\n    secret: ${testRp.secret}\n    trusted: true\n    redirect_uris: [${testRp.redirectUri}]\n`;

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
  const store = server.store as SqlUserStore;
  const users: Users = {};
  for (const [name, display] of [
    ['alice', 'Alice Liddell'],
    ['bob', 'Bob Builder'],
    ['carol', 'Carol Danvers'],
  ] as const) {
    const user = await store.add({ username: name, displayName: display, password: `${name}-pw` });
    const body = await tokensFor(server.localUrl, name, `${name}-pw`);
    users[name] = { token: body.access_token, idToken: body.id_token, id: user.id };
  }
  return { server, users };
}
