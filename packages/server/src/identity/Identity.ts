import { createHmac, timingSafeEqual } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JWK, JWTPayload } from 'jose';
import type {
  ClientMetadata,
  InteractionResults,
  KoaContextWithOIDC,
  default as Provider,
} from 'oidc-provider';
import { BackoffLimiter, MemoryRateLimiter, type RateLimiter } from '../common/index.js';
import { isLoopbackHost, type Settings } from '../config/index.js';
import { DirectoryError, type UserStore } from '../directory/index.js';
import {
  contentSecurityPolicy,
  databaseAwayMessage,
  sendError,
  webClientIdFor,
} from '../gateway/index.js';
import {
  asksForGuest,
  type GuestClients,
  type GuestPolicy,
  type GuestStore,
  guestScope,
  isGuestId,
  readGuestClaims,
} from '../guests/index.js';
import type { Logger } from '../logging/index.js';
import { type DatabaseUnavailable, isDatabaseUnavailable, type Sql } from '../storage/index.js';
import type { RegisteredClient } from './ClientRegistry.js';
import { FragmentRedirects } from './FragmentRedirects.js';
import {
  consentPage,
  errorPage,
  pageStrings,
  signedOutPage,
  signInCss,
  signInPage,
  signOutPage,
  staticCssPath,
} from './pages.js';
import { publicJwk, type SigningKeys } from './SigningKeys.js';
import { sqlOidcAdapter } from './SqlOidcAdapter.js';
import { TokenChecker, TokenError } from './TokenChecker.js';

/** Endpoint paths, as Kopano Konnect has them, so reverse-proxy configs written for it still fit. */
export const identityRoutes = {
  authorization: '/signin/v1/identifier/_/authorize',
  end_session: '/signin/v1/identifier/_/endsession',
  token: '/konnect/v1/token',
  userinfo: '/konnect/v1/userinfo',
  jwks: '/konnect/v1/jwks.json',
  revocation: '/konnect/v1/revocation',
} as const;
const interactionPrefix = '/signin/v1/interaction';

/**
 * Sign-in pages send their forms with a real Origin header, which the CSRF check compares:
 * under `no-referrer` browsers send `Origin: null` on form posts. Cross-site, nothing leaks.
 */
const signInReferrerPolicy = 'same-origin';

/** Scopes of Confab's APIs: `kopano/kwm` grants signaling, `kopano/gc` the address book. */
export const apiScopes = ['kopano/kwm', 'kopano/gc'] as const;
const oidcScopes = ['openid', 'offline_access', 'profile', 'email', guestScope];
/**
 * The OpenID scopes an authorization (a code, or a refresh token) was granted: the ones it asked
 * for that its grant holds. Its access token may read those at userinfo.
 */
function authorizedOidcScope(ctx: KoaContextWithOIDC): string | undefined {
  const entities = ctx.oidc?.entities as
    | {
        AuthorizationCode?: { scope?: string };
        RefreshToken?: { scope?: string };
        Grant?: { getOIDCScope(): string };
      }
    | undefined;
  const asked = entities?.AuthorizationCode?.scope ?? entities?.RefreshToken?.scope;
  const granted = entities?.Grant?.getOIDCScope();
  if (!asked || !granted) return undefined;
  const held = new Set(granted.split(' '));
  return asked
    .split(' ')
    .filter((s) => s && held.has(s))
    .join(' ');
}

/** The claims each OIDC scope grants, in ID tokens and at userinfo. */
const oidcScopeClaims: Record<string, string[]> = {
  openid: ['sub'],
  profile: ['name', 'preferred_username'],
  email: ['email'],
  [guestScope]: ['guest'],
};
/** The longest a guest request object may be valid for (its `exp` from now). */
const guestRequestMaxLifetime = 600;
/**
 * Bounds of an authorization request: unauthenticated, each one stores an interaction. A guest's
 * signed request object is the largest parameter real clients send (about 1.5 kB).
 */
export const authorizeLimits = { maxParameters: 40, maxValue: 4096, maxRequestObject: 8192 };
/**
 * While the database is away, how long a sign-in found standing before is still taken as
 * standing by the APIs' token checks (docs/deployment.md, PostgreSQL).
 */
export const activeGraceMs = 10 * 60_000;

/** How long an LDAP user found is taken as still there, for token checks at every request. */
const ldapPresenceTtlMs = 30_000;

/** A signaling session's subject and sign-in, as checked for removal and revocation. */
export interface SessionSubject {
  sub: string;
  grantId?: string | undefined;
}
/** Is a request about a guest: a guest sign-in, or a guest's session, code or refresh token? */
function isGuestContext(ctx: KoaContextWithOIDC): boolean {
  const { oidc } = ctx;
  const entities = oidc.entities as {
    AuthorizationCode?: { accountId?: string };
    RefreshToken?: { accountId?: string };
  };
  return (
    asksForGuest(oidc.params?.scope) ||
    isGuestId(oidc.session?.accountId) ||
    isGuestId(entities.AuthorizationCode?.accountId) ||
    isGuestId(entities.RefreshToken?.accountId)
  );
}

