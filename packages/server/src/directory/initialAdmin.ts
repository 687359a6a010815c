import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging/index.js';
import { DirectoryError } from './DirectoryError.js';
import type { SqlUserStore } from './SqlUserStore.js';

export const initialAdminFile = (dataDir: string) => path.join(dataDir, 'initial-admin-password');

/**
 * On first start with an empty built-in directory, creates `admin` with a random password and
 * writes the password to `data/initial-admin-password` (mode 0600). The log names the file,
 * never the password.
 */
export async function ensureInitialAdmin(
  store: SqlUserStore,
  dataDir: string,
  log: Logger,
): Promise<void> {
  if ((await store.count()) > 0) return;
  const password = randomBytes(18).toString('base64url');
  const file = initialAdminFile(dataDir);
  // The file first: a start cut short after the user was added still leaves its password.
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  try {
    await store.add({ username: 'admin', displayName: 'Administrator', password });
  } catch (err) {
    if (!(err instanceof DirectoryError && err.code === 'user_exists')) throw err;
    // Another node on the same database made it first: its data dir has the password.
    rmSync(file, { force: true });
    return;
  }
  log.info(
    { username: 'admin', passwordFile: file },
    'created the first user; its password is in the file named here',
  );
}
