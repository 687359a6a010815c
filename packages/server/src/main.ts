import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { registerAddressBook } from './addressbook/index.js';
import { bridgeSecret } from './bridge/index.js';
import { SqlChatArchive } from './chat/index.js';
import { Cluster, openRedis, type RedisLink, redisUrlRedacted } from './cluster/index.js';
import { loadOrCreateSecret } from './common/index.js';
import {
  ConfigError,
  isLoopbackHost,
  issuerOf,
  publicOrigin,
  type Settings,
} from './config/index.js';
import { describeErrno, octalMode, prepareDataDir } from './dataDir.js';
import {
  createUserStore,
  ensureInitialAdmin,
  SqlUserStore,
  type UserStore,
} from './directory/index.js';
import { FatalError } from './FatalError.js';
import { BridgeHub, BridgeLauncher, Focus, mlineLimit } from './focus/index.js';
import { createGateway, createMetricsListener, Metrics, upgradeListener } from './gateway/index.js';
import {
  GuestClients,
  GuestPolicy,
  GuestStore,
  loadOrCreateGuestKey,
  registerGuestLogon,
} from './guests/index.js';
import { Identity, loadClientRegistry, SigningKeys } from './identity/index.js';
import { createLogger, type Logger } from './logging/index.js';
import { Shutdown, type StepOf } from './Shutdown.js';
import {
  MemorySignalingState,
  PairHash,
  Signaling,
  SqlAnsweredCalls,
  signalingScope,
} from './signaling/index.js';
import { openStorage } from './storage/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The built PWA, next to this package in the repository (`packages/web/dist`). */
export const defaultWebRoot = path.resolve(here, '../../web/dist');

export const version: string = (
  JSON.parse(readFileSync(path.resolve(here, '../package.json'), 'utf8')) as { version: string }
).version;

export interface StartOptions {
  settings: Settings;
  logger?: Logger;
  webRoot?: string;
}

export interface RunningServer {
  /** The public origin, with the bound port when `listen` asked for port 0. */
  url: string;
  /** Where this process actually listens (scheme, bound address and port): what local clients and tests use. */
  localUrl: string;
  /** Where /metrics is served when `metrics_listen` is set. */
  metricsUrl: string | undefined;
  app: FastifyInstance;
  logger: Logger;
  identity: Identity;
  store: UserStore;
  signaling: Signaling;
  focus: Focus;
  bridgeHub: BridgeHub;
  /**
   * Shuts down (`shutdownOrder`): stops taking requests, lets open ones finish within
   * `shutdown_timeout`, then closes. Every call gets the same shutdown.
   */
  close(): Promise<void>;
}

/**
 * What the server takes down, in this order (steps in one list side by side). Conferences close
 * while their members can still be told, and every RTM client hears goodbye before the HTTP
 * server stops, so that it may reconnect elsewhere; storage goes last.
 */
export const shutdownOrder = [
  // /health-check answers 503 shutting_down from now on.
  'draining',
  // Every conference closes: members and waiting guests told, endpoints released on bridges.
  'focus',
  // The bridges' control links close (1001); their conferences are gone already.
  'bridge links',
  // Calls stop their timers (so they can be taken up after a restart); goodbye to every client.
  'signaling',
  // Several nodes: leases given up, this node out of the registry, the bus closed.
  'cluster',
  ['gateway', 'metrics listener', 'bridge processes'],
  'redis',
  'identity',
  'user store',
  'database',
] as const;

