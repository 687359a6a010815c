import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging/index.js';
import type { SqliteUserStore } from './SqliteUserStore.js';

export const initialAdminFile = (dataDir: string) => path.join(dataDir, 'initial-admin-password');

/**
 * On first start with an empty built-in directory, creates `admin` with a random password and
 * writes the password to `data/initial-admin-password` (mode 0600). The log names the file,
 * never the password.
 */
export async function ensureInitialAdmin(
  store: SqliteUserStore,
  dataDir: string,
  log: Logger,
): Promise<void> {
  if (store.count() > 0) return;
  const password = randomBytes(18).toString('base64url');
  const file = initialAdminFile(dataDir);
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  await store.add({ username: 'admin', displayName: 'Administrator', password });
  log.info(
    { username: 'admin', passwordFile: file },
    'created the first user; its password is in the file named here',
  );
}
