import { createHash, randomBytes } from 'node:crypto';

/** A minimal cookie jar for driving the identity provider over plain HTTP in tests. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', this.header());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(res);
    return res;
  }
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthRequest {
  /** Where the server listens (loopback), e.g. http://127.0.0.1:1234. */
  base: string;
  clientId: string;
  redirectUri: string;
  scope?: string;
  pkce?: Pkce;
  state?: string;
}

export function authorizeUrl(r: AuthRequest & { pkce: Pkce; state: string }): string {
  const u = new URL('/signin/v1/identifier/_/authorize', r.base);
  u.search = new URLSearchParams({
    client_id: r.clientId,
    response_type: 'code',
    redirect_uri: r.redirectUri,
    scope: r.scope ?? 'openid profile email kopano/kwm kopano/gc',
    code_challenge: r.pkce.challenge,
    code_challenge_method: 'S256',
    state: r.state,
  }).toString();
  return u.href;
}

/** Follows same-origin redirects until one leaves the server (or a page answers). */
export async function follow(
  jar: CookieJar,
  base: string,
  first: Response,
): Promise<Response & { finalUrl: string }> {
  let res = first;
  let url = '';
  for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops++) {
    const location = res.headers.get('location') as string;
    const next = new URL(location, base);
    url = next.href;
    if (next.origin !== new URL(base).origin) return Object.assign(res, { finalUrl: url });
    res = await jar.fetch(next);
  }
  return Object.assign(res, { finalUrl: url });
}

/** Opens the sign-in page for a new authorization request and returns its form. */
export async function openSignIn(jar: CookieJar, r: AuthRequest & { pkce: Pkce; state: string }) {
  const page = await follow(jar, r.base, await jar.fetch(authorizeUrl(r)));
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !csrf)
    throw new Error(`no sign-in form (status ${page.status}): ${html.slice(0, 300)}`);
  return {
    action: new URL(action.replaceAll('&#38;', '&'), r.base).href,
    csrf,
    html,
    status: page.status,
  };
}

/** A new browser-like session at the sign-in form of a fresh authorization request. */
export async function startSignIn(r: {
  base: string;
  clientId: string;
  redirectUri: string;
  state: string;
}) {
  const jar = new CookieJar();
  const form = await openSignIn(jar, { ...r, pkce: pkce() });
  return { jar, form };
}

export async function postSignIn(
  jar: CookieJar,
  action: string,
  csrf: string,
  username: string,
  password: string,
): Promise<Response> {
  return jar.fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, username, password }).toString(),
  });
}

/**
 * Signs in over HTTP as a browser would (for a trusted client, so no consent page) and returns
 * the authorization code the client's redirect URI would receive.
 */
export async function signInOverHttp(
  r: AuthRequest & { username: string; password: string },
): Promise<{ code: string; pkce: Pkce; jar: CookieJar; redirect: URL }> {
  const jar = new CookieJar();
  const p = r.pkce ?? pkce();
  const state = r.state ?? randomBytes(8).toString('hex');
  const form = await openSignIn(jar, { ...r, pkce: p, state });
  const done = await follow(
    jar,
    r.base,
    await postSignIn(jar, form.action, form.csrf, r.username, r.password),
  );
  const redirect = new URL(done.finalUrl || 'about:blank');
  const code = redirect.searchParams.get('code');
  if (!code)
    throw new Error(
      `sign-in did not end at the client with a code: status ${done.status}, url ${done.finalUrl}, ${(await done.text()).slice(0, 200)}`,
    );
  if (redirect.searchParams.get('state') !== state) throw new Error('state mismatch');
  return { code, pkce: p, jar, redirect };
}

/** The tests' confidential client, as `test-rp` is registered in their servers' registries. */
export const testRp = {
  id: 'test-rp',
  secret: 's3cret-for-tests',
  redirectUri: 'http://127.0.0.1:9/callback',
} as const;

export interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token?: string;
}

/**
 * A sign-in of its own (its own grant) for `test-rp`: the sign-in over HTTP, then the code
 * exchanged for tokens with the client's secret.
 */
export async function tokensFor(base: string, username: string, password: string): Promise<Tokens> {
  const flow = await signInOverHttp({
    base,
    clientId: testRp.id,
    redirectUri: testRp.redirectUri,
    username,
    password,
  });
  const res = await fetch(new URL('/konnect/v1/token', base), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${testRp.id}:${testRp.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: flow.code,
      code_verifier: flow.pkce.verifier,
      redirect_uri: testRp.redirectUri,
    }),
  });
  if (res.status !== 200) throw new Error(`token exchange: ${res.status} ${await res.text()}`);
  return (await res.json()) as Tokens;
}

export interface GuestTokens {
  accessToken: string;
  idToken: string;
  /** The guest's subject and cleaned name, as the logon answered them. */
  id: string;
  name: string;
}

/**
 * A guest's sign-in as Confab's web app runs it, with the built-in web client: guest logon with
 * the PKCE challenge, authorize with the signed request object, then the token exchange.
 * `issuer` is the server's public origin (the web client's id is made from it).
 */
export async function guestSignInOverHttp(r: {
  base: string;
  issuer: string;
  path: string;
  name?: string;
}): Promise<GuestTokens> {
  const origin = new URL(r.issuer).origin;
  const clientId = `kpop-${origin}/meet/`;
  const redirectUri = `${origin}/meet/oidc-callback`;
  const p = pkce();
  const state = randomBytes(8).toString('hex');
  const logon = await fetch(new URL('/api/kwm/v2/guest/logon', r.base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      guest: '1',
      path: r.path,
      name: r.name ?? '',
      client_id: clientId,
      scope: 'openid profile kopano/kwm',
      response_type: 'code',
      redirect_uri: redirectUri,
      state,
      code_challenge: p.challenge,
      code_challenge_method: 'S256',
    }),
  });
  if (logon.status !== 200)
    throw new Error(`guest logon: ${logon.status} ${(await logon.text()).slice(0, 200)}`);
  const guest = (await logon.json()) as { eqp: { request: string }; id: string; name: string };
  const u = new URL('/signin/v1/identifier/_/authorize', r.base);
  u.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid konnect/guestok',
    request: guest.eqp.request,
  }).toString();
  const jar = new CookieJar();
  const done = await follow(jar, r.base, await jar.fetch(u));
  const code = new URL(done.finalUrl || 'about:blank').searchParams.get('code');
  if (!code)
    throw new Error(`guest authorize ended without a code: ${done.status} ${done.finalUrl}`);
  const res = await fetch(new URL('/konnect/v1/token', r.base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      code_verifier: p.verifier,
      redirect_uri: redirectUri,
    }),
  });
  const body = (await res.json()) as { access_token: string; id_token: string };
  if (!body.access_token) throw new Error(`guest token exchange: ${JSON.stringify(body)}`);
  return { accessToken: body.access_token, idToken: body.id_token, id: guest.id, name: guest.name };
}