export interface IdentityOptions {
  settings: Settings;
  store: UserStore;
  db: Sql;
  keys: SigningKeys;
  registry: RegisteredClient[];
  /** Clients whose request objects may bring guests, and their keys. */
  guests: GuestClients;
  guestPolicy: GuestPolicy;
  guestStore: GuestStore;
  cookieSecret: Buffer;
  logger: Logger;
}

/** What exists once the public origin is known (after listening, for port 0). */
interface Started {
  provider: Provider;
  issuer: string;
  apiResource: string;
  webClientId: string;
  trustedClients: Set<string>;
  checker: TokenChecker;
  /** `host` values the provider may see: the public origin's, and on loopback its aliases. */
  hosts: Set<string>;
  publicHost: string;
  /** `http` or `https`, as the public origin has it. */
  publicScheme: string;
  /** The built-in client's registered redirect URIs and post-logout ones. */
  webRedirects: ReadonlySet<string>;
  webLogoutRedirects: ReadonlySet<string>;
}

/**
 * The OpenID Connect provider (Konnect's role) on the gateway's origin: oidc-provider for the
 * protocol, Confab's own sign-in and consent pages, users from the directory port, and one token
 * checker that every other service uses to trust its access tokens.
 */
export class Identity {
  #started: Started | undefined;
  /** Fragments of kpop-style redirect URIs, put back into the redirects that answer them. */
  readonly #fragments = new FragmentRedirects();
  #errors: typeof import('oidc-provider').errors | undefined;
  readonly #log: Logger;
  readonly #perIp: RateLimiter;
  /** Failed sign-ins per username and address, with backoff (`signin_rate_limit_per_user`). */
  readonly #perUserIp: BackoffLimiter;
  readonly #authorizePerIp: RateLimiter;
  readonly #purgeTimer: NodeJS.Timeout;
  readonly #grantRevoked = new Set<(grantId: string) => void>();
  /** LDAP users seen lately, until when: LDAP is asked at most this often per user. */
  readonly #present = new Map<string, number>();
  readonly #Adapter;
  /** When each sign-in (user and grant) was last found standing, oldest first. */
  readonly #lastActive = new Map<string, number>();

