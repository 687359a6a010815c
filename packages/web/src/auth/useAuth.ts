import type { WebConfig } from '@confab/protocol';
import type { User, UserManager } from 'oidc-client-ts';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { navigate } from '../app/router.js';
import { callbackPath, createUserManager, signedOutMarker } from './userManager.js';

export type AuthState =
  | { status: 'loading' }
  | { status: 'signedOut'; error?: string }
  | { status: 'signedIn'; user: User };

export interface Auth {
  state: AuthState;
  signIn(): void;
  signOut(): void;
  /** A valid access token and the ID token, renewing first when needed. */
  tokens(): Promise<{ accessToken: string; idToken?: string }>;
  manager: UserManager;
}

/** Sign-in state of the app, and the actions on it. */
export function useAuth(config: WebConfig): Auth {
  const manager = useMemo(() => createUserManager(config), [config]);
  const [state, setState] = useState<AuthState>({ status: 'loading' });

  const signIn = useCallback(() => {
    signedOutMarker.clear();
    const returnTo = window.location.pathname.startsWith(callbackPath)
      ? '/meet/'
      : `${window.location.pathname}${window.location.hash}`;
    void manager.signinRedirect({ state: { returnTo } });
  }, [manager]);

  useEffect(() => {
    let cancelled = false;
    const loaded = (user: User) => {
      if (!cancelled) setState({ status: 'signedIn', user });
    };
    const unloaded = () => {
      if (!cancelled) setState({ status: 'signedOut' });
    };
    manager.events.addUserLoaded(loaded);
    manager.events.addUserUnloaded(unloaded);
    manager.events.addSilentRenewError(() => void manager.removeUser());
    (async () => {
      if (window.location.pathname === callbackPath) {
        try {
          const user = await manager.signinRedirectCallback();
          const returnTo = (user.state as { returnTo?: string } | undefined)?.returnTo ?? '/meet/';
          navigate(returnTo.startsWith('/meet/') ? returnTo : '/meet/', true);
          loaded(user);
        } catch (err) {
          navigate('/meet/', true);
          if (!cancelled) setState({ status: 'signedOut', error: (err as Error).message });
        }
        return;
      }
      let user = await manager.getUser();
      if (user?.expired && user.refresh_token)
        user = await manager.signinSilent().catch(() => null);
      if (user && !user.expired) {
        loaded(user);
        return;
      }
      if (!cancelled) setState({ status: 'signedOut' });
      if (!signedOutMarker.isSet()) signIn();
    })();
    return () => {
      cancelled = true;
      manager.events.removeUserLoaded(loaded);
      manager.events.removeUserUnloaded(unloaded);
    };
  }, [manager, signIn]);

  const signOut = useCallback(() => {
    signedOutMarker.set();
    void manager.signoutRedirect();
  }, [manager]);

  const tokens = useCallback(async () => {
    let user = await manager.getUser();
    if (!user || (user.expires_in ?? 0) < 30) user = await manager.signinSilent();
    if (!user) throw new Error('not signed in');
    return { accessToken: user.access_token, ...(user.id_token ? { idToken: user.id_token } : {}) };
  }, [manager]);

  return { state, signIn, signOut, tokens, manager };
}
