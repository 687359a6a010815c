import { type ErrorCode, errorBody, errorCatalogue } from '@confab/protocol';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from '../storage/index.js';

/** Answers with the catalogue's status for `code`, or `status` where a protocol fixes another. */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string, status?: number) {
  return reply
    .code(status ?? errorCatalogue[code].status)
    .type('application/json')
    .send(errorBody(code, message));
}

/** What clients are told while the database is away (the reason is logged). */
export const databaseAwayMessage = 'the database cannot be reached just now; try again shortly';

/** Maps fastify's own errors (bad JSON, too large, wrong content type) onto stable codes. */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'bad_request';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return status >= 400 && status < 500 ? 'bad_request' : 'server_error';
  }
}

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isDatabaseUnavailable(err)) {
      // The reason (host, port, error) goes to the log, not to the client.
      request.log.warn({ reason: err.message }, 'request needs the database, which is away');
      reply.header('retry-after', String(err.retryAfterSeconds));
      if (request.headers.accept?.includes('text/html') && request.method !== 'OPTIONS')
        return reply
          .code(503)
          .type('text/html; charset=utf-8')
          .send(
            `<!doctype html><meta charset="utf-8"><title>Try again shortly</title><p>Confab cannot reach its database just now. Try again in a moment.</p>`,
          );
      return sendError(reply, 'database_unavailable', databaseAwayMessage);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return sendError(reply, 'server_error', 'internal error');
    }
    return sendError(reply, codeForStatus(status), err.message);
  });
}
