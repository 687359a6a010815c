import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

export interface SecurityHeaderOptions {
  tls: boolean;
  /** The public origin, for the WebSocket entry of connect-src. */
  origin: () => string;
}

/**
 * The content security policy. The PWA loads only its own files; media comes from the camera
 * (mediastream:) and blobs; WebSockets go to our own origin (listed explicitly, since older
 * engines do not match ws: against 'self'). Sign-in pages post forms whose answer redirects to
 * the client's own origin, which Chromium checks against form-action: there it is left open
 * (those pages carry no script and show nothing from the request but escaped text).
 */
export function contentSecurityPolicy(origin: string, opts: { signIn?: boolean } = {}): string {
  const ws = origin.replace(/^http/, 'ws');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "font-src 'self'",
    `connect-src 'self' ${ws}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "frame-src 'self'",
    "frame-ancestors 'self'",
    ...(opts.signIn ? [] : ["form-action 'self'"]),
    "base-uri 'self'",
    "object-src 'none'",
  ].join('; ');
}

/**
 * Security headers on every answer; HSTS only when we serve TLS ourselves. Helmet's middleware is
 * built once here: @fastify/helmet built it anew for every request, and that garbage (kept alive
 * across scavenges by requests in flight) doubled what a burst of rtm/connect requests promoted
 * into the old generation (bench/README.md, signaling).
 */
export async function registerSecurityHeaders(app: FastifyInstance, opts: SecurityHeaderOptions) {
  const secure = helmet({
    contentSecurityPolicy: false,
    hsts: opts.tls ? { maxAge: 31536000, includeSubDomains: false, preload: false } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'sameorigin' },
  });
  // The origin rarely changes (only when the public URL is reconfigured): the policy is built
  // once per origin.
  let cached = { origin: '', policy: '' };
  app.addHook('onRequest', (request, reply, done) => {
    const origin = opts.origin();
    if (cached.origin !== origin) cached = { origin, policy: contentSecurityPolicy(origin) };
    reply.header('content-security-policy', cached.policy);
    secure(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
  });
}
