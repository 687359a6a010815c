import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { FatalError } from './FatalError.js';

/** A path of the data dir whose group and other permissions were removed. */
export interface ModeChange {
  path: string;
  from: number;
  to: number;
}

/** A path whose permissions are too loose and could not be tightened (another owner, say). */
export interface ModeFailure {
  path: string;
  mode: number;
  error: string;
}

export interface PreparedDataDir {
  created: boolean;
  tightened: ModeChange[];
  failed: ModeFailure[];
}

/**
 * Creates the data directory (mode 0700) if needed, proves it writable by writing and removing
 * a file, so that a bad `data_dir` fails at start rather than at the first sign-in, and takes
 * group and other permissions off everything in it (`tightenDataDir`).
 */
export function prepareDataDir(dir: string): PreparedDataDir {
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
  return { created, ...tightenDataDir(dir) };
}

/**
 * Removes group and other permissions from the data dir and everything below it (and execute
 * from files): directories end up 0700 and files 0600, the modes Confab creates them with, so a
 * data dir made by hand, restored from a backup or written by an older Confab (SQLite made its
 * files 0644) keeps nothing readable by other users. Bits are only ever taken away: a 0400 file
 * stays 0400.
 *
 * Symlinks are not followed (the data dir itself may be one: it is what `data_dir` names). The
 * directory is tightened before its entries, so nobody else can swap an entry for a symlink
 * between the lstat and the chmod. A chmod that fails (a file of another user) is reported, never
 * thrown: the server still starts.
 */
export function tightenDataDir(dir: string): { tightened: ModeChange[]; failed: ModeFailure[] } {
  const tightened: ModeChange[] = [];
  const failed: ModeFailure[] = [];
  const visit = (p: string, mode: number, isDir: boolean) => {
    const from = mode & 0o777;
    const to = from & (isDir ? 0o700 : 0o600);
    if (from !== to) {
      try {
        chmodSync(p, to);
        tightened.push({ path: p, from, to });
      } catch (err) {
        failed.push({ path: p, mode: from, error: describeErrno(err as NodeJS.ErrnoException) });
      }
    }
    if (!isDir) return;
    let names: string[];
    try {
      names = readdirSync(p);
    } catch (err) {
      failed.push({ path: p, mode: from, error: describeErrno(err as NodeJS.ErrnoException) });
      return;
    }
    for (const name of names) {
      const child = path.join(p, name);
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(child);
      } catch {
        continue; // gone since readdir
      }
      if (st.isSymbolicLink()) continue;
      visit(child, st.mode, st.isDirectory());
    }
  };
  visit(dir, statSync(dir).mode, true);
  return { tightened, failed };
}

/** `0644`, as chmod and ls -l readers know modes. */
export function octalMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** One line per path, for the command line's stderr (the server logs them instead). */
export function describeModeChanges(prepared: PreparedDataDir): string[] {
  return [
    ...prepared.tightened.map(
      (c) =>
        `confab: ${c.path} was ${octalMode(c.from)}: removed group and other access (now ${octalMode(c.to)})`,
    ),
    ...prepared.failed.map(
      (f) =>
        `confab: ${f.path} is ${octalMode(f.mode)} and could not be tightened (${f.error}); make it 0600 (0700 for a directory)`,
    ),
  ];
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
