import type { Settings } from './load.js';

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/^::ffff:/, '');
  return (
    h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h)
  );
}

/**
 * The public origin (SPEC §2): `hostname` if set; otherwise the scheme plus `listen` as given.
 * When `listen` asks for port 0, the port actually bound stands in for it.
 */
export function publicOrigin(settings: Settings, boundPort?: number): string {
  if (settings.hostname) return new URL(settings.hostname).origin;
  const scheme = settings.tlsEnabled ? 'https' : 'http';
  const { host, port } = settings.listenAddress;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const portPart = port === 0 && boundPort !== undefined ? boundPort : port;
  return new URL(`${scheme}://${hostPart}:${portPart}`).origin;
}

/** The OpenID Connect issuer: `oidc_issuer_identifier` if set, else the public origin. */
export function issuerOf(settings: Settings, boundPort?: number): string {
  return settings.oidc_issuer_identifier
    ? new URL(settings.oidc_issuer_identifier).origin
    : publicOrigin(settings, boundPort);
}
