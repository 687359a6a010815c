import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { type RunningServer, startServer } from '../src/main.js';

export function tempDir(prefix = 'confab-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A small built-PWA stand-in, so gateway tests do not depend on the Vite build. */
export function fixtureWebRoot(): string {
  const root = tempDir('confab-web-');
  mkdirSync(path.join(root, 'assets'));
  mkdirSync(path.join(root, 'icons'));
  writeFileSync(
    path.join(root, 'index.html'),
    '<!doctype html><title>Confab</title><div id="root"></div>',
  );
  writeFileSync(path.join(root, 'service-worker.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(path.join(root, 'manifest.webmanifest'), '{"name":"Confab"}');
  const js = `console.log(${JSON.stringify('x'.repeat(4000))});`;
  writeFileSync(path.join(root, 'assets/app-abc123.js'), js);
  writeFileSync(path.join(root, 'assets/app-abc123.js.gz'), gzipSync(js));
  writeFileSync(path.join(root, 'icons/icon.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  return root;
}

export interface TestServer extends RunningServer {
  logs: Record<string, unknown>[];
  dataDir: string;
  /** The folder holding confab.yaml (and anything a test writes next to it). */
  dir: string;
}

/** Starts a real Confab server on 127.0.0.1 and a free port, configured by a YAML string. */
export async function startTestServer(
  opts: {
    yaml?: string;
    env?: Record<string, string>;
    webRoot?: string;
    /** Reuse a folder (and its data dir), e.g. to restart a server. */
    dir?: string;
    /** Files written next to confab.yaml first. */
    files?: Record<string, string>;
    /** Default 127.0.0.1:0 (a free port). */
    listen?: string;
  } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? tempDir();
  for (const [name, text] of Object.entries(opts.files ?? {}))
    writeFileSync(path.join(dir, name), text);
  const file = path.join(dir, 'confab.yaml');
  writeFileSync(file, opts.yaml ?? '');
  const settings = loadConfig({
    cwd: dir,
    configFile: file,
    // No bridge processes unless a test asks for them (they cost a process each).
    env: { CONFAB_BRIDGE_WORKERS: '0', ...opts.env },
    flags: { listen: opts.listen ?? '127.0.0.1:0', 'data-dir': path.join(dir, 'data') },
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const server = await startServer({ settings, logger, webRoot: opts.webRoot ?? fixtureWebRoot() });
  return Object.assign(server, { logs, dataDir: settings.data_dir, dir });
}
