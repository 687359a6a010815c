import { loadConfig, type Settings } from '../config/index.js';
import { describeModeChanges, prepareDataDir } from '../dataDir.js';
import type { Storage } from '../storage/index.js';
import type { Values } from './Command.js';

/** Settings from the file, CONFAB_* variables and the flags a command was given. */
export function settingsFrom(values: Values): Settings {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const configFile = str('config');
  const listen = str('listen');
  const dataDir = str('data-dir');
  return loadConfig({
    ...(configFile ? { configFile } : {}),
    flags: { ...(listen ? { listen } : {}), ...(dataDir ? { 'data-dir': dataDir } : {}) },
    env: process.env,
  });
}

/**
 * Runs `fn` with the settings' database (SQLite in the data dir, or `database_url`) and its
 * secret store, as `confab serve` opens them, and closes it afterwards. Warnings (a database
 * that does not answer yet, a data dir made private) go to standard error.
 */
export async function withDatabase<T>(
  settings: Settings,
  fn: (storage: Storage) => Promise<T>,
): Promise<T> {
  for (const line of describeModeChanges(prepareDataDir(settings.data_dir)))
    process.stderr.write(`${line}\n`);
  // Loaded here, not with the command line: other commands (a bridge) need no database.
  const [{ openStorage }, { createLogger }] = await Promise.all([
    import('../storage/index.js'),
    import('../logging/index.js'),
  ]);
  const log = await createLogger({
    level: 'warn',
    format: settings.log_format,
    destination: process.stderr,
  });
  const storage = await openStorage(settings, log);
  try {
    return await fn(storage);
  } finally {
    await storage.db.close();
  }
}