/** Composition root: builds every service from the settings, wires them, and listens. */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const { settings } = opts;
  const logger =
    opts.logger ?? (await createLogger({ level: settings.log_level, format: settings.log_format }));
  const log = logger.child({ module: 'main' });

  // Before the database opens: SQLite gives its -wal and -shm the database file's mode.
  const { created, tightened, failed } = prepareDataDir(settings.data_dir);
  if (created) log.info({ dataDir: settings.data_dir }, 'created data directory');
  for (const c of tightened)
    log.warn(
      { path: c.path, from: octalMode(c.from), to: octalMode(c.to) },
      'data directory: removed group and other access',
    );
  for (const f of failed)
    log.warn(
      { path: f.path, mode: octalMode(f.mode), error: f.error },
      'data directory: could not remove group and other access; fix it by hand',
    );
  const tls = settings.tlsEnabled ? readTls(settings) : undefined;
  const registry = settings.registryFile ? loadClientRegistry(settings.registryFile) : [];

  // Each service's step is bound as soon as it is built: a startup that fails half-way is
  // undone by the same shutdown, which skips what was never built.
  const shutdown = new Shutdown<StepOf<typeof shutdownOrder>>(shutdownOrder, log);
  try {
    return await build();
  } catch (err) {
    await shutdown.run().catch(() => {});
    throw err;
  }

  async function build(): Promise<RunningServer> {
    const { db, secrets } = await openStorage(settings, logger);
    // Writes the stores queued (answered calls, kept chat) finish before the database closes.
    const flushes: (() => Promise<void>)[] = [];
    shutdown.on('database', async () => {
      await Promise.all(flushes.map((f) => f().catch(() => {})));
      await db.close();
    });
    const store = createUserStore(settings, db, logger.child({ module: 'directory' }));
    shutdown.on('user store', () => store.close());
    if (store instanceof SqlUserStore) await ensureInitialAdmin(store, settings.data_dir, log);
    const guests = new GuestClients(
      registry,
      await loadOrCreateGuestKey(secrets),
      settings.registryFile,
    );
    const guestStore = new GuestStore(db, settings.session_ttl);
    const guestPolicy = new GuestPolicy({
      rooms: settings.public_guest_access_regexp,
      // Guests get signaling only, never the address book.
      scopes: [signalingScope],
      logonApi: settings.enable_guest_api,
      clientGuests: settings.allow_client_guests,
      guestOnlyRooms: settings.allow_guest_only_channels,
    });
    const identity = new Identity({
      settings,
      store,
      db,
      keys: await SigningKeys.loadOrCreate(secrets),
      registry,
      guests,
      guestPolicy,
      guestStore,
      cookieSecret: await loadOrCreateSecret(secrets, 'identity/cookie'),
      logger,
    });
    shutdown.on('identity', () => identity.close());

    let shuttingDown = false;
    const metrics = new Metrics();
    const app = await createGateway({
      settings,
      guestPolicy,
      logger,
      version,
      webRoot: opts.webRoot ?? defaultWebRoot,
      metrics,
      ...(tls ? { tls } : {}),
      shuttingDown: () => shuttingDown,
    });
    shutdown.on('draining', () => {
      shuttingDown = true;
    });
    shutdown.on('gateway', async () => {
      const timer = setTimeout(() => {
        log.warn(
          { timeout: settings.shutdown_timeout },
          'shutdown timeout: closing open connections',
        );
        app.server.closeAllConnections?.();
      }, settings.shutdown_timeout * 1000);
      timer.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
      }
    });

    await identity.register(app);
    registerAddressBook(app, { store, tokenChecker: () => identity.tokenChecker });
    const pairHashKey = await loadOrCreateSecret(secrets, 'signaling/pair-hash');
    const secretOfBridges = await bridgeSecret(settings, secrets);
    const cluster = settings.redis_url ? await openCluster(settings, logger) : undefined;
    if (cluster) {
      shutdown.on('redis', () => cluster.link.close());
      shutdown.on('cluster', () => cluster.stop());
    }
    const state = cluster?.state ?? new MemorySignalingState();
    let launcher: BridgeLauncher | undefined;
    const hub = new BridgeHub({
      secret: secretOfBridges,
      videoMaxBitrate: settings.video_max_bitrate,
      screenMaxBitrate: settings.screenshare_max_bitrate,
      maxMlines: mlineLimit(settings.rtm_max_message_size),
      lastN: settings.last_n,
      registry: metrics.registry,
      logger,
      // A local bridge that hangs is killed, and so restarted.
      onUnresponsive: (name) => launcher?.kill(name),
    });
    shutdown.on('bridge links', () => hub.close());
    const chatArchive = new SqlChatArchive(db, logger.child({ module: 'chat' }));
    const answeredCalls = await SqlAnsweredCalls.load(db, logger.child({ module: 'signaling' }));
    flushes.push(
      () => chatArchive.flush(),
      () => answeredCalls.flush(),
    );
    const focus = new Focus({
      state,
      hash: new PairHash(pairHashKey),
      hub,
      maxParticipants: settings.max_participants,
      p2p: settings.p2p,
      emptyTimeoutMs: settings.conference_empty_timeout * 1000,
      prejoinTimeoutMs: settings.prejoin_timeout * 1000,
      reconnectGraceMs: settings.call_reconnect_grace * 1000,
      allowGuestOnlyChannels: guestPolicy.guestOnlyRooms,
      chatArchive,
      chatRetentionMs: settings.chat_retention * 1000,
      joinLimits: {
        perConnection: settings.max_conferences_per_connection,
        perUser: settings.max_conferences_per_user,
        perMinute: settings.group_join_rate,
      },
      registry: metrics.registry,
      logger,
    });
    shutdown.on('focus', () => focus.close());
    const signaling = new Signaling({
      settings,
      state,
      tokenChecker: () => identity.tokenChecker,
      store,
      guests: guestStore,
      guestPolicy,
      pairHashKey,
      turnSecret: settings.turn_server_shared_secret
        ? readTurnSecret(settings.turn_server_shared_secret)
        : undefined,
      focus,
      audit: {
        sessionsEnded: (sessions) => identity.sessionsEnded(sessions),
        onGrantRevoked: (listener) => identity.onGrantRevoked(listener),
        ...(store.watch
          ? { watch: (onChange: () => void) => store.watch?.(onChange) ?? (() => {}) }
          : {}),
      },
      answeredCalls,
      ...(cluster ? { router: cluster } : {}),
      logger,
    });
    shutdown.on('signaling', () => signaling.close());
    if (cluster) {
      cluster.attach(signaling, (group) => focus.conference(group) !== undefined);
      await cluster.start().catch((err: Error) => {
        throw new FatalError(
          `confab: redis_url: cannot join the deployment on ${redisUrlRedacted(settings.redis_url as string)}: ${err.message}`,
        );
      });
    }
    signaling.register(app);
    registerGuestLogon(app, {
      policy: guestPolicy,
      perIpPerMinute: settings.guest_logon_rate_limit_per_ip,
      keyFor: (clientId) => guests.signingKey(clientId, identity.webClientId),
      issuer: () => identity.issuer,
      logger,
    });
    app.server.on(
      'upgrade',
      upgradeListener(
        [
          (req, socket, head) => hub.handleUpgrade(req, socket, head),
          (req, socket, head) => signaling.handleUpgrade(req, socket, head),
        ],
        logger,
      ),
    );

    const { host, port } = settings.listenAddress;
    await listen(app, host, port, settings.listen);
    const bound = app.server.address() as { address: string; port: number };
    const boundPort = bound.port;
    const url = publicOrigin(settings, boundPort);
    const localUrl = `${settings.tlsEnabled ? 'https' : 'http'}://${hostForUrl(bound.address)}:${boundPort}`;
    await identity.start(url, issuerOf(settings, boundPort));
    guests.check(identity.webClientId, guestPolicy.logonApi, settings.registryFile);

    let metricsUrl: string | undefined;
    if (settings.metricsListenAddress) {
      const metricsApp = createMetricsListener(metrics, logger);
      shutdown.on('metrics listener', () => metricsApp.close());
      const m = settings.metricsListenAddress;
      await listen(metricsApp, m.host, m.port, settings.metrics_listen as string);
      const mport = (metricsApp.server.address() as { port: number }).port;
      metricsUrl = `http://${hostForUrl(m.host)}:${mport}/metrics`;
    }

    const bridges = new BridgeLauncher(
      settings,
      localUrl.replace(/^http/, 'ws'),
      secretOfBridges,
      logger,
    );
    launcher = bridges;
    shutdown.on('bridge processes', () => bridges.stop());
    bridges.start();

    if (!settings.tlsEnabled && !isLoopbackHost(host)) {
      log.warn(
        { listen: settings.listen },
        'LISTENING WITHOUT TLS ON A NON-LOOPBACK ADDRESS: browsers refuse camera and microphone outside a secure context, and sign-ins cross the network in clear text. Set tls_cert and tls_key, or put a TLS reverse proxy in front and listen on loopback.',
      );
    }
    log.info(
      {
        url,
        listen: `${host}:${boundPort}`,
        tls: settings.tlsEnabled,
        version,
        metrics: metricsUrl ?? `${url}/metrics (loopback only)`,
      },
      'ready',
    );

    let stopped: Promise<void> | undefined;
    const close = () => {
      stopped ??= shutdown.run().then(() => log.info('stopped'));
      return stopped;
    };
    return {
      url,
      localUrl,
      metricsUrl,
      app,
      logger,
      identity,
      store,
      signaling,
      focus,
      bridgeHub: hub,
      close,
    };
  }
}

