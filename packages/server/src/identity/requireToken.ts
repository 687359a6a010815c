import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../gateway/index.js';
import { type AccessToken, type TokenChecker, TokenError } from './TokenChecker.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's checked access token, set by `requireToken`. */
    accessToken?: AccessToken;
  }
}

/**
 * A preHandler that lets a request through only with a valid access token carrying `scope`,
 * answering 401/403 with RFC 6750's WWW-Authenticate otherwise.
 */
export function requireToken(checker: () => TokenChecker, scope: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      request.accessToken = await checker().checkHeader(request.headers.authorization, scope);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      const challenge =
        err.code === 'unauthorized'
          ? 'Bearer realm="confab"'
          : `Bearer realm="confab", error="${err.code}", error_description="${err.message.replaceAll('"', "'")}"${err.code === 'insufficient_scope' ? `, scope="${scope}"` : ''}`;
      reply.header('www-authenticate', challenge);
      return sendError(reply, err.code, err.message);
    }
  };
}
