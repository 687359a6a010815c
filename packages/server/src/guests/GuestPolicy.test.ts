import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestPolicy } from './GuestPolicy.js';

const policy = (rooms = '^group/public/.*') =>
  new GuestPolicy({
    rooms,
    scopes: ['kopano/kwm'],
    logonApi: true,
    clientGuests: true,
    guestOnlyRooms: false,
  });

test('guests may join the rooms public_guest_access_regexp matches, and no others', () => {
  const p = policy();
  assert.equal(p.roomOpen('group/public/standup'), true);
  assert.equal(p.roomOpen('group/private/standup'), false);
  assert.equal(p.roomOpen('x/group/public/standup'), false, 'the default is anchored');
  const wider = policy('^group/(public|open)/');
  assert.equal(wider.roomOpen('group/open/a'), true);
  // The same answer every time: no `g` flag state carried between checks.
  assert.deepEqual(
    [1, 2, 3].map(() => wider.roomOpen('group/public/a')),
    [true, true, true],
  );
});

test('a guest is granted only the scopes the policy names: signaling, never the address book', () => {
  assert.deepEqual(policy().scopesFor(['kopano/kwm', 'kopano/gc']), ['kopano/kwm']);
  assert.deepEqual(policy().scopesFor(['kopano/gc']), []);
});
