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

/** An application's address: absolute http(s), or a path on this server. */
const appLink = z.string().refine(
  (v) => {
    if (v.startsWith('/')) return !v.startsWith('//');
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'expected an http(s) URL or a path starting with /' },
);

/**
 * Where the applications of Kopano's grid live when served beside Confab (as kweb served them);
 * `kopano-<name>` and `<name>` are the same application.
 */
export const knownApps: Record<string, string> = {
  meet: '/meet/',
  webapp: '/webapp/',
  mail: '/mail/',
  calendar: '/calendar/',
  contacts: '/contacts/',
};

/** The address of an application of the grid: `apps.links` first, then the known ones. */
export function appAddress(name: string, links: Record<string, string>): string | undefined {
  return links[name] ?? knownApps[name.replace(/^kopano-/, '')];
}

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
  database_url: z
    .string()
    .refine(
      (v) => {
        try {
          const u = new URL(v);
          return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
        } catch {
          return false;
        }
      },
      { message: 'expected postgres://USER@HOST[:PORT]/DATABASE' },
    )
    .refine(
      (v) => {
        try {
          const q = new URL(v).searchParams;
          return !q.has('password') && !q.has('sslpassword');
        } catch {
          return true;
        }
      },
      {
        message:
          'a password in the query string would be shown wherever the URL is: put it in database_password_file or PGPASSWORD',
      },
    )
    .optional()
    .meta({
      description:
        "PostgreSQL for everything Confab keeps (users, sessions and tokens, guests, chat, the generated secrets), instead of the SQLite file in `data_dir`. The password comes from the URL, `database_password_file`, or PostgreSQL's own environment (PGPASSWORD, ~/.pgpass); `?sslmode=require` (or verify-full) connects with TLS. Unset: SQLite.",
      example: 'postgres://confab@db.example.com:5432/confab?sslmode=verify-full',
      secret: true,
    } satisfies KeyMeta),
  database_password_file: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        'File holding the password for `database_url` (so it stays out of configuration files).',
      example: '/etc/confab/database-password',
      path: true,
      secret: true,
    } satisfies KeyMeta),
  redis_url: z
    .string()
    .refine(
      (v) => {
        try {
          const u = new URL(v);
          return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
        } catch {
          return false;
        }
      },
      { message: 'expected redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss:// for TLS' },
    )
    .optional()
    .meta({
      description:
        'Redis that several Confab nodes share (presence, one-time keys, messages between nodes, who runs each conference): nodes with the same `hostname`, `database_url` and `redis_url` serve one organisation, any of them any request (docs/deployment.md "Several nodes"). Needs `database_url`. Unset: one node, with that state in memory.',
      example: 'redis://redis.example.com:6379/0',
      secret: true,
    } satisfies KeyMeta),
  node_id: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)')
    .optional()
    .meta({
      description:
        "This node's name among the nodes sharing `redis_url` (in its logs and in Redis). Unset: generated at each start.",
      example: 'meet-1',
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
  identifier_registration_conf: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        "Client registry (Konnect's identifier-registration.yaml format). The same setting as `registration_conf`; give one, or both naming the same file.",
      example: '/etc/confab/identifier-registration.yaml',
      path: true,
    } satisfies KeyMeta),
  registration_conf: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: "kwmserver's name for `identifier_registration_conf`.",
      example: '/etc/confab/identifier-registration.yaml',
      path: true,
    } satisfies KeyMeta),
  access_token_ttl: z
    .number()
    .int()
    .min(60)
    .max(86400)
    .default(600)
    .meta({
      description: 'Lifetime in seconds of access tokens (JWTs checked locally by every service).',
    } satisfies KeyMeta),
  session_ttl: z
    .number()
    .int()
    .min(300)
    .max(31536000)
    .default(1209600)
    .meta({
      description:
        'Seconds a sign-in lasts without activity; refresh tokens live as long. Default 14 days.',
    } satisfies KeyMeta),
  signin_rate_limit_per_ip: z
    .number()
    .int()
    .min(1)
    .max(100000)
    .default(30)
    .meta({
      description: 'Sign-in attempts allowed per client address per minute; more answer 429.',
    } satisfies KeyMeta),
  signin_rate_limit_per_user: z
    .number()
    .int()
    .min(1)
    .max(100000)
    .default(10)
    .meta({
      description:
        'Failed sign-ins allowed per username from one client address per minute. After that, that address waits before it may try that username again: 1 minute, doubling with each further lockout up to 15 minutes. Other addresses, and the right password from elsewhere, are not held up.',
    } satisfies KeyMeta),
  authorize_rate_limit_per_ip: z
    .number()
    .int()
    .min(1)
    .max(1000000)
    .default(300)
    .meta({
      description:
        'Authorization requests (the start of every sign-in, `/signin/v1/identifier/_/authorize`) allowed per client address per minute; more answer 429.',
    } satisfies KeyMeta),
  directory: z
    .enum(['builtin', 'ldap'])
    .default('builtin')
    .meta({
      description:
        'Where users come from: builtin (SQLite in the data dir, managed with `confab user`) or ldap.',
    } satisfies KeyMeta),
  ldap_uri: z
    .string()
    .regex(/^ldaps?:\/\/\S+$/, 'expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]')
    .optional()
    .meta({
      description: 'LDAP server, with `directory: ldap`.',
      example: 'ldaps://ldap.example.com',
    } satisfies KeyMeta),
  ldap_bind_dn: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: 'DN to bind as for searching users. Unset: anonymous search.',
      example: 'cn=confab,ou=services,dc=example,dc=com',
    } satisfies KeyMeta),
  ldap_bind_password: z
    .string()
    .optional()
    .meta({
      description: 'Password for `ldap_bind_dn`.',
      example: 'change-me',
      secret: true,
    } satisfies KeyMeta),
  ldap_base_dn: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: 'Where users are searched, with `directory: ldap`.',
      example: 'ou=people,dc=example,dc=com',
    } satisfies KeyMeta),
  ldap_scope: z
    .enum(['sub', 'one', 'base'])
    .default('sub')
    .meta({
      description: 'Search scope below `ldap_base_dn`: sub, one or base.',
    } satisfies KeyMeta),
  ldap_filter: z
    .string()
    .min(1)
    .default('(objectClass=inetOrgPerson)')
    .meta({
      description: 'LDAP filter every user entry matches.',
    } satisfies KeyMeta),
  ldap_uuid_attribute: z
    .string()
    .min(1)
    .default('entryUUID')
    .meta({
      description: "Attribute holding a user's stable id (their OIDC subject and address-book id).",
    } satisfies KeyMeta),
  ldap_login_attribute: z
    .string()
    .min(1)
    .default('uid')
    .meta({
      description: 'Attribute users sign in with.',
    } satisfies KeyMeta),
  ldap_name_attribute: z
    .string()
    .min(1)
    .default('cn')
    .meta({
      description: 'Attribute holding the display name.',
    } satisfies KeyMeta),
  ldap_email_attribute: z
    .string()
    .min(1)
    .default('mail')
    .meta({
      description: 'Attribute holding the mail address.',
    } satisfies KeyMeta),
  ldap_job_title_attribute: z
    .string()
    .min(1)
    .default('title')
    .meta({
      description: 'Attribute holding the job title.',
    } satisfies KeyMeta),
  call_timeout: z
    .number()
    .int()
    .min(5)
    .max(600)
    .default(30)
    .meta({
      description: 'Seconds a one-to-one call rings before it ends unanswered ("No answer").',
    } satisfies KeyMeta),
  video_max_bitrate: z
    .number()
    .int()
    .min(50_000)
    .max(50_000_000)
    .default(1_000_000)
    .meta({
      description:
        'Bits per second each video stream a client sends may use. In group calls the camera goes up in simulcast layers: this caps the top one; a layer under it takes 150 kbit/s up to 400 pixels wide and 500 kbit/s wider, never more than this (a 720p camera: this plus 150 for 320 and 500 for 640 wide; a 640x480 one: this plus 150).',
    } satisfies KeyMeta),
  screenshare_max_bitrate: z
    .number()
    .int()
    .min(50_000)
    .max(50_000_000)
    .default(2_500_000)
    .meta({
      description: 'Bits per second a shared screen a client sends may use.',
    } satisfies KeyMeta),
  call_reconnect_grace: z
    .number()
    .int()
    .min(0)
    .max(600)
    .default(60)
    .meta({
      description:
        'Seconds an answered call waits for a member whose signaling connection dropped to reconnect before it ends for the other side (media between the browsers flows on meanwhile); in a group call, how long such a member stays in the conference (its media goes on through the bridge) before it leaves.',
    } satisfies KeyMeta),
  turn_uris: z
    .array(
      z
        .string()
        .regex(/^turns?:\S+$/, 'expected turn:HOST[:PORT][?transport=udp|tcp] or turns:...'),
    )
    .default([])
    .meta({
      description:
        'TURN servers handed to clients with time-limited credentials (needs turn_server_shared_secret).',
      example: [
        'turn:turn.example.com:3478?transport=udp',
        'turns:turn.example.com:443?transport=tcp',
      ],
    } satisfies KeyMeta),
  turn_server_shared_secret: z
    .string()
    .min(1)
    .optional()
    .meta({
      description:
        "File holding the TURN REST secret shared with the TURN server (coturn's static-auth-secret).",
      example: '/etc/confab/turn-secret',
      path: true,
      secret: true,
    } satisfies KeyMeta),
  turn_ttl: z
    .number()
    .int()
    .min(10)
    .max(86_400)
    .default(3600)
    .meta({
      description:
        'Seconds TURN credentials stay valid; the web app fetches new ones (rtm/turn) before they run out.',
    } satisfies KeyMeta),
  rtm_max_message_size: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(262144)
    .meta({
      description:
        "Largest signaling WebSocket frame, in bytes; a larger one closes the socket (1009). It also sets how many m-lines a group session may hold, since a client's answer must fit one frame: the default 256 KiB gives 400, room for 100 participants' cameras and microphones.",
    } satisfies KeyMeta),
  rtm_message_rate: z
    .number()
    .int()
    .min(1)
    .max(100000)
    .default(50)
    .meta({
      description:
        'Signaling messages a connection may send per second before it is slowed (and, if it keeps on, closed).',
    } satisfies KeyMeta),
  rtm_heartbeat_timeout: z
    .number()
    .int()
    .min(5)
    .max(600)
    .default(30)
    .meta({
      description:
        'Seconds without any message (clients ping every 5) after which a signaling socket is closed.',
    } satisfies KeyMeta),
  rtm_max_connections_per_user: z
    .number()
    .int()
    .min(1)
    .max(10000)
    .default(20)
    .meta({
      description:
        'Signaling connections one user may hold at once (tabs and devices); rtm/connect and the WebSocket answer 429 `too_many_connections` past it.',
    } satisfies KeyMeta),
  rtm_connect_rate_limit_per_user: z
    .number()
    .int()
    .min(1)
    .max(1000000)
    .default(60)
    .meta({
      description: 'rtm/connect requests allowed per user per minute.',
    } satisfies KeyMeta),
  rtm_connect_rate_limit_per_ip: z
    .number()
    .int()
    .min(1)
    .max(1000000)
    .default(300)
    .meta({
      description: 'rtm/connect requests allowed per client address per minute.',
    } satisfies KeyMeta),
  guest_logon_rate_limit_per_ip: z
    .number()
    .int()
    .min(1)
    .max(1000000)
    .default(30)
    .meta({
      description: 'Guest logons allowed per client address per minute.',
    } satisfies KeyMeta),
  enable_guest_api: yesNo()
    .default(true)
    .meta({
      description:
        'Offer the guest logon API so that outside guests can join public rooms by link. On by default (with a generated key); set this and `allow_client_guests` to `no` to turn guests off.',
    } satisfies KeyMeta),
  allow_client_guests: yesNo()
    .default(true)
    .meta({
      description:
        'Let the identity provider issue guest tokens for signed request objects. Guests work when this and `enable_guest_api` are both on; `enable_guest_api` without it is refused at start.',
    } satisfies KeyMeta),
  public_guest_access_regexp: regexp.default('^group/public/.*').meta({
    description: 'Room paths (without a leading slash) that guests may join.',
  } satisfies KeyMeta),
  allow_guest_only_channels: yesNo()
    .default(false)
    .meta({
      description:
        'Let a guest start a public room. Off (as in kwmserver and Jicofo\'s secure domain): a guest who comes first waits ("Waiting for the host") until a registered user joins.',
    } satisfies KeyMeta),
  web_config: z
    .record(z.string(), z.unknown())
    .default({})
    .meta({
      description:
        "Merged into the web app's config.json, e.g. `kwm: {webrtc: {config: {iceTransportPolicy: relay}}}`.",
      example: { kwm: { webrtc: { config: { iceTransportPolicy: 'relay' } } } },
    } satisfies KeyMeta),
  max_rings_per_target: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(5)
    .meta({
      description:
        'Callers that may ring the same user at once (each with one call); a further call is refused with `rate_limited` until one of them is answered or ends.',
    } satisfies KeyMeta),
  max_participants: z
    .number()
    .int()
    .min(2)
    .max(1000)
    .default(100)
    .meta({
      description: 'Most participants a group conference takes; one more is refused.',
    } satisfies KeyMeta),
  last_n: z
    .number()
    .int()
    .min(-1)
    .max(1000)
    .default(20)
    .meta({
      description:
        'Most cameras forwarded to each participant of a group conference: the one on their stage first (always, even at 0), then by who spoke most recently; the others show their name until they speak. Cameras that are off take no place. -1: every camera.',
    } satisfies KeyMeta),
  p2p: z
    .boolean()
    .default(true)
    .meta({
      description:
        'A group room of exactly two, both on clients that can (the web app; not kwmjs), runs peer to peer: their media goes directly between them (TURN when needed) and not through the bridge, which keeps their sessions for the move back when a third joins or the direct connection fails. false: every room goes through the bridge.',
    } satisfies KeyMeta),
  chat_retention: z
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 86_400)
    .default(0)
    .meta({
      description:
        "Seconds a group room's chat is kept in the database after it was said, and shown to registered users when the room is opened again (guests only ever see what was said since they joined). 0: a meeting's chat lasts as long as the meeting.",
    } satisfies KeyMeta),
  max_conferences_per_connection: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(4)
    .meta({
      description:
        'Group conferences one signaling connection may be in at once; another join is refused with `too_many_conferences`.',
    } satisfies KeyMeta),
  max_conferences_per_user: z
    .number()
    .int()
    .min(1)
    .max(10000)
    .default(16)
    .meta({
      description:
        'Group conferences one user may be in at once, over all their connections; another join is refused with `too_many_conferences`.',
    } satisfies KeyMeta),
  group_join_rate: z
    .number()
    .int()
    .min(1)
    .max(100000)
    .default(30)
    .meta({
      description:
        'Group joins one user may make per minute (a client carrying on its session after a drop is not counted); more are refused with `too_many_conferences`.',
    } satisfies KeyMeta),
  prejoin_timeout: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(300)
    .meta({
      description:
        'Seconds a group room\'s landing page may hold a session on the bridge ahead of "Join call" (the prejoin: connected and negotiated, not listed, no media either way until the join). Past it the session ends and the join goes the ordinary way. 0: no prejoins (each is refused with `create_restricted`).',
    } satisfies KeyMeta),
  conference_empty_timeout: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(60)
    .meta({
      description:
        'Seconds an empty group conference is kept (its owner, its bridge) before it ends. Someone joining after that starts a new one.',
    } satisfies KeyMeta),
  bridge: z
    .strictObject({
      workers: z
        .number()
        .int()
        .min(0)
        .max(64)
        .optional()
        .meta({
          description:
            'Bridge processes `confab serve` starts beside itself. Unset: one per spare core, at least one. 0: none (bridges on other machines connect with `confab bridge`).',
          example: 1,
        } satisfies KeyMeta),
      ice_address: z
        .string()
        .min(1)
        .default('127.0.0.1')
        .meta({
          description:
            "The one IP address bridges bind for media (ICE). 127.0.0.1 serves browsers on this machine only; use the machine's address (or 0.0.0.0 with public_address) for others.",
        } satisfies KeyMeta),
      port_range: z
        .string()
        .regex(/^\d{1,5}-\d{1,5}$/, 'expected FIRST-LAST, e.g. 10000-10099')
        .refine(
          (v) => {
            const [a, b] = v.split('-').map(Number) as [number, number];
            return a >= 1 && b <= 65535 && a <= b;
          },
          { message: 'expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535' },
        )
        .default('10000-10099')
        .meta({
          description:
            'UDP ports for media: each bridge process takes one port (all its peer connections share it) from the start of the range.',
        } satisfies KeyMeta),
      public_address: z
        .string()
        .min(1)
        .optional()
        .meta({
          description:
            'The address clients reach the bridge at, announced in its ICE candidates instead of ice_address (a 1:1 NAT or a public IP).',
          example: '203.0.113.10',
        } satisfies KeyMeta),
      shared_secret: z
        .string()
        .min(1)
        .optional()
        .meta({
          description:
            'File holding the secret bridges authenticate to the focus with. Unset: generated in the data directory (bridge-secret); copy it to bridges on other machines.',
          example: '/etc/confab/bridge-secret',
          path: true,
          secret: true,
        } satisfies KeyMeta),
      focus_url: z
        .string()
        .regex(/^wss?:\/\/\S+$/, 'expected ws://HOST:PORT or wss://HOST:PORT')
        .optional()
        .meta({
          description:
            '`confab bridge` only: where the focus is (the origin of `confab serve`, ws:// or wss://). Unset: ws:// plus `listen`.',
          example: 'wss://meet.example.com',
        } satisfies KeyMeta),
    })
    .default({ ice_address: '127.0.0.1', port_range: '10000-10099' }),
  apps: z
    .strictObject({
      enabled: z
        .array(z.string().min(1).max(64))
        .max(32)
        .default([])
        .meta({
          description: `Applications shown in the web app's grid, in this order; empty hides the grid. Known: ${Object.keys(knownApps).join(', ')} (also with Kopano's \`kopano-\` prefix), at the paths Kopano served them (\`/webapp/\`, …); any other needs its address in \`apps.links\`.`,
          example: ['webapp', 'calendar'],
        } satisfies KeyMeta),
      links: z
        .record(z.string().min(1).max(64), appLink)
        .default({})
        .meta({
          description:
            'Addresses of applications by name: for names of your own, or to move a known one.',
          example: {
            webapp: 'https://mail.example.com/webapp/',
            Wiki: 'https://wiki.example.com/',
          },
        } satisfies KeyMeta),
    })
    .superRefine((apps, ctx) => {
      for (const [i, name] of apps.enabled.entries())
        if (!appAddress(name, apps.links))
          ctx.addIssue({
            code: 'custom',
            path: ['enabled', i],
            message: `${name} is not a known application: give its address in apps.links`,
          });
    })
    .default({ enabled: [], links: {} }),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
