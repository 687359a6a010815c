import {
  type AddressBookField,
  type AddressBookUser,
  addressBookPrefix,
  addressBookQuerySchema,
} from '@confab/protocol';
import type { FastifyInstance } from 'fastify';
import { DirectoryError, type User, type UserStore } from '../directory/index.js';
import { sendError } from '../gateway/index.js';
import { requireToken, type TokenChecker } from '../identity/index.js';

export interface AddressBookOptions {
  store: UserStore;
  tokenChecker: () => TokenChecker;
}

/** The scope an access token needs for the address book. */
export const addressBookScope = 'kopano/gc';

function toEntry(user: User): AddressBookUser {
  return {
    id: user.id,
    displayName: user.displayName,
    mail: user.mail,
    userPrincipalName: user.username,
    jobTitle: user.jobTitle,
  };
}

function select(
  entry: AddressBookUser,
  fields: AddressBookField[] | undefined,
): Partial<AddressBookUser> {
  if (!fields) return entry;
  const out: Partial<AddressBookUser> = { id: entry.id };
  for (const f of fields) out[f] = entry[f];
  return out;
}

/** kapi/grapi's user directory API: search, one user, and the caller. Bearer token with `kopano/gc`. */
export function registerAddressBook(app: FastifyInstance, opts: AddressBookOptions): void {
  const auth = requireToken(opts.tokenChecker, addressBookScope);
  const unavailable = (err: unknown) => {
    if (err instanceof DirectoryError) return err;
    throw err;
  };

  app.get(`${addressBookPrefix}/users`, { preHandler: auth }, async (request, reply) => {
    const parsed = addressBookQuerySchema.safeParse(request.query ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where =
        issue?.code === 'unrecognized_keys'
          ? `unknown parameter ${issue.keys.join(', ')}`
          : `${issue?.path.join('.')}: ${issue?.message}`;
      return sendError(reply, 'bad_request', where);
    }
    const q = parsed.data;
    try {
      const users = await opts.store.search({
        ...(q.$search ? { search: q.$search } : {}),
        top: q.$top,
        skip: q.$skip,
      });
      return { value: users.map((u) => select(toEntry(u), q.$select)) };
    } catch (err) {
      return sendError(reply, 'unavailable', unavailable(err).message);
    }
  });

  app.get<{ Params: { id: string } }>(
    `${addressBookPrefix}/users/:id`,
    { preHandler: auth },
    async (request, reply) => {
      try {
        const user = await opts.store.findById(request.params.id);
        return user ? toEntry(user) : sendError(reply, 'not_found', 'no such user');
      } catch (err) {
        return sendError(reply, 'unavailable', unavailable(err).message);
      }
    },
  );

  app.get(`${addressBookPrefix}/me`, { preHandler: auth }, async (request, reply) => {
    try {
      const user = await opts.store.findById(request.accessToken?.sub as string);
      return user
        ? toEntry(user)
        : sendError(reply, 'not_found', 'the signed-in user is not in the directory');
    } catch (err) {
      return sendError(reply, 'unavailable', unavailable(err).message);
    }
  });
}