  constructor(private readonly opts: IdentityOptions) {
    this.#log = opts.logger.child({ module: 'identity' });
    this.#perIp = new MemoryRateLimiter(opts.settings.signin_rate_limit_per_ip, 60_000);
    this.#perUserIp = new BackoffLimiter({
      limit: opts.settings.signin_rate_limit_per_user,
      windowMs: 60_000,
      baseLockMs: 60_000,
      maxLockMs: 15 * 60_000,
    });
    this.#authorizePerIp = new MemoryRateLimiter(opts.settings.authorize_rate_limit_per_ip, 60_000);
    this.#Adapter = sqlOidcAdapter(opts.db);
    this.#purgeTimer = setInterval(() => {
      Promise.all([this.#Adapter.purgeExpired(), opts.guestStore.purgeExpired()]).catch((err) =>
        this.#log.warn({ err }, 'identity: purging expired sign-ins failed; next time again'),
      );
    }, 10 * 60_000);
    this.#purgeTimer.unref();
  }

  /**
   * Builds the provider for the public origin. Call once, after the gateway listens. The
   * library loads here, not at import, so CLI commands that never serve do not load it.
   */
  async start(origin: string, issuer: string): Promise<void> {
    if (this.#started) throw new Error('identity already started');
    const {
      default: Provider,
      errors: oidcErrors,
      interactionPolicy,
    } = await import('oidc-provider');
    const { settings } = this.opts;
    const apiResource = `${origin}/api`;
    const webClientId = webClientIdFor(origin);
    const clients = buildClients(origin, webClientId, this.opts.registry, (id) =>
      this.opts.guests.keys(id, webClientId)?.map((k) => publicJwk(k)),
    );
    const { guestStore, guestPolicy } = this.opts;
    // A guest's session never stands for a registered user, nor one user's for a guest: a
    // request of the other kind asks for a new sign-in.
    const policy = interactionPolicy.base();
    policy.get('login')?.checks.add(
      new interactionPolicy.Check('guest_switch', 'a new sign-in is needed', (ctx) => {
        const { oidc } = ctx;
        const account = oidc.session?.accountId;
        if (!account) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const guestRequest = asksForGuest(oidc.params?.scope);
        const wanted = guestRequest ? readGuestClaims(oidc.params?.claims)?.id : undefined;
        if (guestRequest ? account !== wanted : isGuestId(account))
          return interactionPolicy.Check.REQUEST_PROMPT;
        return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }),
    );
    const trustedClients = new Set([
      webClientId,
      ...this.opts.registry.filter((c) => c.trusted).map((c) => c.id),
    ]);
    const store = this.opts.store;

    const provider = new Provider(issuer, {
      adapter: this.#Adapter,
      clients,
      jwks: { keys: this.opts.keys.privateJwks() as never },
      cookies: {
        keys: [this.opts.cookieSecret.toString('base64url')],
        long: { httpOnly: true, sameSite: 'lax' },
        short: { httpOnly: true, sameSite: 'lax' },
      },
      routes: identityRoutes,
      responseTypes: ['code'],
      interactions: {
        policy,
        url: (_ctx, interaction) => `${interactionPrefix}/${interaction.uid}`,
      },
      scopes: oidcScopes,
      claims: oidcScopeClaims,
      enabledJWA: { requestObjectSigningAlgValues: ['ES256'] },
      // Guests carry the room they may join in their access tokens (docs/identity.md).
      // Every access token names its grant, so that signaling can end the sessions of a
      // sign-in that was revoked (docs/identity.md).
      extraTokenClaims: async (ctx, token) => {
        const { accountId: id, grantId } = token as { accountId?: string; grantId?: string };
        const guest = isGuestId(id) ? await guestStore.find(id as string) : undefined;
        const oidcScope = authorizedOidcScope(ctx);
        return {
          ...(grantId ? { grant_id: grantId } : {}),
          // What this sign-in may read at userinfo (#userinfo): its own OpenID scopes.
          ...(oidcScope ? { oidc_scope: oidcScope } : {}),
          ...(guest ? { guest: { path: guest.path } } : {}),
        };
      },
      // The web app reads the profile from the ID token: put the scope's claims there too.
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        claimsParameter: { enabled: true },
        requestObjects: {
          enabled: true,
          requireSignedRequestObject: false,
          // Beyond the library's checks (signature with the client's registered key, ES256
          // only, iss, aud, not expired): a lifetime must be given, and a short one.
          assertJwtClaimsAndHeader: async (_ctx, claims) => {
            const now = Math.floor(Date.now() / 1000);
            if (typeof claims.exp !== 'number')
              throw new oidcErrors.InvalidRequestObject('the request object has no exp');
            if (claims.exp > now + guestRequestMaxLifetime)
              throw new oidcErrors.InvalidRequestObject('the request object lives too long');
          },
        },
        revocation: { enabled: true },
        userinfo: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (ctx, form) => {
            ctx.body = signOutPage(form);
          },
          postLogoutSuccessSource: async (ctx) => {
            ctx.body = signedOutPage();
          },
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => apiResource,
          useGrantedResource: () => true,
          getResourceServerInfo: (ctx, indicator) => {
            if (indicator !== apiResource) throw new oidcErrors.InvalidTarget();
            const scopes = isGuestContext(ctx) ? guestPolicy.scopesFor(apiScopes) : apiScopes;
            return {
              scope: scopes.join(' '),
              audience: apiResource,
              accessTokenTTL: settings.access_token_ttl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            };
          },
        },
      },
      ttl: {
        AccessToken: settings.access_token_ttl,
        AuthorizationCode: 60,
        IdToken: 3600,
        Interaction: 600,
        Session: settings.session_ttl,
        Grant: settings.session_ttl,
        RefreshToken: settings.session_ttl,
      },
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: () => true,
      findAccount: async (_ctx, sub) => {
        const claims = await this.#claimsOf(sub);
        return claims ? { accountId: sub, claims: async () => ({ sub, ...claims }) } : undefined;
      },
      renderError: async (ctx, out, error) => {
        ctx.type = 'html';
        const expired =
          error instanceof oidcErrors.SessionNotFound ||
          (out.error === 'invalid_request' && /interaction/i.test(String(out.error_description)));
        ctx.body = errorPage(
          expired ? 'expired' : 'error',
          out.error_description ? String(out.error_description) : undefined,
        );
      },
    });
    // X-Forwarded-* reach the provider only from trusted proxies (see #mount).
    provider.proxy = settings.trusted_proxies.length > 0;
    allowFragmentRedirects(provider, webClientId);
    // A token response's `scope` is its access token's, which here is the APIs' only; Kopano
    // Meet wants `openid profile email` among them, as Konnect answered (the token also opens
    // userinfo, #userinfo): the grant's OpenID scopes are added.
    provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { scope?: unknown } | undefined;
      if (ctx.oidc?.route !== 'token' || typeof body?.scope !== 'string') return;
      const oidcScope = authorizedOidcScope(ctx as unknown as KoaContextWithOIDC);
      if (oidcScope)
        body.scope = [...new Set([...oidcScope.split(' '), ...body.scope.split(' ')])]
          .filter(Boolean)
          .join(' ');
    });
    // The database went away under a request (a token, a sign-in step): 503 and when to try
    // again, not the provider's 500. OAuth's own code for it on JSON endpoints.
    provider.use(async (ctx, next) => {
      await next();
      const away = ctx.state.databaseUnavailable as DatabaseUnavailable | undefined;
      if (!away) return;
      ctx.status = 503;
      ctx.set('retry-after', String(away.retryAfterSeconds));
      const description = `database_unavailable: ${databaseAwayMessage}`;
      if (ctx.type.includes('html')) {
        ctx.type = 'html';
        ctx.body = errorPage('error', `${description}. Try again in a moment.`);
      } else {
        ctx.type = 'json';
        ctx.body = { error: 'temporarily_unavailable', error_description: description };
      }
    });
    provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
      if (isDatabaseUnavailable(err)) {
        ctx.state.databaseUnavailable = err;
        this.#log.warn({ reason: err.message }, 'identity: the database is away');
        return;
      }
      this.#log.error({ err }, 'identity provider error');
    });
    provider.on('grant.revoked', (_ctx: KoaContextWithOIDC, grantId: string) => {
      this.#forgetStanding((key) => key.startsWith(`${grantId} `));
      for (const listener of this.#grantRevoked) listener(grantId);
    });

    const clientIds = new Set(clients.map((c) => c.client_id));
    const checker = new TokenChecker({
      issuer,
      audience: apiResource,
      jwks: this.opts.keys.publicJwks(),
      active: (claims) => this.#inactive(claims),
      clientIds: () => clientIds,
    });
    const publicHost = new URL(origin).host;
    const hosts = new Set(clientOrigins(origin).map((o) => new URL(o).host));
    this.#errors = oidcErrors;
    this.#started = {
      provider,
      issuer,
      apiResource,
      webClientId,
      trustedClients,
      checker,
      hosts,
      publicHost,
      publicScheme: new URL(origin).protocol.replace(':', ''),
      webRedirects: new Set(clients[0]?.redirect_uris ?? []),
      webLogoutRedirects: new Set(clients[0]?.post_logout_redirect_uris ?? []),
    };
    this.#log.info(
      { issuer, clients: clients.length, directory: store.kind },
      'identity provider ready',
    );
  }

  get tokenChecker(): TokenChecker {
    return this.#need().checker;
  }

  get issuer(): string {
    return this.#need().issuer;
  }

  get webClientId(): string {
    return this.#need().webClientId;
  }

  get apiResource(): string {
    return this.#need().apiResource;
  }

  close(): void {
    clearInterval(this.#purgeTimer);
  }

  /** Calls `listener` with the id of every grant revoked here (sign-out, token revocation). */
  onGrantRevoked(listener: (grantId: string) => void): () => void {
    this.#grantRevoked.add(listener);
    return () => this.#grantRevoked.delete(listener);
  }

  /**
   * For each session, why it may no longer go on (its user removed from the directory or
   * disabled in LDAP, its guest gone, its grant revoked), or undefined. A directory that does
   * not answer removes nobody: its users are taken as there.
   */
  async sessionsEnded(sessions: readonly SessionSubject[]): Promise<(string | undefined)[]> {
    try {
      return await this.#endedReasons(sessions);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      // Nobody is taken for signed out because the database is away: asked again later.
      return sessions.map(() => undefined);
    }
  }

  async #endedReasons(sessions: readonly SessionSubject[]): Promise<(string | undefined)[]> {
    const users = [...new Set(sessions.map((s) => s.sub).filter((sub) => !isGuestId(sub)))];
    let present: Set<string>;
    try {
      present = await this.opts.store.existing(users);
    } catch (err) {
      if (!(err instanceof DirectoryError)) throw err;
      present = new Set(users);
    }
    if (this.opts.store.kind === 'ldap') this.#sawPresent(present);
    const grants = sessions.flatMap((s) => (s.grantId ? [s.grantId] : []));
    const live = grants.length ? await this.#Adapter.liveIds('Grant', grants) : new Set<string>();
    const guests = new Set<string>();
    for (const s of sessions)
      if (isGuestId(s.sub) && !guests.has(s.sub) && (await this.opts.guestStore.find(s.sub)))
        guests.add(s.sub);
    return sessions.map((s) => {
      if (isGuestId(s.sub) ? !guests.has(s.sub) : !present.has(s.sub)) {
        this.#present.delete(s.sub);
        this.#forgetStanding((key) => key.endsWith(` ${s.sub}`));
        return isGuestId(s.sub) ? 'the guest is no longer known' : 'the user no longer exists';
      }
      if (s.grantId && !live.has(s.grantId)) {
        this.#lastActive.delete(`${s.grantId} ${s.sub}`);
        return 'the sign-in was revoked or has expired';
      }
      return undefined;
    });
  }

  /** LDAP users just found: taken as there for `ldapPresenceTtlMs` (stale entries pruned). */
  #sawPresent(ids: Set<string>): void {
    const now = Date.now();
    if (this.#present.size > 10_000)
      for (const [id, until] of this.#present) if (until <= now) this.#present.delete(id);
    for (const id of ids) this.#present.set(id, now + ldapPresenceTtlMs);
  }

  /** Why a well-signed access token no longer stands, for the token checker at every API. */
  async #inactive(claims: JWTPayload): Promise<string | undefined> {
    const sub = claims.sub as string;
    const grantId = typeof claims.grant_id === 'string' ? claims.grant_id : undefined;
    const key = `${grantId ?? ''} ${sub}`;
    try {
      let why: string | undefined;
      // LDAP is a network round trip: a user seen lately is taken as there for a while.
      if (this.opts.store.kind === 'ldap' && (this.#present.get(sub) ?? 0) > Date.now()) {
        if (grantId && !(await this.#Adapter.liveIds('Grant', [grantId])).has(grantId))
          why = 'the sign-in was revoked or has expired';
      } else [why] = await this.#endedReasons([{ sub, grantId }]);
      if (why) this.#lastActive.delete(key);
      else this.#sawActive(key);
      return why;
    } catch (err) {
      // The database is away: a sign-in found standing within `activeGraceMs` still stands, so
      // that signaling reconnects (rtm/connect, TURN) while it is away. Others wait for it.
      if (
        isDatabaseUnavailable(err) &&
        (this.#lastActive.get(key) ?? 0) > Date.now() - activeGraceMs
      )
        return undefined;
      throw err;
    }
  }

  /** A removed user's or revoked sign-in's standing goes: no grace for it if the database goes. */
  #forgetStanding(match: (key: string) => boolean): void {
    for (const key of this.#lastActive.keys()) if (match(key)) this.#lastActive.delete(key);
  }

  /** Remembers when a sign-in was last found standing (bounded: the oldest go first). */
  #sawActive(key: string): void {
    this.#lastActive.delete(key);
    this.#lastActive.set(key, Date.now());
    if (this.#lastActive.size > 100_000) {
      const oldest = this.#lastActive.keys().next().value;
      if (oldest !== undefined) this.#lastActive.delete(oldest);
    }
  }

  #need(): Started {
    if (!this.#started) throw new Error('identity not started');
    return this.#started;
  }

  /** Adds the provider's endpoints and the sign-in pages to the gateway. */
  async register(app: FastifyInstance): Promise<void> {
    await app.register(async (scope) => this.#mount(scope));
    await app.register(async (scope) => this.#pages(scope));
  }

  /** The provider (a Koa app) gets the raw request; its body stream is left unread for it. */
  #mount(scope: FastifyInstance): void {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const started = this.#started;
      if (!started) return sendError(reply, 'unavailable', 'the identity provider is starting');
      if (
        !this.opts.settings.trusted_proxies.length ||
        request.ip === request.socket.remoteAddress
      ) {
        for (const h of Object.keys(request.raw.headers))
          if (h.startsWith('x-forwarded-')) delete request.raw.headers[h];
      }
      // Discovery and the endpoints in it are built from the host the provider sees: only the
      // public origin's (or, on loopback, an alias the web app is registered for), never one a
      // request made up.
      const headers = request.raw.headers;
      if (!started.hosts.has(String(headers.host))) headers.host = started.publicHost;
      if (headers['x-forwarded-host'] !== undefined)
        headers['x-forwarded-host'] = started.publicHost;
      if (headers['x-forwarded-proto'] !== undefined)
        headers['x-forwarded-proto'] = started.publicScheme;
      const route = request.routeOptions.url;
      if (route === identityRoutes.authorization) {
        const refused = this.#authorizeRefusal(request);
        if (refused) {
          if (refused.retryAfter) reply.header('retry-after', String(refused.retryAfter));
          return this.#html(request, reply, refused.status, errorPage('error', refused.why));
        }
      }
      if (request.method === 'GET') {
        const q = request.query as Record<string, unknown>;
        if (route === identityRoutes.authorization && q.client_id === started.webClientId)
          this.#fragments.remember(q.state, q.redirect_uri, started.webRedirects);
        else if (request.url.startsWith(identityRoutes.end_session))
          this.#fragments.remember(q.state, q.post_logout_redirect_uri, started.webLogoutRedirects);
      }
      const raw = reply.raw;
      const setHeader = raw.setHeader.bind(raw);
      raw.setHeader = (name, value) =>
        setHeader(
          name,
          name.toLowerCase() === 'location' && typeof value === 'string'
            ? this.#fragments.rewrite(value)
            : value,
        );
      this.#hijack(request, reply);
      await started.provider.callback()(request.raw, reply.raw);
    };
    // Confab's own access tokens at userinfo, as Konnect takes its own (below); the provider
    // would refuse them, being bound to the APIs.
    scope.route({
      method: ['GET', 'POST'],
      url: identityRoutes.userinfo,
      handler: (request, reply) => this.#userinfo(request, reply),
    });
    for (const path of [
      '/.well-known/openid-configuration',
      identityRoutes.authorization,
      '/signin/v1/identifier/_/*',
      '/konnect/v1/*',
    ])
      scope.all(path, handler);
  }

  /**
   * OpenID Connect userinfo for Confab's access tokens (Kopano Meet's sign-in library loads it,
   * and Konnect answers it for its own tokens): the token checked like at every API (signature,
   * issuer, audience, type, the user and grant still there), then the claims of the OIDC scopes
   * its grant holds, as in the ID token. A grant without `openid` gets 403 `insufficient_scope`.
   * Errors are OAuth's, with RFC 6750's `WWW-Authenticate`.
   */
  async #userinfo(request: FastifyRequest, reply: FastifyReply) {
    const started = this.#started;
    if (!started) return sendError(reply, 'unavailable', 'the identity provider is starting');
    const oauthError = (status: number, error: string, description: string) =>
      reply
        .code(status)
        .header(
          'www-authenticate',
          `Bearer realm="confab", error="${error}", error_description="${description.replaceAll('"', "'")}"`,
        )
        .header('cache-control', 'no-store')
        .header('access-control-allow-origin', '*')
        .header('access-control-expose-headers', 'WWW-Authenticate')
        .send({ error, error_description: description });
    let token: Awaited<ReturnType<TokenChecker['checkHeader']>>;
    try {
      token = await started.checker.checkHeader(request.headers.authorization, undefined);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      if (err.code === 'unauthorized')
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="confab"')
          .header('cache-control', 'no-store')
          .send({ error: 'invalid_request', error_description: err.message });
      return oauthError(401, 'invalid_token', err.message);
    }
    // The OpenID scopes of the authorization the token came from (a grant may hold more, from
    // other authorizations of the same session); tokens from before they were named: the grant's.
    let scope = typeof token.claims.oidc_scope === 'string' ? token.claims.oidc_scope : undefined;
    if (scope === undefined) {
      const grantId = typeof token.claims.grant_id === 'string' ? token.claims.grant_id : undefined;
      const grant = grantId ? await started.provider.Grant.find(grantId) : undefined;
      scope = grant?.getOIDCScope() ?? '';
    }
    const scopes = new Set(scope.split(' ').filter(Boolean));
    if (!scopes.has('openid'))
      return oauthError(
        403,
        'insufficient_scope',
        'the sign-in behind this token has no openid scope',
      );
    const claims = await this.#claimsOf(token.sub);
    if (!claims) return oauthError(401, 'invalid_token', 'the user no longer exists');
    const out: Record<string, unknown> = { sub: token.sub };
    for (const [scope, names] of Object.entries(oidcScopeClaims))
      if (scopes.has(scope))
        for (const name of names) if (claims[name] !== undefined) out[name] = claims[name];
    // Bearer tokens only, no cookies: any origin may ask, as with the APIs' CORS.
    return reply
      .header('cache-control', 'no-store')
      .header('access-control-allow-origin', '*')
      .send(out);
  }

  /** The claims of a subject (a user or a guest), for its ID tokens and userinfo. */
  async #claimsOf(sub: string): Promise<Record<string, unknown> | undefined> {
    if (isGuestId(sub)) {
      const guest = await this.opts.guestStore.find(sub);
      return guest ? { name: guest.name, guest: { path: guest.path } } : undefined;
    }
    const user = await this.opts.store.findById(sub);
    if (!user) return undefined;
    return {
      name: user.displayName,
      preferred_username: user.username,
      ...(user.mail ? { email: user.mail } : {}),
    };
  }

  /**
   * Every authorization request stores an interaction before anyone signed in: they are
   * limited per address (`authorize_rate_limit_per_ip`) and in size (`authorizeLimits`).
   */
  #authorizeRefusal(
    request: FastifyRequest,
  ): { status: number; why: string; retryAfter?: number } | undefined {
    const decision = this.#authorizePerIp.hit(`ip:${request.ip}`);
    if (!decision.allowed)
      return {
        status: 429,
        why: 'too many sign-in requests from this address; try again shortly',
        retryAfter: decision.retryAfter,
      };
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > authorizeLimits.maxRequestObject * 2)
      return { status: 413, why: 'the authorization request is too large' };
    const query = new URLSearchParams(request.url.split('?')[1] ?? '');
    let count = 0;
    for (const [name, value] of query) {
      const max = name === 'request' ? authorizeLimits.maxRequestObject : authorizeLimits.maxValue;
      if (++count > authorizeLimits.maxParameters || name.length > 64 || value.length > max)
        return { status: 400, why: 'the authorization request is too large' };
    }
    return undefined;
  }

  /** Takes over the raw response, keeping the gateway's security headers (with a CSP fit for sign-in). */
  #hijack(request: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    for (const [name, value] of Object.entries(reply.getHeaders()))
      if (value !== undefined) reply.raw.setHeader(name, value as string);
    reply.raw.setHeader(
      'content-security-policy',
      contentSecurityPolicy(this.#originOf(request), { signIn: true }),
    );
    reply.raw.setHeader('referrer-policy', signInReferrerPolicy);
  }

  #originOf(request: FastifyRequest): string {
    return `${request.protocol}://${request.host}`;
  }

  #csrf(uid: string): string {
    return createHmac('sha256', this.opts.cookieSecret).update(`csrf:${uid}`).digest('base64url');
  }

  #csrfOk(request: FastifyRequest, uid: string, token: unknown): boolean {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== this.#originOf(request)) return false;
    const expected = Buffer.from(this.#csrf(uid));
    const given = Buffer.from(typeof token === 'string' ? token : '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #html(request: FastifyRequest, reply: FastifyReply, status: number, body: string) {
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        contentSecurityPolicy(this.#originOf(request), { signIn: true }),
      )
      .header('referrer-policy', signInReferrerPolicy)
      .send(body);
  }

  async #finish(
    request: FastifyRequest,
    reply: FastifyReply,
    result: InteractionResults,
  ): Promise<void> {
    const { provider } = this.#need();
    this.#hijack(request, reply);
    await provider.interactionFinished(request.raw, reply.raw, result, {
      mergeWithLastSubmission: false,
    });
  }

  async #details(request: FastifyRequest, reply: FastifyReply) {
    try {
      return await this.#need().provider.interactionDetails(request.raw, reply.raw);
    } catch (err) {
      if (this.#errors && err instanceof this.#errors.SessionNotFound) {
        await this.#html(request, reply, 400, errorPage('expired'));
        return undefined;
      }
      throw err;
    }
  }

  /**
   * The checks every form post of an interaction passes: the provider is up, the sign-in
   * request is alive and at this step, and the form came from its own page (CSRF token and
   * Origin). Answers the request itself and returns undefined when one fails.
   */
  async #formStep(
    request: FastifyRequest<{ Params: { uid: string }; Body: Record<string, unknown> }>,
    reply: FastifyReply,
    prompt: 'login' | 'consent',
  ) {
    if (!this.#started) {
      await sendError(reply, 'unavailable', 'the identity provider is starting');
      return undefined;
    }
    const details = await this.#details(request, reply);
    if (!details) return undefined;
    if (
      details.uid !== request.params.uid ||
      details.prompt.name !== prompt ||
      !this.#csrfOk(request, details.uid, request.body?.csrf)
    ) {
      await this.#html(
        request,
        reply,
        403,
        errorPage('error', 'this form was not sent from its own page'),
      );
      return undefined;
    }
    return details;
  }

  /** The registered name of the client a sign-in is for, shown on its pages. */
  async #clientName(clientId: unknown): Promise<string | undefined> {
    if (typeof clientId !== 'string') return undefined;
    return (await this.#need().provider.Client.find(clientId))?.clientName;
  }

  /**
   * The guest a sign-in may let in: only from claims of a verified request object of a client
   * allowed guests, with `allow_client_guests` on and a room path guests may join.
   */
  #guestOf(details: Awaited<ReturnType<Provider['interactionDetails']>>) {
    const { guestPolicy, guests } = this.opts;
    const clientId = details.params.client_id as string;
    const trusted = (details as unknown as { trusted?: string[] }).trusted ?? [];
    if (!guestPolicy.clientGuests || !trusted.includes('claims')) return undefined;
    if (!guests.allowsGuests(clientId, this.#need().webClientId)) return undefined;
    const guest = readGuestClaims(details.params.claims);
    if (!guest || !guestPolicy.roomOpen(guest.path)) return undefined;
    return guest;
  }

  /** Grants what the client asked for (the consent step), for trusted clients or on "Allow". */
  async #grant(details: Awaited<ReturnType<Provider['interactionDetails']>>): Promise<string> {
    const { provider } = this.#need();
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ??
        new provider.Grant({
          accountId: details.session?.accountId as string,
          clientId: details.params.client_id as string,
        }))
      : new provider.Grant({
          accountId: details.session?.accountId as string,
          clientId: details.params.client_id as string,
        });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const guest = isGuestId(details.session?.accountId);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      const allowed = guest ? this.opts.guestPolicy.scopesFor(scopes) : scopes;
      if (allowed.length) grant.addResourceScope(indicator, allowed.join(' '));
    }
    return grant.save();
  }

  #pages(scope: FastifyInstance): void {
    void scope.register(formbody, { bodyLimit: 8 * 1024 });
    scope.get('/signin', (_req, reply) => reply.redirect('/meet/', 302));
    scope.get('/signin/', (_req, reply) => reply.redirect('/meet/', 302));
    scope.get(staticCssPath, (_req, reply) =>
      reply
        .type('text/css; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(signInCss),
    );

    scope.get<{ Params: { uid: string } }>(`${interactionPrefix}/:uid`, async (request, reply) => {
      if (!this.#started)
        return sendError(reply, 'unavailable', 'the identity provider is starting');
      const details = await this.#details(request, reply);
      if (!details) return reply;
      const uid = details.uid;
      const clientName = await this.#clientName(details.params.client_id);
      if (details.prompt.name === 'login' && asksForGuest(details.params.scope)) {
        const guest = this.#guestOf(details);
        if (!guest)
          return this.#html(
            request,
            reply,
            403,
            errorPage('error', 'this guest sign-in is not allowed here'),
          );
        await this.opts.guestStore.put(guest);
        this.#log.info({ guest: guest.id, path: guest.path }, 'guest signed in');
        return this.#finish(request, reply, { login: { accountId: guest.id, remember: false } });
      }
      if (details.prompt.name === 'login') {
        return this.#html(
          request,
          reply,
          200,
          signInPage({
            action: `${interactionPrefix}/${uid}/login`,
            csrf: this.#csrf(uid),
            ...(clientName ? { clientName } : {}),
            ...(typeof details.params.login_hint === 'string'
              ? { username: details.params.login_hint }
              : {}),
          }),
        );
      }
      if (details.prompt.name === 'consent') {
        if (this.#need().trustedClients.has(details.params.client_id as string)) {
          return this.#finish(request, reply, { consent: { grantId: await this.#grant(details) } });
        }
        const d = details.prompt.details as {
          missingOIDCScope?: string[];
          missingResourceScopes?: Record<string, string[]>;
        };
        const scopes = [
          ...(d.missingOIDCScope ?? []),
          ...Object.values(d.missingResourceScopes ?? {}).flat(),
        ];
        return this.#html(
          request,
          reply,
          200,
          consentPage({
            action: `${interactionPrefix}/${uid}/consent`,
            csrf: this.#csrf(uid),
            clientName: clientName ?? (details.params.client_id as string),
            scopes: [...new Set(scopes)],
          }),
        );
      }
      return this.#html(
        request,
        reply,
        400,
        errorPage('error', `unsupported prompt ${details.prompt.name}`),
      );
    });

    scope.post<{ Params: { uid: string }; Body: Record<string, unknown> }>(
      `${interactionPrefix}/:uid/login`,
      async (request, reply) => {
        const details = await this.#formStep(request, reply, 'login');
        if (!details) return reply;
        const body = request.body ?? {};
        const username =
          typeof body.username === 'string' ? body.username.trim().slice(0, 256) : '';
        const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
        const clientName = await this.#clientName(details.params.client_id);
        const again = (status: number, error: string) =>
          this.#html(
            request,
            reply,
            status,
            signInPage({
              action: `${interactionPrefix}/${details.uid}/login`,
              csrf: this.#csrf(details.uid),
              username,
              error,
              ...(clientName ? { clientName } : {}),
            }),
          );
        if (!username || !password) return again(400, pageStrings.missingFields);

        const ipDecision = this.#perIp.hit(`ip:${request.ip}`);
        const pairKey = `${username.toLowerCase()}\n${request.ip}`;
        const limited = [ipDecision, this.#perUserIp.check(pairKey)].find((d) => !d.allowed);
        if (limited) {
          this.#log.warn({ ip: request.ip, username }, 'sign-in rate limit reached');
          reply.header('retry-after', String(limited.retryAfter));
          return again(429, pageStrings.tooMany.replace('{seconds}', String(limited.retryAfter)));
        }

        let user: Awaited<ReturnType<UserStore['authenticate']>>;
        try {
          user = await this.opts.store.authenticate(username, password);
        } catch (err) {
          if (err instanceof DirectoryError) return again(503, pageStrings.directoryDown);
          throw err;
        }
        if (!user) {
          this.#perUserIp.fail(pairKey);
          this.#log.info({ ip: request.ip, username }, 'sign-in failed');
          // The form again, with its error: 200 (a 401 would need a WWW-Authenticate challenge).
          return again(200, pageStrings.wrongPassword);
        }
        this.#perUserIp.succeed(pairKey);
        this.#log.info({ sub: user.id, username: user.username }, 'signed in');
        return this.#finish(request, reply, { login: { accountId: user.id } });
      },
    );

    scope.post<{ Params: { uid: string }; Body: Record<string, unknown> }>(
      `${interactionPrefix}/:uid/consent`,
      async (request, reply) => {
        const details = await this.#formStep(request, reply, 'consent');
        if (!details) return reply;
        const body = request.body ?? {};
        if (body.decision !== 'allow') {
          return this.#finish(request, reply, {
            error: 'access_denied',
            error_description: 'the user declined',
          });
        }
        return this.#finish(request, reply, { consent: { grantId: await this.#grant(details) } });
      },
    );
  }
}

