import { constants as zlib } from 'node:zlib';
import { webConfigPath } from '@confab/protocol';
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { isLoopbackHost, issuerOf, publicOrigin, type Settings } from '../config/index.js';
import type { GuestPolicy } from '../guests/index.js';
import type { Logger } from '../logging/index.js';
import { registerErrorHandlers, sendError } from './errors.js';
import { registerHealth } from './health.js';
import type { Metrics } from './metrics.js';
import { registerPwa } from './pwa.js';
import { registerSecurityHeaders } from './securityHeaders.js';
import { buildWebConfig } from './webConfig.js';

export interface GatewayOptions {
  settings: Settings;
  /** What guests may do: the web app's config tells it whether it may invite them by link. */
  guestPolicy: GuestPolicy;
  logger: Logger;
  version: string;
  webRoot: string;
  metrics: Metrics;
  tls?: { cert: Buffer; key: Buffer };
  /** Reports whether the server is draining, for /health-check. */
  shuttingDown: () => boolean;
}

/**
 * The one origin for everything (kweb's role): security headers, compression, the PWA,
 * runtime config, health and metrics. Other services add their routes to the returned app.
 */
export async function createGateway(opts: GatewayOptions): Promise<FastifyInstance> {
  const { settings, logger } = opts;
  const startedAt = performance.now();
  const serverOptions: FastifyServerOptions & { https?: { cert: Buffer; key: Buffer } } = {
    loggerInstance: logger.child({ module: 'gateway' }),
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: settings.trusted_proxies.length > 0 ? settings.trusted_proxies : false,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false },
  };
  if (opts.tls) serverOptions.https = opts.tls;
  const app = Fastify(serverOptions) as unknown as FastifyInstance;

  let boundPort: number | undefined;
  app.addHook('onListen', async () => {
    const addr = app.server.address();
    if (addr && typeof addr === 'object') boundPort = addr.port;
  });
  const origin = () => publicOrigin(settings, boundPort);

  registerErrorHandlers(app);
  opts.metrics.instrument(app);
  await registerSecurityHeaders(app, { tls: settings.tlsEnabled, origin });
  await app.register(compress, {
    global: true,
    threshold: 1024,
    brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } },
  });

  app.get(webConfigPath, (_req, reply) => {
    reply.header('Cache-Control', 'no-cache');
    return buildWebConfig(
      settings,
      opts.guestPolicy,
      origin(),
      issuerOf(settings, boundPort),
      opts.version,
    );
  });
  registerHealth(app, { version: opts.version, startedAt, shuttingDown: opts.shuttingDown });

  if (!settings.metricsListenAddress) {
    app.get('/metrics', async (request, reply) => {
      // request.ip is the socket's address unless a trusted proxy vouches for another one.
      if (!isLoopbackHost(request.ip))
        return sendError(
          reply,
          'forbidden',
          '/metrics is served to loopback clients only (see metrics_listen)',
        );
      const { contentType, body } = await opts.metrics.render();
      return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
    });
  }

  await registerPwa(app, opts.webRoot, logger.child({ module: 'pwa' }));
  return app;
}

/** A bare listener for /metrics alone, when `metrics_listen` moves it off the main origin. */
export function createMetricsListener(metrics: Metrics, logger: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger.child({ module: 'metrics' }),
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  registerErrorHandlers(app);
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });
  return app;
}
