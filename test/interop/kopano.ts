import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);

/** oidc-client 1.11.5 (the library Kopano Meet's kpop wraps), as the browser loads it. */
const oidcClientJs = readFileSync(require.resolve('oidc-client/dist/oidc-client.min.js'), 'utf8');

let kwmStyleJs: Promise<string> | undefined;
/** test/support/browser/kwmStyleClient.ts with its types stripped, for the page. */
function kwmStyle(): Promise<string> {
  kwmStyleJs ??= transform(
    readFileSync(
      fileURLToPath(new URL('../support/browser/kwmStyleClient.ts', import.meta.url)),
      'utf8',
    ),
    { loader: 'ts', format: 'esm', target: 'es2022' },
  ).then((r) => r.code);
  return kwmStyleJs;
}

/**
 * kpop 2.6's UserManager settings (Kopano-dev/kpop src/oidc/actions.js, src/oidc/settings.js),
 * with Meet's scope and claims (Kopano-dev/meet src/Main.js), for `origin`.
 */
export function kpopSettings(origin: string) {
  const appBase = `${origin}/meet/`;
  return {
    authority: origin,
    client_id: `kpop-${encodeURI(appBase)}`,
    redirect_uri: `${appBase}#oidc-callback`,
    silent_redirect_uri: `${appBase}#oidc-silent-refresh`,
    post_logout_redirect_uri: `${appBase}#oidc-endsession-callback`,
    response_type: 'code',
    response_mode: 'fragment',
    scope: 'openid profile email kopano/kwm kopano/gc kopano/kvs',
    loadUserInfo: true,
    automaticSilentRenew: false,
    extraQueryParams: { claims: JSON.stringify({ id_token: { name: null } }) },
  };
}

export interface KpopUser {
  access_token: string;
  id_token: string;
  scope: string;
  profile: Record<string, unknown>;
}

/**
 * Signs in as Kopano Meet does: the app's page (here a blank one standing in at `/meet/`, so
 * that Confab's own app does not run) starts oidc-client's redirect with kpop's settings, the
 * person signs in on Confab's page, and the callback (`/meet/#oidc-callback&code=…`) is taken by
 * oidc-client, which then loads userinfo.
 */
export async function signInAsKopanoMeet(
  page: Page,
  origin: string,
  username: string,
  password: string,
): Promise<KpopUser> {
  // The app's page stands in for Meet: Confab's own app must not run in it. Its document is
  // blank where the route catches it; reached through a redirect (which Chromium follows before
  // a route sees it) it is Confab's shell, whose scripts are kept from loading.
  await page.route(
    (url) => url.origin === origin && url.pathname.startsWith('/meet/'),
    (route) =>
      route.request().resourceType() === 'document'
        ? route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Meet</title>' })
        : route.fulfill({
            contentType:
              route.request().resourceType() === 'script' ? 'text/javascript' : 'text/plain',
            body: '',
          }),
  );
  const settings = kpopSettings(origin);
  await page.goto(`${origin}/meet/`);
  await page.addScriptTag({ content: oidcClientJs });
  await page.evaluate((s) => {
    const Oidc = (
      window as unknown as {
        Oidc: { UserManager: new (s: unknown) => { signinRedirect(): Promise<void> } };
      }
    ).Oidc;
    void new Oidc.UserManager(s).signinRedirect();
  }, settings);
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(
    (url) => url.pathname === '/meet/' && url.hash.startsWith('#oidc-callback&'),
  );
  await page.addScriptTag({ content: oidcClientJs });
  return page.evaluate(async (s) => {
    const Oidc = (
      window as unknown as {
        Oidc: {
          UserManager: new (s: unknown) => { signinRedirectCallback(): Promise<KpopUser> };
        };
      }
    ).Oidc;
    const user = await new Oidc.UserManager(s).signinRedirectCallback();
    return {
      access_token: user.access_token,
      id_token: user.id_token,
      scope: user.scope,
      profile: user.profile,
    };
  }, settings);
}

/** Puts the kwmjs-style client into the page as `window.kwm`, with a small camera and a microphone. */
export async function startKwmStyle(page: Page, user: KpopUser): Promise<void> {
  await page.addScriptTag({ content: await kwmStyle(), type: 'module' });
  await page.waitForFunction(() => 'KwmStyle' in window);
  await page.evaluate(async (u) => {
    const w = window as unknown as {
      KwmStyle: { KwmStyleClient: new (o: unknown) => { connect(): Promise<void> } };
      kwm: unknown;
    };
    const localStream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: 320, height: 240, frameRate: 15 },
    });
    const kwm = new w.KwmStyle.KwmStyleClient({
      accessToken: u.access_token,
      idToken: u.id_token,
      localStream,
      autoAccept: true,
    });
    w.kwm = kwm;
    await kwm.connect();
  }, user);
}

/** Video the kwmjs-style client's peer connections decode: streams whose frames rise. */
export async function kwmDecodingVideo(page: Page, sampleMs = 1500): Promise<number> {
  const sample = () =>
    page.evaluate(async () => {
      const kwm = (window as unknown as { kwm: { peerConnections(): RTCPeerConnection[] } }).kwm;
      const frames: Record<string, number> = {};
      for (const [i, pc] of kwm.peerConnections().entries()) {
        const stats = await pc.getStats();
        stats.forEach((s: { type: string; kind?: string; id: string; framesDecoded?: number }) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video')
            frames[`${i}/${s.id}`] = s.framesDecoded ?? 0;
        });
      }
      return frames;
    });
  const before = await sample();
  await new Promise((r) => setTimeout(r, sampleMs));
  const after = await sample();
  return Object.keys(after).filter((k) => (after[k] ?? 0) > (before[k] ?? 0)).length;
}