/** An address as it stands in a URL: IPv6 in brackets, the unspecified address as loopback. */
function hostForUrl(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

async function listen(
  app: FastifyInstance,
  host: string,
  port: number,
  asGiven: string,
): Promise<void> {
  try {
    await app.listen({ host, port, listenTextResolver: (address) => `bound to ${address}` });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'EADDRINUSE'
        ? 'address already in use'
        : e.code === 'EACCES'
          ? 'permission denied (ports below 1024 need privileges)'
          : e.code === 'EADDRNOTAVAIL'
            ? 'address not available on this machine'
            : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
              ? 'host name does not resolve'
              : (e.code ?? e.message);
    throw new FatalError(`confab: cannot listen on ${asGiven}: ${why}`);
  }
}

/** kwmserver reads the TURN secret from a file, so it stays out of configuration files. */
function readTurnSecret(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(
      `confab: turn_server_shared_secret: cannot read ${file}: ${describeErrno(err as NodeJS.ErrnoException)}`,
    );
  }
  if (!secret) throw new ConfigError(`confab: turn_server_shared_secret: ${file} is empty`);
  return secret;
}

function readTls(settings: Settings): { cert: Buffer; key: Buffer } {
  const read = (key: 'tls_cert' | 'tls_key') => {
    const file = settings[key] as string;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(
        `confab: ${key}: cannot read ${file}: ${describeErrno(err as NodeJS.ErrnoException)}`,
      );
    }
  };
  const cert = read('tls_cert');
  const key = read('tls_key');
  if (!cert.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(`confab: tls_cert: ${settings.tls_cert} holds no PEM certificate`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString()))
    throw new ConfigError(`confab: tls_key: ${settings.tls_key} holds no PEM private key`);
  return { cert, key };
}

/** Several nodes (`redis_url`): Redis opened, this node's part in the deployment built. */
async function openCluster(settings: Settings, logger: Logger): Promise<Cluster> {
  const url = settings.redis_url as string;
  let link: RedisLink;
  try {
    link = await openRedis({
      url,
      deployment: new URL(settings.hostname as string).host,
      logger,
    });
  } catch (err) {
    throw new FatalError(
      `confab: redis_url: cannot reach ${redisUrlRedacted(url)}: ${(err as Error).message}`,
    );
  }
  return new Cluster({ link, nodeId: settings.node_id, logger });
}
