/**
 * The catalogue of stable error codes Confab speaks on the wire. Every HTTP error body and RTM
 * error frame carries one of these codes; `rtm: true` marks those the signaling socket may
 * carry: in an error frame (a `Refusal`), or as `{code}` in a group channel's data
 * (`media_failed`, `unavailable`). `docs/errors.md` lists the same table and a test
 * fails when the two disagree.
 */
export const errorCatalogue = {
  bad_request: {
    status: 400,
    description: 'The request is malformed: bad JSON, wrong types, unknown or missing fields.',
  },
  bad_message: {
    status: 400,
    rtm: true,
    description: 'An RTM message could not be parsed or failed validation (kwm code).',
  },
  unauthorized: {
    status: 401,
    description: 'No credentials were given; send `Authorization: Bearer <access token>`.',
  },
  invalid_token: {
    status: 401,
    description: 'The access token is malformed, forged, expired, or not meant for this server.',
  },
  insufficient_scope: {
    status: 403,
    description: 'The access token lacks the scope this API requires.',
  },
  forbidden: {
    status: 403,
    description: 'The caller is known but may not use this resource.',
  },
  access_restricted: {
    status: 403,
    rtm: true,
    description: 'The caller may not act on this channel or group (kwm code).',
  },
  create_restricted: {
    status: 403,
    rtm: true,
    description: 'The caller may not create this channel or conference (kwm code).',
  },
  conference_full: {
    status: 403,
    rtm: true,
    description:
      'The group conference has as many participants as allowed (`max_participants`); try again later.',
  },
  not_found: {
    status: 404,
    description: 'There is nothing at this path.',
  },
  method_not_allowed: {
    status: 405,
    description: 'The path exists but not for this HTTP method.',
  },
  payload_too_large: {
    status: 413,
    rtm: true,
    description:
      'The request body or message is larger than the configured limit (on the RTM socket: a chat message longer than 4,096 characters).',
  },
  unsupported_media_type: {
    status: 415,
    description: 'The request body has a content type this endpoint does not take.',
  },
  rate_limited: {
    status: 429,
    rtm: true,
    description: 'Too many requests; retry after the time given in `Retry-After`.',
  },
  too_many_conferences: {
    status: 429,
    rtm: true,
    description:
      'A connection or user is in as many group conferences as allowed, or joins too fast (`max_conferences_per_connection`, `max_conferences_per_user`, `group_join_rate`).',
  },
  too_many_connections: {
    status: 429,
    description:
      'The user holds as many signaling connections as allowed (`rtm_max_connections_per_user`).',
  },
  media_failed: {
    status: 502,
    rtm: true,
    description:
      'The media bridge failed one participant’s session (it broke a limit of the control protocol); the session was released and a new one follows where possible (told in the group channel).',
  },
  not_implemented: {
    status: 501,
    description:
      'A form of the request this server does not support (e.g. a guest logon with a token).',
  },
  server_error: {
    status: 500,
    rtm: true,
    description: 'An unexpected failure on the server; details are in the server log.',
  },
  database_unavailable: {
    status: 503,
    description:
      'The database cannot be reached just now: sign-in, tokens and the address book answer this, with Retry-After, until it is back. Calls and meetings in progress carry on.',
  },
  unavailable: {
    status: 503,
    rtm: true,
    description: 'The server is shutting down or a dependency is not available.',
  },
} as const satisfies Record<string, { status: number; description: string; rtm?: true }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];

/** The codes of RTM error frames: kwm's own, and Confab's additions. */
export type RtmErrorCode = {
  [C in ErrorCode]: (typeof errorCatalogue)[C] extends { rtm: true } ? C : never;
}[ErrorCode];

export const rtmErrorCodes = errorCodes.filter(
  (c): c is RtmErrorCode => 'rtm' in errorCatalogue[c],
) as [RtmErrorCode, ...RtmErrorCode[]];

/**
 * The body of every HTTP error answer (Microsoft Graph's shape, as the address book's clients
 * expect). RTM error frames carry the same codes as kwm does: `{code, msg}`.
 */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