/**
 * The built-in web client also takes its redirect URIs with a one-word fragment, as Kopano Meet
 * asks for them (`FragmentRedirects`). oidc-provider's way to match redirect URIs of one's own
 * is to replace these two methods of its `Client`.
 */
function allowFragmentRedirects(provider: Provider, webClientId: string): void {
  type Matcher = (this: { clientId: string }, uri: string) => boolean;
  const proto = provider.Client.prototype as unknown as Record<
    'redirectUriAllowed' | 'postLogoutRedirectUriAllowed',
    Matcher
  >;
  for (const method of ['redirectUriAllowed', 'postLogoutRedirectUriAllowed'] as const) {
    const exact = proto[method];
    proto[method] = function (this: { clientId: string }, uri: string) {
      return (
        exact.call(this, uri) ||
        (this.clientId === webClientId &&
          FragmentRedirects.allows(uri, (base) => exact.call(this, base)))
      );
    };
  }
}

/** The origins the built-in web app is served at: the public one, and its loopback aliases. */
export function clientOrigins(origin: string): string[] {
  const origins = [origin];
  const u = new URL(origin);
  if (isLoopbackHost(u.hostname)) {
    for (const host of ['localhost', '127.0.0.1'])
      origins.push(`${u.protocol}//${host}${u.port ? `:${u.port}` : ''}`);
  }
  return [...new Set(origins)];
}

