import { guestLogonAuthorizationFields, guestLogonPath } from '@confab/protocol';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { importJWK, type JWK, SignJWT } from 'jose';
import { MemoryRateLimiter } from '../common/index.js';
import { sendError } from '../gateway/index.js';
import type { Logger } from '../logging/index.js';
import type { GuestPolicy } from './GuestPolicy.js';
import { guestRequestAlg } from './keys.js';
import { cleanGuestName, guestClaimsParameter, guestScope, newGuestId } from './request.js';

/** How long a guest request object may be used: long enough for one redirect. */
export const guestRequestTtlSeconds = 120;

/** The form fields of a logon: kwm's (Kopano Meet sends them) and the authorization ones. */
const fields = new Set<string>([
  ...['guest', 'path', 'name', 'token', 'client_id', 'iss', 'scope', 'locale', 'user'],
  ...guestLogonAuthorizationFields,
]);

export interface GuestLogonOptions {
  policy: GuestPolicy;
  /** `guest_logon_rate_limit_per_ip`: logons a minute from one address. */
  perIpPerMinute: number;
  /** The private signing key registered for a client (request_object_signing_alg ES256). */
  keyFor(clientId: string): JWK | undefined;
  /** The identity provider's issuer (the request object's audience). */
  issuer(): string;
  logger: Logger;
}

/**
 * kwmserver's guest logon (`enable_guest_api`): checks the room path against
 * `public_guest_access_regexp` and answers a request object, signed with the registered
 * client's key, that the identity provider turns into a guest identity for that path only.
 */
export function registerGuestLogon(app: FastifyInstance, opts: GuestLogonOptions): void {
  const log = opts.logger.child({ module: 'guest-logon' });
  const perIp = new MemoryRateLimiter(opts.perIpPerMinute, 60_000);
  void app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 8 * 1024 });
    scope.post(guestLogonPath, (request, reply) => logon(request, reply));
  });

  async function logon(request: FastifyRequest, reply: FastifyReply) {
    const { policy } = opts;
    if (!policy.logonApi)
      return sendError(reply, 'not_found', 'guest access is not enabled on this server');
    const decision = perIp.hit(`ip:${request.ip}`);
    if (!decision.allowed) {
      reply.header('retry-after', String(decision.retryAfter));
      return sendError(reply, 'rate_limited', 'too many guest logons');
    }
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return sendError(reply, 'bad_request', 'expected form fields');
    const form: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      if (!fields.has(k)) return sendError(reply, 'bad_request', `unknown field ${k}`);
      if (typeof v !== 'string' || v.length > 2048)
        return sendError(reply, 'bad_request', `${k} must be given once, as text`);
      form[k] = v;
    }
    if (form.guest !== '1') return sendError(reply, 'bad_request', 'guest must be 1');
    const path = form.path ?? '';
    if (!path) return sendError(reply, 'bad_request', 'path is missing');
    if (!policy.roomOpen(path))
      return sendError(reply, 'forbidden', 'this room is not open to guests');
    if (form.token)
      return sendError(reply, 'not_implemented', 'guest logons with a token are not supported');
    const clientId = form.client_id ?? '';
    const key = clientId ? opts.keyFor(clientId) : undefined;
    if (!key)
      return sendError(reply, 'bad_request', 'client_id is not registered for guest logons');
    const issuer = opts.issuer();
    if (form.iss && form.iss !== issuer)
      return sendError(reply, 'bad_request', `iss must be ${issuer}`);
    const scopes = new Set((form.scope ?? 'openid profile').split(/\s+/).filter(Boolean));
    scopes.add('openid');
    scopes.add(guestScope);

    const id = newGuestId();
    const name = cleanGuestName(form.name ?? '');
    const params: Record<string, unknown> = {
      client_id: clientId,
      scope: [...scopes].join(' '),
      claims: guestClaimsParameter({ id, name, path }),
    };
    for (const p of guestLogonAuthorizationFields) if (form[p]) params[p] = form[p];
    const now = Math.floor(Date.now() / 1000);
    const request_ = await new SignJWT(params)
      .setProtectedHeader({ alg: guestRequestAlg, kid: key.kid, typ: 'oauth-authz-req+jwt' })
      .setIssuer(clientId)
      .setAudience(issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + guestRequestTtlSeconds)
      .sign(await importJWK(key, guestRequestAlg));
    log.info({ guest: id, path, ip: request.ip }, 'guest logon');
    return reply
      .header('cache-control', 'no-store')
      .send({ ok: true, eqp: { request: request_ }, id, name });
  }
}
