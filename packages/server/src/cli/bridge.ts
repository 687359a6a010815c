import { hostname } from 'node:os';
import { ConfigError, type Settings } from '../config/index.js';
import { type Command, dataOptions, dataOptionsHelp, helpOption, UsageError } from './Command.js';
import { settingsFrom } from './settings.js';

export const bridge: Command = {
  name: 'bridge',
  summary: 'Run a media bridge that serves the focus of a Confab server',
  usage: 'bridge [--config FILE] [--data-dir DIR] [--focus URL] [--port N] [--name NAME]',
  help: `Options:
${dataOptionsHelp}
  --focus URL         the focus: ws:// or wss:// origin of confab serve (default bridge.focus_url,
                      else ws:// plus listen)
  --port N            the UDP port for media (default: the first of bridge.port_range)
  --name NAME         how the focus and its metrics name this bridge (default HOST:PORT)
  -h, --help          show this help

The bridge authenticates with the secret in bridge.shared_secret (or the data directory's
bridge-secret.key, which confab serve creates). confab serve starts bridge.workers of these
itself; run more on other machines to spread the media load.`,
  options: {
    ...helpOption,
    ...dataOptions,
    focus: { type: 'string' },
    port: { type: 'string' },
    name: { type: 'string' },
  },
  async run(values) {
    const settings = settingsFrom(values);
    const { loadBridgeAgent, portRange } = await import('../bridge/index.js');
    const BridgeAgent = await loadBridgeAgent();
    const { createLogger } = await import('../logging/index.js');
    const focusUrl =
      (values.focus as string | undefined) ??
      settings.bridge.focus_url ??
      `ws://${settings.listen}`;
    if (!/^wss?:\/\/\S+$/.test(focusUrl))
      throw new UsageError(
        `confab bridge: --focus ${focusUrl}: expected ws://HOST:PORT or wss://HOST:PORT`,
      );
    let port = portRange(settings).first;
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UsageError(`confab bridge: --port ${values.port}: expected a port number`);
    }
    const logger = await createLogger({ level: settings.log_level, format: settings.log_format });
    const name = (values.name as string | undefined) ?? `${hostname()}:${port}`;
    const agent = new BridgeAgent({
      focusUrl,
      secret: await secretOf(settings),
      name,
      iceAddress: settings.bridge.ice_address,
      port,
      publicAddress: settings.bridge.public_address,
      logger,
    });
    agent.start();
    const stop = () => {
      agent.close();
      setTimeout(() => process.exit(0), 200).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // The focus that started this bridge went away: so does the bridge.
    process.on('disconnect', stop);
  },
};

/**
 * The bridges `confab serve` starts get its secret in their environment (it may live in its
 * database); one started on its own reads `bridge.shared_secret`, or the data dir's generated
 * one, which only a server on SQLite with the same data dir knows.
 */
async function secretOf(settings: Settings): Promise<string> {
  const { bridgeSecret, bridgeSecretEnv } = await import('../bridge/index.js');
  const handed = process.env[bridgeSecretEnv];
  if (handed) return handed;
  if (settings.database_url && !settings.bridge.shared_secret)
    throw new ConfigError(
      'confab bridge: with database_url the generated bridge secret lives in the database: set bridge.shared_secret (a file) here and on the servers',
    );
  const { FileSecrets } = await import('../storage/index.js');
  return bridgeSecret(settings, new FileSecrets(settings.data_dir));
}
