import type { WebConfig } from '@confab/protocol';
import { ErrorResponse, type User, type UserManager } from 'oidc-client-ts';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { linkOptionsFor } from '../app/linkOptions.js';
import { navigate, parseRoute } from '../app/router.js';
import { GuestRefused, roomTakesGuests, startGuestSignIn } from './guestSignIn.js';
import { callbackPath, createUserManager, signedOutMarker } from './userManager.js';

export type AuthState =
  | { status: 'loading' }
  | { status: 'signedOut'; error?: string; ended?: true }
  /** A guest link to a room that takes no guests (or a guest logon the server refused). */
  | { status: 'guestRefused'; room: string }
  | { status: 'signedIn'; user: User };

/** What a sign-in redirect carries through the identity provider and back. */
interface SignInState {
  returnTo?: string;
  /** Opened from a guest link: if nobody is signed in, continue as a guest. */
  guest?: boolean;
}

/** The identity provider's answers to `prompt=none` when nobody is signed in there. */
const nobodySignedIn = new Set([
  'login_required',
  'interaction_required',
  'consent_required',
  'account_selection_required',
]);

/** The room of an app path, when it is a room's link. */
function roomOf(returnTo: string): string | undefined {
  const route = parseRoute(new URL(returnTo, window.location.origin).pathname);
  return route.name === 'room' ? route.path : undefined;
}

/** The guest's room path (the `guest` claim of its ID token), undefined for users. */
export function guestRoomOf(user: User): string | undefined {
  const guest = user.profile.guest as { path?: unknown } | undefined;
  return typeof guest?.path === 'string' ? guest.path : undefined;
}

export interface Auth {
  state: AuthState;
  signIn(): void;
  signOut(): void;
  /**
   * The server ended this sign-in (the account was removed, or the sign-in revoked): forget it
   * here and say so, with "Sign in".
   */
  ended(): void;
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
    /**
     * A guest link with nobody signed in: a guest sign-in for a room that takes guests, else
     * the explanation (with "Sign in").
     */
    const asGuest = async (returnTo: string) => {
      const room = roomOf(returnTo);
      if (!room) return false;
      const refused = () => {
        navigate(returnTo, true);
        if (!cancelled) setState({ status: 'guestRefused', room });
      };
      if (!roomTakesGuests(config, room)) {
        refused();
        return true;
      }
      const name = linkOptionsFor(new URL(returnTo, window.location.origin).pathname)?.name;
      try {
        await startGuestSignIn(config, room, name, returnTo);
      } catch (err) {
        if (err instanceof GuestRefused) refused();
        else throw err;
      }
      return true;
    };
    (async () => {
      if (window.location.pathname === callbackPath) {
        try {
          const user = await manager.signinRedirectCallback();
          const returnTo = (user.state as SignInState | undefined)?.returnTo ?? '/meet/';
          navigate(returnTo.startsWith('/meet/') ? returnTo : '/meet/', true);
          loaded(user);
        } catch (err) {
          const asked = (err instanceof ErrorResponse ? err.state : undefined) as
            | SignInState
            | undefined;
          const returnTo = asked?.returnTo?.startsWith('/meet/') ? asked.returnTo : '/meet/';
          let failure = err as Error;
          try {
            // A guest link, and the identity provider knows nobody here: continue as a guest.
            if (
              asked?.guest &&
              err instanceof ErrorResponse &&
              nobodySignedIn.has(err.error ?? '') &&
              (await asGuest(returnTo))
            )
              return;
          } catch (guestErr) {
            failure = guestErr as Error;
          }
          navigate(returnTo, true);
          if (!cancelled) setState({ status: 'signedOut', error: failure.message });
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
      // A guest link: someone signed in at the identity provider joins as themselves, so ask
      // it without showing anything first; nobody there makes this a guest's sign-in.
      if (linkOptionsFor(window.location.pathname)?.guest && roomOf(window.location.pathname)) {
        void manager.signinRedirect({
          prompt: 'none',
          state: { returnTo: window.location.pathname, guest: true } satisfies SignInState,
        });
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
  }, [manager, signIn, config]);

  const signOut = useCallback(() => {
    signedOutMarker.set();
    void manager.signoutRedirect();
  }, [manager]);

  const ended = useCallback(() => {
    signedOutMarker.set();
    void manager.removeUser().finally(() => setState({ status: 'signedOut', ended: true }));
  }, [manager]);

  const tokens = useCallback(async () => {
    let user = await manager.getUser();
    if (!user || (user.expires_in ?? 0) < 30) user = await manager.signinSilent();
    if (!user) throw new Error('not signed in');
    return { accessToken: user.access_token, ...(user.id_token ? { idToken: user.id_token } : {}) };
  }, [manager]);

  return { state, signIn, signOut, ended, tokens, manager };
}
