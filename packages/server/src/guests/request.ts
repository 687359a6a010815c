import { randomBytes, randomInt } from 'node:crypto';

/** The scope that lets the identity provider take a guest request object (Konnect's). */
export const guestScope = 'konnect/guestok';
/** Does an authorization request's `scope` (space-separated) ask for a guest? */
export const asksForGuest = (scope: unknown) =>
  typeof scope === 'string' && scope.split(' ').includes(guestScope);
/** Where a guest request object carries the room path, as kwmserver writes it. */
export const guestPassthruKey = 'kopano/kwm/guest';

export const guestIdPattern = /^guest-[A-Za-z0-9_-]{24}$/;
/** Is this subject a guest (rather than a registered user)? */
export const isGuestId = (id: string | undefined): boolean => !!id && guestIdPattern.test(id);
export const newGuestId = () => `guest-${randomBytes(18).toString('base64url')}`;

export const guestNameMaxLength = 64;

const adjectives = [
  'Amber',
  'Brave',
  'Calm',
  'Clever',
  'Curious',
  'Gentle',
  'Happy',
  'Jolly',
  'Kind',
  'Lively',
  'Lucky',
  'Mellow',
  'Nimble',
  'Polite',
  'Quiet',
  'Rapid',
  'Sunny',
  'Swift',
  'Tidy',
  'Witty',
];
const nouns = [
  'Badger',
  'Falcon',
  'Fox',
  'Heron',
  'Koala',
  'Lynx',
  'Marten',
  'Otter',
  'Owl',
  'Panda',
  'Pelican',
  'Puffin',
  'Raven',
  'Robin',
  'Salmon',
  'Seal',
  'Sparrow',
  'Tiger',
  'Walrus',
  'Wren',
];

/** A random "adjective noun" name for a guest who gave none. */
export function randomGuestName(): string {
  return `${adjectives[randomInt(adjectives.length)]} ${nouns[randomInt(nouns.length)]}`;
}

/**
 * A guest's display name: markup and control characters removed, spaces collapsed, at most
 * 64 characters; a random one when nothing is left.
 */
export function cleanGuestName(raw: string): string {
  const text = raw
    .replace(/<[^>]*>?/g, ' ')
    .replace(/[<>"'`&\p{Cc}\p{Cf}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = [...text].slice(0, guestNameMaxLength).join('').trim();
  return cut || randomGuestName();
}

export interface GuestClaims {
  id: string;
  name: string;
  path: string;
}

/** The `claims` member of a guest request object, in kwmserver's shape. */
export function guestClaimsParameter(g: GuestClaims): Record<string, unknown> {
  return {
    id_token: { guest: { essential: true, value: g.id }, name: { value: g.name } },
    passthru: { [guestPassthruKey]: { type: '1', path: g.path } },
  };
}

/** Reads the guest back from a `claims` parameter (JSON text), or undefined if it is none. */
export function readGuestClaims(claims: unknown): GuestClaims | undefined {
  let parsed: unknown;
  try {
    parsed = typeof claims === 'string' ? JSON.parse(claims) : claims;
  } catch {
    return undefined;
  }
  const c = parsed as {
    id_token?: { guest?: { value?: unknown }; name?: { value?: unknown } };
    passthru?: Record<string, { path?: unknown } | undefined>;
  } | null;
  const id = c?.id_token?.guest?.value;
  const name = c?.id_token?.name?.value;
  const path = c?.passthru?.[guestPassthruKey]?.path;
  if (typeof id !== 'string' || !guestIdPattern.test(id)) return undefined;
  if (typeof path !== 'string' || path === '') return undefined;
  return { id, name: cleanGuestName(typeof name === 'string' ? name : ''), path };
}