/** The built-in web app plus the registry's clients, in oidc-provider's terms. */
export function buildClients(
  origin: string,
  webClientId: string,
  registry: RegisteredClient[],
  requestKeys: (clientId: string) => JWK[] | undefined = () => undefined,
): ClientMetadata[] {
  // Clients with keys may send signed request objects (guest logons), ES256 only.
  const keyed = (id: string): Partial<ClientMetadata> => {
    const keys = requestKeys(id);
    return keys ? { jwks: { keys: keys as never }, request_object_signing_alg: 'ES256' } : {};
  };
  const unique = clientOrigins(origin);
  const web: ClientMetadata = {
    client_id: webClientId,
    client_name: 'Confab',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: unique.flatMap((o) => [
      `${o}/meet/`,
      `${o}/meet/oidc-callback`,
      `${o}/meet/oidc-silent-renew`,
    ]),
    post_logout_redirect_uris: unique.map((o) => `${o}/meet/`),
    ...keyed(webClientId),
  };
  const fromRegistry = registry
    .filter((c) => c.id !== webClientId)
    .map(
      (c): ClientMetadata => ({
        client_id: c.id,
        ...(c.name ? { client_name: c.name } : {}),
        ...(c.secret
          ? { client_secret: c.secret, token_endpoint_auth_method: 'client_secret_basic' }
          : { token_endpoint_auth_method: 'none' }),
        application_type: c.application_type,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        ...keyed(c.id),
      }),
    );
  const override = registry.find((c) => c.id === webClientId);
  if (override) {
    web.redirect_uris = [...new Set([...(web.redirect_uris ?? []), ...override.redirect_uris])];
    web.post_logout_redirect_uris = [
      ...new Set([...(web.post_logout_redirect_uris ?? []), ...override.post_logout_redirect_uris]),
    ];
  }
  return [web, ...fromRegistry];
}
