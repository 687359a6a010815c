import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export interface SecurityHeaderOptions {
  tls: boolean;
  /** The public origin, for the WebSocket entry of connect-src. */
  origin: () => string;
}

/**
 * Security headers on every answer. The PWA loads only its own files; media comes from the
 * camera (mediastream:) and blobs; WebSockets go to our own origin (listed explicitly, since
 * older engines do not match ws: against 'self'). HSTS only when we serve TLS ourselves.
 */
export async function registerSecurityHeaders(app: FastifyInstance, opts: SecurityHeaderOptions) {
  const wsOrigin = () => opts.origin().replace(/^http/, 'ws');
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:', 'blob:'],
        'media-src': ["'self'", 'blob:', 'mediastream:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'", () => wsOrigin()],
        'worker-src': ["'self'"],
        'manifest-src': ["'self'"],
        'frame-src': ["'self'"],
        'frame-ancestors': ["'self'"],
        'form-action': ["'self'"],
        'base-uri': ["'self'"],
        'object-src': ["'none'"],
      },
    },
    hsts: opts.tls ? { maxAge: 31536000, includeSubDomains: false, preload: false } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'sameorigin' },
  });
}
