import { z } from 'zod';

/**
 * Metadata every leaf of the configuration schema carries. The sample file, the reference doc
 * and the mapping of `CONFAB_*` variables are all derived from it (see describe.ts).
 */
export interface KeyMeta {
  description: string;
  /** A value shown in the sample file for keys without a default. */
  example?: unknown;
  /** Relative paths resolve from the config file's folder (or the working directory). */
  path?: true;
  /** The key is secret-bearing: never logged. */
  secret?: true;
}

const yesNoWords: Record<string, boolean> = { true: true, false: false, yes: true, no: false };

/** A boolean that also takes the seeds' `yes`/`no` (and `true`/`false` as strings, from env). */
export function yesNo() {
  return z.preprocess(
    (v) =>
      typeof v === 'string' && v.toLowerCase() in yesNoWords ? yesNoWords[v.toLowerCase()] : v,
    z.boolean(),
  );
}

/** `HOST:PORT` with an optional bracketed IPv6 host; port 0 picks a free port. */
export const listenAddress = z.string().refine((v) => parseListen(v) !== undefined, {
  message: 'expected HOST:PORT, e.g. localhost:8080 or [::1]:8080',
});

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(value: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

const origin = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (
        (u.protocol === 'http:' || u.protocol === 'https:') &&
        u.pathname === '/' &&
        !u.search &&
        !u.hash &&
        !u.username
      );
    } catch {
      return false;
    }
  },
  { message: 'expected an origin such as https://meet.example.com (scheme, host, optional port)' },
);

const regexp = z.string().refine(
  (v) => {
    try {
      new RegExp(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a valid regular expression' },
);

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const configSchema = z.strictObject({
  hostname: origin.optional().meta({
    description:
      'The public origin users reach Confab at. Unset: http:// (or https:// with TLS) plus `listen` as given.',
    example: 'https://meet.example.com',
  } satisfies KeyMeta),
  listen: listenAddress.default('localhost:8080').meta({
    description:
      'Address and port of the web server. A non-loopback address without TLS logs a loud warning. Port 0 picks a free port.',
  } satisfies KeyMeta),
  data_dir: z
    .string()
    .min(1)
    .default('./data')
    .meta({
      description: 'Where Confab keeps its database and generated keys. Created with mode 0700.',
      path: true,
    } satisfies KeyMeta),
  tls_cert: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: 'PEM certificate chain. With `tls_key`, Confab serves HTTPS (and sends HSTS).',
      example: '/etc/confab/tls/fullchain.pem',
      path: true,
    } satisfies KeyMeta),
  tls_key: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: 'PEM private key for `tls_cert`.',
      example: '/etc/confab/tls/privkey.pem',
      path: true,
      secret: true,
    } satisfies KeyMeta),
  trusted_proxies: z
    .array(z.string().min(1))
    .default([])
    .meta({
      description:
        'Addresses or CIDR ranges of reverse proxies whose X-Forwarded-* headers are trusted. Empty: none.',
      example: ['127.0.0.1', '10.0.0.0/8'],
    } satisfies KeyMeta),
  metrics_listen: listenAddress.optional().meta({
    description:
      'Serve /metrics on this separate address instead. Unset: /metrics on the main listener, to loopback clients only.',
    example: '127.0.0.1:6778',
  } satisfies KeyMeta),
  log_level: z
    .enum(logLevels)
    .default('info')
    .meta({
      description:
        'Least severe log level written: trace, debug, info, warn, error, fatal or silent.',
    } satisfies KeyMeta),
  log_format: z
    .enum(['auto', 'json', 'pretty'])
    .default('auto')
    .meta({
      description:
        'json: one JSON object a line; pretty: readable; auto: pretty on a terminal, else json.',
    } satisfies KeyMeta),
  shutdown_timeout: z
    .number()
    .int()
    .min(0)
    .max(600)
    .default(10)
    .meta({
      description:
        'Seconds to let open requests finish on SIGTERM/SIGINT before closing them. A second signal exits at once.',
    } satisfies KeyMeta),
  oidc_issuer_identifier: origin.optional().meta({
    description: 'The OpenID Connect issuer. Unset: the public origin.',
    example: 'https://meet.example.com',
  } satisfies KeyMeta),
  enable_guest_api: yesNo()
    .default(false)
    .meta({
      description:
        'Offer the guest logon API so that outside guests can join public rooms by link.',
    } satisfies KeyMeta),
  allow_client_guests: yesNo()
    .default(false)
    .meta({
      description:
        'Let the identity provider issue guest tokens. Guests work when this and `enable_guest_api` are both on.',
    } satisfies KeyMeta),
  public_guest_access_regexp: regexp.default('^group/public/.*').meta({
    description: 'Room paths (without a leading slash) that guests may join.',
  } satisfies KeyMeta),
  web_config: z
    .record(z.string(), z.unknown())
    .default({})
    .meta({
      description:
        "Merged into the web app's config.json, e.g. `kwm: {webrtc: {config: {iceTransportPolicy: relay}}}`.",
      example: { kwm: { webrtc: { config: { iceTransportPolicy: 'relay' } } } },
    } satisfies KeyMeta),
  apps: z
    .strictObject({
      enabled: z
        .array(z.string().min(1))
        .default([])
        .meta({
          description: 'Names shown in the applications grid. Empty: the grid is hidden.',
          example: ['meet'],
        } satisfies KeyMeta),
    })
    .default({ enabled: [] }),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
