import {
  createLocalJWKSet,
  decodeProtectedHeader,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { signingAlgorithms } from './SigningKeys.js';

export type TokenErrorCode = 'unauthorized' | 'invalid_token' | 'insufficient_scope';

export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a service learns from a valid access token. */
export interface AccessToken {
  /** The user id (OIDC subject). */
  sub: string;
  scopes: ReadonlySet<string>;
  clientId: string | undefined;
  /** Unix seconds. */
  exp: number;
  claims: JWTPayload;
}

export interface TokenCheckerOptions {
  issuer: string;
  /** The resource identifier of Confab's APIs: the `aud` of their access tokens. */
  audience: string;
  /** Public keys the tokens may be signed with. */
  jwks: JWK[];
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (at most 60). */
  clockTolerance?: number;
  /**
   * Whether the token's user and sign-in still stand (the user not removed, the grant not
   * revoked): a reason when they do not. Asked after the token itself checked out.
   */
  active?: (claims: JWTPayload) => Promise<string | undefined>;
  /** Client ids an ID token may be for (its `aud`); any of ours when unset. */
  clientIds?: () => ReadonlySet<string>;
}

/** Allowed clock skew, in seconds; tokens are short-lived, so more would matter. */
export const maxClockSkew = 60;

/**
 * Checks Confab access tokens locally, as kwmserver does against Konnect's JWKS: a JWT of type
 * `at+jwt`, signed with one of our keys by an allowed algorithm (never `none` nor HMAC), from our
 * issuer, for our APIs, in its validity window, carrying the scope the caller needs.
 */
export class TokenChecker {
  readonly #jwks;
  readonly #opts: TokenCheckerOptions & { clockTolerance: number };

  constructor(opts: TokenCheckerOptions) {
    this.#opts = { clockTolerance: maxClockSkew, ...opts };
    if (this.#opts.clockTolerance > maxClockSkew)
      throw new Error(`clock tolerance above ${maxClockSkew} s`);
    this.#jwks = createLocalJWKSet({ keys: opts.jwks });
  }

  /** Checks an `Authorization` header value. */
  /** `requiredScope` undefined: any of our access tokens, whatever API it is for. */
  async checkHeader(
    header: string | undefined,
    requiredScope: string | undefined,
  ): Promise<AccessToken> {
    if (!header) throw new TokenError('unauthorized', 'send Authorization: Bearer <access token>');
    const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
    if (!m) throw new TokenError('invalid_token', 'the Authorization header is not a Bearer token');
    return this.check(m[1] as string, requiredScope);
  }

  /**
   * An ID token a client passes along (kwm's rtm/connect `id_token`): signed by us with an
   * allowed algorithm, from our issuer, for `sub`, of type JWT and for `clientId` (the access
   * token's client; any client of ours when not given), so that an access token cannot pass for
   * one. Expiry is tolerated, as in kwmserver: the access token carries the session's validity.
   */
  async checkIdToken(token: string, sub: string, clientId?: string): Promise<IdTokenClaims> {
    let payload: JWTPayload;
    let header: { typ?: string } | undefined;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, this.#jwks, {
        algorithms: [...signingAlgorithms],
        issuer: this.#opts.issuer,
        clockTolerance: this.#opts.clockTolerance,
        requiredClaims: ['sub', 'aud'],
      }));
    } catch (err) {
      // jose reports expiry only after the signature and the other claims checked out.
      if (err instanceof joseErrors.JWTExpired) {
        payload = err.payload;
        header = decodeProtectedHeader(token);
      } else
        throw new TokenError('invalid_token', describe(err).replace('access token', 'ID token'));
    }
    // An access token is signed by the same keys: its type and audience tell them apart.
    if (header?.typ !== undefined && header.typ.toLowerCase() !== 'jwt')
      throw new TokenError('invalid_token', `a ${header.typ} is not an ID token`);
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const known = this.#opts.clientIds?.();
    const forClient = clientId
      ? aud.includes(clientId)
      : aud.some((a) => typeof a === 'string' && (!known || known.has(a)));
    if (!forClient || aud.includes(this.#opts.audience))
      throw new TokenError(
        'invalid_token',
        'the ID token is not for the client of the access token',
      );
    if (payload.sub !== sub)
      throw new TokenError(
        'invalid_token',
        'the ID token is for another user than the access token',
      );
    return payload as IdTokenClaims;
  }

  async check(token: string, requiredScope: string | undefined): Promise<AccessToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        algorithms: [...signingAlgorithms],
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
        clockTolerance: this.#opts.clockTolerance,
        typ: 'at+jwt',
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (err) {
      throw new TokenError('invalid_token', describe(err));
    }
    // jose checks iat only against a maximum age; a token "issued" in the future is forged.
    if ((payload.iat as number) > Math.floor(Date.now() / 1000) + this.#opts.clockTolerance) {
      throw new TokenError('invalid_token', 'the access token is not valid yet');
    }
    const scopes = new Set(
      typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
    );
    if (requiredScope !== undefined && !scopes.has(requiredScope))
      throw new TokenError(
        'insufficient_scope',
        `the access token lacks the scope ${requiredScope}`,
      );
    const inactive = await this.#opts.active?.(payload);
    if (inactive) throw new TokenError('invalid_token', inactive);
    return {
      sub: payload.sub as string,
      scopes,
      clientId: typeof payload.client_id === 'string' ? payload.client_id : undefined,
      exp: payload.exp as number,
      claims: payload,
    };
  }
}

export interface IdTokenClaims extends JWTPayload {
  sub: string;
  name?: string;
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || err.claim === 'iat') return 'the access token is not valid yet';
    return `the access token's ${err.claim} is not accepted here`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return 'the access token is signed with an algorithm this server does not accept';
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return 'the access token is signed with a key this server does not know';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'the access token signature does not verify';
  return 'the access token is malformed';
}
