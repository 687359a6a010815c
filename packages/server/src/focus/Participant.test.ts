import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Participant } from './Participant.js';

const offer = { type: 'offer', sdp: 'v=0 old bridge', streams: {}, session: 's1' } as const;

test('a new session on the same bridge voids the last offer and names a new endpoint', () => {
  const p = new Participant('u1', 'Alice', 'conn1', false, 0);
  const before = p.endpoint;
  p.offer = offer;
  p.newSession();
  assert.notEqual(p.endpoint, before);
  assert.equal(p.offer, undefined);
});

test('moving to another bridge voids the lost bridge offer too: a member back is not sent it', () => {
  const p = new Participant('u1', 'Alice', 'conn1', false, 0);
  const before = p.endpoint;
  p.offer = offer;
  p.moved();
  assert.notEqual(p.endpoint, before);
  assert.equal(p.offer, undefined);
});
