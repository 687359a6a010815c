import { guestLogonAuthorizationFields, guestLogonPath, type WebConfig } from '@confab/protocol';
import { OidcClient } from 'oidc-client-ts';
import { userManagerSettings } from './userManager.js';

/** The server turned the guest away: this room is not open to guests (403). */
export class GuestRefused extends Error {}

/** Whether guests may try this room path at all (the server checks again). */
export function roomTakesGuests(config: WebConfig, path: string): boolean {
  if (!config.guests.enabled) return false;
  try {
    return new RegExp(config.guests.publicGroupRegexp).test(path);
  } catch {
    return false;
  }
}

/**
 * A guest's sign-in (docs/identity.md "Guests"): the OIDC client prepares an ordinary
 * authorization request (its state and PKCE verifier stored as for any sign-in), the guest
 * logon signs that request's parameters together with the room path and name into a request
 * object, and the browser goes to the authorization endpoint with it. The usual callback then
 * finishes the sign-in, as a guest bound to that room.
 */
export async function startGuestSignIn(
  config: WebConfig,
  room: string,
  name: string | undefined,
  returnTo: string,
): Promise<void> {
  const settings = userManagerSettings(config);
  const client = new OidcClient(settings);
  const prepared = await client.createSigninRequest({ state: { returnTo, guest: true } });
  const url = new URL(prepared.url);
  const form = new URLSearchParams({
    guest: '1',
    path: room,
    client_id: settings.client_id,
    scope: settings.scope ?? 'openid profile',
  });
  if (name) form.set('name', name);
  for (const k of guestLogonAuthorizationFields) {
    const v = url.searchParams.get(k);
    if (v) form.set(k, v);
  }
  const res = await fetch(guestLogonPath, { method: 'POST', body: form });
  if (res.status === 403) throw new GuestRefused('this room is not open to guests');
  if (!res.ok) throw new Error(`the guest sign-in failed (${res.status})`);
  const { eqp } = (await res.json()) as { eqp: { request: string } };
  const authorize = new URL(url.pathname, url.origin);
  authorize.search = new URLSearchParams({
    client_id: settings.client_id,
    response_type: 'code',
    scope: url.searchParams.get('scope') ?? 'openid',
    request: eqp.request,
  }).toString();
  window.location.assign(authorize.href);
}
