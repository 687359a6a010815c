import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutUserinfo } from './LdapUserStore.js';

test('an LDAP URI is logged as scheme, host and port only: no userinfo, however it is written', () => {
  assert.equal(
    withoutUserinfo('ldap://cn=admin:s3cret@ldap.example.com:389/'),
    'ldap://ldap.example.com:389',
  );
  // The last @ ends the userinfo: a password with an @ in it leaves nothing behind.
  assert.equal(withoutUserinfo('ldaps://u:p@ss@ldap.example.com'), 'ldaps://ldap.example.com');
  // A / in a password makes the URI unparseable: then nothing of it is shown.
  assert.equal(
    withoutUserinfo('ldap://u:pa/ss@ldap.example.com'),
    '(an LDAP URI that does not parse)',
  );
  assert.equal(withoutUserinfo('ldap://[::1]:3890'), 'ldap://[::1]:3890');
});
