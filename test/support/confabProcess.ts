import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `confab` command as npm links it (packages/server/bin/confab.js, running the build). */
export const confabBin = fileURLToPath(
  new URL('../../packages/server/bin/confab.js', import.meta.url),
);

export interface LogLine {
  level: number;
  msg: string;
  module?: string;
  [key: string]: unknown;
}

export interface ConfabProcess {
  /** The public origin the server reports. */
  url: string;
  /** Where it listens on loopback: what tests talk to. */
  localUrl: string;
  dataDir: string;
  dir: string;
  proc: ChildProcess;
  logs: LogLine[];
  stderr: () => string;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The environment without the caller's CONFAB_* variables, which would change the config. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CONFAB_')) env[k] = v;
  // No bridge processes unless a test asks for them (CONFAB_BRIDGE_WORKERS in `extra`).
  return { ...env, CONFAB_LOG_FORMAT: 'json', CONFAB_BRIDGE_WORKERS: '0', ...extra };
}

export interface StartOptions {
  /** YAML for a config file passed with --config. */
  config?: string;
  /** Files written next to the config file first (relative paths in it resolve there). */
  files?: Record<string, string>;
  env?: Record<string, string>;
  /** Extra arguments after `serve`. */
  args?: string[];
  /** Run the server on this CPU only (taskset), for benchmarks. */
  pinCpu?: number;
  timeoutMs?: number;
  /** Reuse this folder and its data dir (a restart of an earlier server). */
  dir?: string;
  /** Default 127.0.0.1:0 (a free port); a restart passes the earlier server's address. */
  listen?: string;
}

/**
 * Starts `confab serve` on 127.0.0.1 and a free port with a fresh data dir, and resolves when it
 * logs that it is ready.
 */
export async function startConfab(opts: StartOptions = {}): Promise<ConfabProcess> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'confab-proc-'));
  const dataDir = path.join(dir, 'data');
  const listen = opts.listen ?? '127.0.0.1:0';
  const args = [confabBin, 'serve', '--listen', listen, '--data-dir', dataDir];
  for (const [name, text] of Object.entries(opts.files ?? {}))
    writeFileSync(path.join(dir, name), text);
  if (opts.config !== undefined) {
    writeFileSync(path.join(dir, 'confab.yaml'), opts.config);
    args.push('--config', path.join(dir, 'confab.yaml'));
  }
  args.push(...(opts.args ?? []));
  const [cmd, argv] =
    opts.pinCpu === undefined
      ? [process.execPath, args]
      : ['taskset', ['-c', String(opts.pinCpu), process.execPath, ...args]];
  const proc = spawn(cmd, argv, {
    cwd: dir,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const ready = await new Promise<LogLine>((resolve, reject) => {
    // A server left running after the timeout would keep the test file's process alive, and
    // the whole run waiting for it: stop it. (30 s: a start takes seconds, more on a busy
    // machine shared with other test runs.)
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`confab did not get ready in time; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (!line.trim()) continue;
        let entry: LogLine;
        try {
          entry = JSON.parse(line) as LogLine;
        } catch {
          continue;
        }
        logs.push(entry);
        if (entry.msg === 'ready') {
          clearTimeout(timer);
          resolve(entry);
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`confab exited with ${code} before it was ready; stderr: ${stderr}`));
    });
  });

  const port = Number(String(ready.listen).split(':').pop());
  return {
    url: String(ready.url),
    localUrl: `http://127.0.0.1:${port}`,
    dataDir,
    dir,
    proc,
    logs,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs a confab command to its end. */
export function runConfab(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [confabBin, ...args], {
      cwd: opts.cwd ?? mkdtempSync(path.join(tmpdir(), 'confab-cwd-')),
      env: cleanEnv(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) proc.stdin?.end(opts.input);
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(`confab ${args.join(' ')} did not finish; stdout: ${stdout} stderr: ${stderr}`),
      );
    }, opts.timeoutMs ?? 15000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The process ids of the bridge processes a `confab serve` started (its `confab bridge` children). */
export function bridgePids(server: ConfabProcess): number[] {
  const pid = server.proc.pid;
  if (!pid) return [];
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(pid), '-f', ' bridge '], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out.split('\n').filter(Boolean).map(Number);
}
