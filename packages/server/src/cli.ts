import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/index.js';
import { FatalError } from './FatalError.js';
import type { RunningServer } from './main.js';

/** Thrown for bad command lines: exit code 2, like configuration errors. */
class UsageError extends Error {
  readonly exitCode = 2;
}

interface Command {
  summary: string;
  usage: string;
  help: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(values: Record<string, string | boolean | undefined>): Promise<void>;
}

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

const commands: Record<string, Command> = {
  serve: {
    summary: 'Run Confab: web app, identity, address book, signaling and focus',
    usage: 'confab serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]',
    help: `Options:
  --config FILE       YAML configuration (default: ./confab.yaml when it exists; env CONFAB_CONFIG)
  --listen HOST:PORT  address to serve on (default localhost:8080; port 0 picks a free port)
  --data-dir DIR      data directory (default ./data)
  -h, --help          show this help

Flags override CONFAB_* environment variables, which override the file.
Every key is described in docs/configuration.md and confab.sample.yaml.
Exit codes: 0 after a clean shutdown, 1 when the server cannot run, 2 for bad configuration.`,
    options: {
      ...helpOption,
      config: { type: 'string' },
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    async run(values) {
      const settings = loadConfig({
        ...(typeof values.config === 'string' ? { configFile: values.config } : {}),
        flags: {
          ...(typeof values.listen === 'string' ? { listen: values.listen } : {}),
          ...(typeof values['data-dir'] === 'string' ? { 'data-dir': values['data-dir'] } : {}),
        },
        env: process.env,
      });
      const { startServer } = await import('./main.js');
      // Signals are handled from before the server listens: one arriving during startup must
      // not meet Node's default (an abrupt kill) just because `ready` was already logged.
      const lifecycle = handleSignals();
      const server = await startServer({ settings });
      lifecycle.started(server);
    },
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

function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Confab: self-hosted video meetings.

Usage: confab <command> [options]

Commands:
${list}

Options:
  -h, --help     show this help (also: confab <command> --help)
  -v, --version  print the version

Docs: README.md and docs/ in the repository.`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic ? commands[topic] : undefined;
    if (topic && !cmd)
      throw new UsageError(`confab: unknown command "${topic}"; see confab --help`);
    process.stdout.write(
      `${cmd ? `Usage: ${cmd.usage}\n\n${cmd.summary}.\n\n${cmd.help}` : mainHelp()}\n`,
    );
    return;
  }
  if (name === '--version' || name === '-v') {
    const { version } = await import('./main.js');
    process.stdout.write(`${version}\n`);
    return;
  }
  const cmd = commands[name];
  if (!cmd) throw new UsageError(`confab: unknown command "${name}"; see confab --help`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: cmd.options ?? {},
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    throw new UsageError(
      `confab ${name}: ${(err as Error).message.split('\n')[0]}; see confab ${name} --help`,
    );
  }
  if (values.help) {
    process.stdout.write(`Usage: ${cmd.usage}\n\n${cmd.summary}.\n\n${cmd.help}\n`);
    return;
  }
  await cmd.run(values);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof FatalError || err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(
    `confab: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
