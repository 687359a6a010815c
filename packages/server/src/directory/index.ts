import type { Settings } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { Sql } from '../storage/index.js';
import { LdapUserStore } from './LdapUserStore.js';
import { SqlUserStore } from './SqlUserStore.js';
import type { UserStore } from './User.js';

export { DirectoryError, type DirectoryErrorCode } from './DirectoryError.js';
export { ensureInitialAdmin, initialAdminFile } from './initialAdmin.js';
export { LdapUserStore } from './LdapUserStore.js';
export { hashPassword, verifyPassword } from './password.js';
export { type NewUser, SqlUserStore } from './SqlUserStore.js';
export type { User, UserQuery, UserStore } from './User.js';

/** The user store the settings ask for. */
export function createUserStore(settings: Settings, db: Sql, log: Logger): UserStore {
  if (settings.directory === 'builtin') return new SqlUserStore(db);
  return new LdapUserStore(
    {
      uri: settings.ldap_uri as string,
      bindDn: settings.ldap_bind_dn,
      bindPassword: settings.ldap_bind_password,
      baseDn: settings.ldap_base_dn as string,
      scope: settings.ldap_scope,
      filter: settings.ldap_filter,
      attributes: {
        uuid: settings.ldap_uuid_attribute,
        login: settings.ldap_login_attribute,
        name: settings.ldap_name_attribute,
        mail: settings.ldap_email_attribute,
        jobTitle: settings.ldap_job_title_attribute,
      },
    },
    log,
  );
}
