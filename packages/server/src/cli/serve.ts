import type { RunningServer } from '../main.js';
import { type Command, dataOptions, dataOptionsHelp, helpOption } from './Command.js';
import { settingsFrom } from './settings.js';

export const serve: Command = {
  name: 'serve',
  summary: 'Run Confab: web app, identity, address book, signaling and focus',
  usage: 'serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]',
  help: `Options:
${dataOptionsHelp}
  --listen HOST:PORT  address to serve on (default localhost:8080; port 0 picks a free port)
  -h, --help          show this help

Flags override CONFAB_* environment variables, which override the file.
Every key is described in docs/configuration.md and confab.sample.yaml.
Exit codes: 0 after a clean shutdown, 1 when the server cannot run, 2 for bad configuration.`,
  options: { ...helpOption, ...dataOptions, listen: { type: 'string' } },
  async run(values) {
    const settings = settingsFrom(values);
    const { startServer } = await import('../main.js');
    // Signals are handled from before the server listens: one arriving during startup must
    // not meet Node's default (an abrupt kill) just because `ready` was already logged.
    const lifecycle = handleSignals();
    const server = await startServer({ settings });
    lifecycle.started(server);
  },
};

/**
 * SIGTERM/SIGINT drain and exit 0 (a second one exits 1 at once); during startup they exit 0
 * as soon as the server is up. A bug escaping every handler is logged before exit 1.
 */
function handleSignals(): { started(server: RunningServer): void } {
  let server: RunningServer | undefined;
  let pending: NodeJS.Signals | undefined;
  let stopping = false;
  const stop = (s: RunningServer, signal: NodeJS.Signals) => {
    stopping = true;
    s.logger.info({ signal }, 'shutting down');
    s.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`confab: error while shutting down: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || pending) {
      server?.logger.warn('second signal: exiting at once');
      process.exit(1);
    }
    if (server) stop(server, signal);
    else pending = signal;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    started(s) {
      server = s;
      const die = (kind: string) => (err: unknown) => {
        s.logger.fatal({ err }, kind);
        process.exit(1);
      };
      process.on('uncaughtException', die('uncaught exception'));
      process.on('unhandledRejection', die('unhandled promise rejection'));
      if (pending) stop(s, pending);
    },
  };
}
