import type { WebConfig } from '@confab/protocol';
import { UserManager, type UserManagerSettings, WebStorageStateStore } from 'oidc-client-ts';

export const callbackPath = '/meet/oidc-callback';
const signedOutKey = 'confab.signedOut';

/**
 * The OIDC client of the web app: authorization code + PKCE against Confab's identity provider,
 * renewed with refresh tokens. The profile comes from the ID token (userinfo refuses the API
 * tokens, docs/identity.md).
 */
export function createUserManager(config: WebConfig): UserManager {
  return new UserManager(userManagerSettings(config));
}

/** The settings of the OIDC client; guest sign-ins build their request from the same ones. */
export function userManagerSettings(config: WebConfig): UserManagerSettings {
  const origin = window.location.origin;
  return {
    authority: config.oidc.iss || origin,
    client_id: config.oidc.clientID,
    redirect_uri: `${origin}${callbackPath}`,
    post_logout_redirect_uri: `${origin}/meet/`,
    silent_redirect_uri: `${origin}/meet/oidc-silent-renew`,
    response_type: 'code',
    scope: config.oidc.scope ?? 'openid profile email kopano/kwm kopano/gc',
    loadUserInfo: false,
    automaticSilentRenew: true,
    // Renew 30 s before expiry: `access_token_ttl` may be as short as 60 s, and the library's
    // default of 60 s would then renew at once, over and over.
    accessTokenExpiringNotificationTimeInSeconds: 30,
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  };
}

/** After an explicit sign-out the app waits for "Sign in" instead of redirecting at once. */
export const signedOutMarker = {
  set: () => window.sessionStorage.setItem(signedOutKey, '1'),
  clear: () => window.sessionStorage.removeItem(signedOutKey),
  isSet: () => window.sessionStorage.getItem(signedOutKey) === '1',
};
