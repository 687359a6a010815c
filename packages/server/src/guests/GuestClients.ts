import type { JWK } from 'jose';
import { ConfigError } from '../config/index.js';
import type { RegisteredClient } from '../identity/index.js';
import { guestRequestAlg } from './keys.js';

const isP256 = (k: JWK) => k.kty === 'EC' && k.crv === 'P-256' && !!k.x && !!k.y;

/**
 * Who may sign guest request objects, and with which key: registry clients with `jwks` (their
 * `request_object_signing_alg` must be ES256), and the built-in web app, which uses the
 * registry's keys when the registry lists it with `jwks`, else the data directory's generated
 * key (the embedded default). Inconsistent setups are refused at start.
 */
export class GuestClients {
  constructor(
    private readonly registry: RegisteredClient[],
    private readonly defaultKey: JWK,
    file: string | undefined,
  ) {
    for (const c of registry) {
      if (!c.jwks) continue;
      const where = `confab: ${file ?? 'client registry'}: client "${c.id}"`;
      if (c.request_object_signing_alg && c.request_object_signing_alg !== guestRequestAlg)
        throw new ConfigError(
          `${where}: request_object_signing_alg must be ${guestRequestAlg} (got ${c.request_object_signing_alg})`,
        );
      for (const k of c.jwks.keys as JWK[])
        if (!isP256(k))
          throw new ConfigError(`${where}: jwks keys must be EC P-256 (confab keys generate)`);
    }
  }

  /** Checks, once the web app's client id is known, that it can sign guest logons. */
  check(webClientId: string, guestApi: boolean, file: string | undefined): void {
    const own = this.registry.find((c) => c.id === webClientId);
    if (guestApi && own?.jwks && !own.jwks.keys.some((k) => (k as JWK).d))
      throw new ConfigError(
        `confab: ${file ?? 'client registry'}: client "${webClientId}" has no private key (d) in jwks, which enable_guest_api needs to sign guest logons; give it, or enable_guest_api: no`,
      );
  }

  /**
   * A client's request object keys, private members included where given: the identity
   * provider publishes their public part, the guest logon signs with the private one.
   */
  keys(clientId: string, webClientId: string): JWK[] | undefined {
    const c = this.registry.find((x) => x.id === clientId);
    if (c?.jwks) return c.jwks.keys as JWK[];
    return clientId === webClientId ? [this.defaultKey] : undefined;
  }

  /** The private key guest logons for this client are signed with, if there is one. */
  signingKey(clientId: string, webClientId: string): JWK | undefined {
    return this.keys(clientId, webClientId)?.find((k) => k.d);
  }

  /** May this client get guest tokens (Konnect: `konnect/guestok` among its trusted scopes)? */
  allowsGuests(clientId: string, webClientId: string): boolean {
    if (clientId === webClientId) return true;
    return !!this.registry
      .find((c) => c.id === clientId)
      ?.trusted_scopes.includes('konnect/guestok');
  }
}
