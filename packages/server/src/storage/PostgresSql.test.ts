import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionUrl, isConnectionError, numbered } from './PostgresSql.js';

const sys = (code: string, syscall: string) => Object.assign(new Error(code), { code, syscall });
const server = (code: string) => Object.assign(new Error('x'), { code, severity: 'ERROR' });

test('the database is away (wait, 503) for network errors and the server going down; a setting or a statement is not', () => {
  assert.equal(isConnectionError(sys('ECONNREFUSED', 'connect')), true);
  assert.equal(isConnectionError(sys('ENOTFOUND', 'getaddrinfo')), true, 'a container restarting');
  assert.equal(isConnectionError(sys('ENOENT', 'connect')), true, 'a local socket gone');
  assert.equal(isConnectionError(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isConnectionError(server('57P01')), true, 'admin shutdown');
  assert.equal(isConnectionError(server('08006')), true);
  assert.equal(isConnectionError(sys('ENOENT', 'open')), false, 'a missing sslrootcert');
  assert.equal(isConnectionError(server('28P01')), false, 'a wrong password');
  assert.equal(isConnectionError(server('23505')), false, 'a duplicate key');
});

test('placeholders are numbered; the password goes into the URL, percent-encoded', () => {
  assert.equal(numbered('a = ? AND b IN (?, ?)'), 'a = $1 AND b IN ($2, $3)');
  assert.equal(
    connectionUrl('postgres://confab@db:5432/confab?sslmode=require', 'p@ss:w/rd'),
    'postgres://confab:p%40ss%3Aw%2Frd@db:5432/confab?sslmode=require',
  );
  assert.equal(
    connectionUrl('postgres://confab@db/confab', undefined),
    'postgres://confab@db/confab',
  );
});
