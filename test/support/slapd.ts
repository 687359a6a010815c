import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'ldapts';
import { freePort } from './net.js';

export const slapdBinary = existsSync('/usr/sbin/slapd') ? '/usr/sbin/slapd' : 'slapd';

export interface LdapUser {
  uid: string;
  cn: string;
  mail?: string;
  title?: string;
  password: string;
}

export interface Slapd {
  url: string;
  baseDn: string;
  peopleDn: string;
  adminDn: string;
  adminPassword: string;
  /** entryUUID of each user, by uid. */
  uuids: Map<string, string>;
  stop(): Promise<void>;
}

/** RFC 2307 `{SSHA}`, as directories usually store passwords. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/**
 * A throwaway OpenLDAP server on 127.0.0.1 with its own config and database in a temp dir,
 * holding `ou=people` with the given users (inetOrgPerson, uid login).
 */
export async function startSlapd(users: LdapUser[]): Promise<Slapd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-slapd-'));
  mkdirSync(path.join(dir, 'db'));
  const baseDn = 'dc=example,dc=com';
  const adminDn = `cn=admin,${baseDn}`;
  const adminPassword = randomBytes(9).toString('base64url');
  writeFileSync(
    path.join(dir, 'slapd.conf'),
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${dir}/slapd.pid`,
      'database mdb',
      'maxsize 10485760',
      `suffix "${baseDn}"`,
      `rootdn "${adminDn}"`,
      `rootpw ${adminPassword}`,
      `directory ${dir}/db`,
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(
    slapdBinary,
    ['-h', `${url}/`, '-f', path.join(dir, 'slapd.conf'), '-d', '0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));

  const admin = new Client({ url, timeout: 2000, connectTimeout: 2000 });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await admin.bind(adminDn, adminPassword);
      break;
    } catch (err) {
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`slapd did not start: ${String(err)}; ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const peopleDn = `ou=people,${baseDn}`;
  await admin.add(baseDn, {
    objectClass: ['top', 'dcObject', 'organization'],
    dc: 'example',
    o: 'Example',
  });
  await admin.add(peopleDn, { objectClass: ['top', 'organizationalUnit'], ou: 'people' });
  const uuids = new Map<string, string>();
  for (const u of users) {
    const dn = `uid=${u.uid},${peopleDn}`;
    const sn = u.cn.split(' ').at(-1) as string;
    await admin.add(dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      uid: u.uid,
      cn: u.cn,
      sn,
      ...(u.mail ? { mail: u.mail } : {}),
      ...(u.title ? { title: u.title } : {}),
      userPassword: ssha(u.password),
    });
    const { searchEntries } = await admin.search(dn, { scope: 'base', attributes: ['entryUUID'] });
    uuids.set(u.uid, String(searchEntries[0]?.entryUUID));
  }
  await admin.unbind();

  return {
    url,
    baseDn,
    peopleDn,
    adminDn,
    adminPassword,
    uuids,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
