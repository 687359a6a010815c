import { loadConfig, type Settings } from '../config/index.js';
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
