import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FatalError } from './FatalError.js';

/**
 * Creates the data directory (mode 0700) if needed and proves it writable by writing and removing
 * a file, so that a bad `data_dir` fails at start rather than at the first sign-in.
 */
export function prepareDataDir(dir: string): { created: boolean } {
  let created = false;
  try {
    created = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
    if (!statSync(dir).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    const probe = path.join(dir, `.write-test-${randomBytes(4).toString('hex')}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FatalError(`confab: data directory ${dir} is not usable: ${describeErrno(e)}`);
  }
  return { created };
}

export function describeErrno(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'ENOENT':
      return 'no such file or directory';
    case 'EEXIST':
      return 'a file is in the way';
    default:
      return e.code ?? e.message;
  }
}
