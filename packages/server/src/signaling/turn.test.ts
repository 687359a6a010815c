import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { turnCredentials } from './turn.js';

test('credentials follow kwmserver: <now+3600>:<user>, base64 HMAC-SHA1 of it', () => {
  const c = turnCredentials('s3cret', ['turn:127.0.0.1:3478'], 'user-1', undefined, 1_800_000_000);
  assert.equal(c.username, '1800003600:user-1');
  assert.equal(
    c.password,
    createHmac('sha1', 's3cret').update('1800003600:user-1').digest('base64'),
  );
  assert.equal(c.ttl, 3600);
  assert.deepEqual(c.uris, ['turn:127.0.0.1:3478']);
});

test('a shorter turn_ttl shortens the expiry in the username and the ttl', () => {
  const c = turnCredentials('s3cret', ['turn:127.0.0.1:3478'], 'user-1', 60, 1_800_000_000);
  assert.equal(c.username, '1800000060:user-1');
  assert.equal(c.ttl, 60);
});
