import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '../logging/index.js';
import { sendError } from './errors.js';

/** Files the browser must revalidate every time: the shell, the worker, the manifest. */
const revalidated = new Set(['index.html', 'service-worker.js', 'manifest.webmanifest']);

/**
 * Serves the built PWA under /meet/: the shell for /meet/ and every /meet/r/* deep link, hashed
 * assets as immutable, and the service worker never cached (so new deployments reach users).
 */
export async function registerPwa(
  app: FastifyInstance,
  webRoot: string,
  log: Logger,
): Promise<void> {
  const built = existsSync(path.join(webRoot, 'index.html'));
  app.get('/', (_req, reply) => reply.redirect('/meet/', 302));
  app.get('/meet', (_req, reply) => reply.redirect('/meet/', 301));

  if (!built) {
    log.error({ webRoot }, 'the web app is not built: run npm run build');
    const unbuilt = (_req: unknown, reply: FastifyReply) =>
      sendError(reply, 'unavailable', 'the web app is not built on this server: run npm run build');
    app.get('/meet/', unbuilt);
    app.get('/meet/*', unbuilt);
    return;
  }

  await app.register(fastifyStatic, {
    root: webRoot,
    prefix: '/meet/',
    index: false,
    wildcard: false,
    preCompressed: true,
    cacheControl: false,
    setHeaders(res, filePath) {
      const rel = path.relative(webRoot, filePath).split(path.sep).join('/');
      const name = rel.replace(/\.(br|gz)$/, '');
      if (name.startsWith('assets/'))
        res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      else if (revalidated.has(name)) res.setHeader('Cache-Control', 'no-cache');
      else res.setHeader('Cache-Control', 'public, max-age=3600');
      if (name === 'service-worker.js') res.setHeader('Service-Worker-Allowed', '/meet/');
    },
  });

  const shell = (_req: unknown, reply: FastifyReply) => reply.sendFile('index.html');
  app.get('/meet/', shell);
  app.get('/meet/r/*', shell);
  // Where the identity provider sends the browser back to (docs/identity.md).
  app.get('/meet/oidc-callback', shell);
  app.get('/meet/oidc-silent-renew', shell);
}
