import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './ConfigError.js';
import {
  bridgeSecretEnv,
  type ConfigKey,
  configFileEnv,
  describeSchema,
  envPrefix,
} from './describe.js';
import { type Config, configSchema, type ListenAddress, parseListen } from './schema.js';
import { yamlPosition } from './yamlPosition.js';

/** Command-line flags that override a config key, by key name. */
export const flagKeys = { listen: 'listen', 'data-dir': 'data_dir' } as const;
export type FlagOverrides = Partial<Record<keyof typeof flagKeys, string>>;

export interface LoadOptions {
  /** `--config FILE`; else `CONFAB_CONFIG`; else `./confab.yaml` when it exists. */
  configFile?: string;
  flags?: FlagOverrides;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** The validated configuration plus what follows from it. */
export interface Settings extends Config {
  configFile: string | undefined;
  /** The client registry, by either of its two names. */
  registryFile: string | undefined;
  listenAddress: ListenAddress;
  metricsListenAddress: ListenAddress | undefined;
  tlsEnabled: boolean;
}

interface Layer {
  /** How an error names this source: the file path, `environment variable X`, `flag --x`. */
  describe(keyPath: (string | number)[]): string;
  data: Record<string, unknown>;
}

const keys = describeSchema();
const keysByName = new Map(keys.map((k) => [k.name, k]));
const keysByEnv = new Map(keys.map((k) => [k.env, k]));

export function loadConfig(opts: LoadOptions = {}): Settings {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? {};
  const explicitFile = opts.configFile ?? env[configFileEnv];
  const configFile = explicitFile ? path.resolve(cwd, explicitFile) : defaultFileIfPresent(cwd);
  const baseDir = configFile ? path.dirname(configFile) : cwd;

  const layers: Layer[] = [];
  if (configFile) layers.push(fileLayer(configFile));
  layers.push(envLayer(env), flagLayer(opts.flags ?? {}));

  const merged = layers.reduce<Record<string, unknown>>((acc, l) => deepMerge(acc, l.data), {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success)
    throw new ConfigError(
      formatIssue(parsed.error.issues[0] as z.core.$ZodIssue, layers, configFile),
    );
  const config = parsed.data;

  // Relative paths resolve from the folder of the file that set them (or the working directory).
  for (const key of keys) {
    if (!key.meta.path) continue;
    const value = getIn(config, key.path);
    if (typeof value !== 'string') continue;
    const fromFile =
      configFile !== undefined &&
      layers.findLast((l) => getIn(l.data, key.path) !== undefined) === layers[0];
    const setByUser = layers.some((l) => getIn(l.data, key.path) !== undefined);
    const dir = fromFile || !setByUser ? baseDir : cwd;
    setIn(config, key.path, path.resolve(dir, value));
  }

  if (Boolean(config.tls_cert) !== Boolean(config.tls_key)) {
    const missing = config.tls_cert ? 'tls_key' : 'tls_cert';
    const given = config.tls_cert ? 'tls_cert' : 'tls_key';
    throw new ConfigError(
      `confab: ${where(layers, [given], configFile)}: ${missing} is required when ${given} is set`,
    );
  }

  if (
    config.identifier_registration_conf &&
    config.registration_conf &&
    config.identifier_registration_conf !== config.registration_conf
  ) {
    throw new ConfigError(
      `confab: ${where(layers, ['registration_conf'], configFile)}: registration_conf (${config.registration_conf}) and identifier_registration_conf (${config.identifier_registration_conf}) are the same setting and name different files`,
    );
  }
  if (config.turn_uris.length > 0 && !config.turn_server_shared_secret) {
    throw new ConfigError(
      `confab: ${where(layers, ['turn_uris'], configFile)}: turn_uris needs turn_server_shared_secret`,
    );
  }
  if (
    config.database_url &&
    config.database_password_file &&
    new URL(config.database_url).password
  ) {
    throw new ConfigError(
      `confab: ${where(layers, ['database_password_file'], configFile)}: database_url holds a password already; give it in one place`,
    );
  }
  if (config.redis_url && !config.database_url) {
    throw new ConfigError(
      `confab: ${where(layers, ['redis_url'], configFile)}: redis_url needs database_url: nodes that share Redis must share their durable data too (PostgreSQL)`,
    );
  }
  if (config.redis_url && !config.hostname) {
    throw new ConfigError(
      `confab: ${where(layers, ['redis_url'], configFile)}: redis_url needs hostname: the nodes behind one load balancer must name the same public origin (their tokens' issuer)`,
    );
  }
  if (config.enable_guest_api && !config.allow_client_guests) {
    throw new ConfigError(
      `confab: ${where(layers, ['enable_guest_api'], configFile)}: enable_guest_api hands out guest logons that the identity provider would refuse: set allow_client_guests too, or enable_guest_api: no`,
    );
  }
  if (config.directory === 'ldap') {
    for (const key of ['ldap_uri', 'ldap_base_dn'] as const) {
      if (!config[key])
        throw new ConfigError(
          `confab: ${where(layers, ['directory'], configFile)}: ${key} is required with directory: ldap`,
        );
    }
  }

  return {
    ...config,
    registryFile: config.identifier_registration_conf ?? config.registration_conf,
    configFile,
    listenAddress: parseListen(config.listen) as ListenAddress,
    metricsListenAddress: config.metrics_listen ? parseListen(config.metrics_listen) : undefined,
    tlsEnabled: Boolean(config.tls_cert && config.tls_key),
  };
}

function defaultFileIfPresent(cwd: string): string | undefined {
  const candidate = path.join(cwd, 'confab.yaml');
  try {
    readFileSync(candidate);
    return candidate;
  } catch {
    return undefined;
  }
}

function fileLayer(file: string): Layer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
    throw new ConfigError(`confab: cannot read config file ${file}: ${why}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    const msg = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+.*$/, '');
    throw new ConfigError(`confab: ${file}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data) || data === null) {
    throw new ConfigError(`confab: ${file}: expected a mapping of keys at the top level`);
  }
  return {
    data: data as Record<string, unknown>,
    describe: (keyPath) => {
      const pos = yamlPosition(doc, lineCounter, keyPath);
      return pos ? `${file}:${pos.line}:${pos.col}` : file;
    },
  };
}

function envLayer(env: Record<string, string | undefined>): Layer {
  const data: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(envPrefix) || name === configFileEnv || name === bridgeSecretEnv) continue;
    if (raw === undefined) continue;
    const key = keysByEnv.get(name);
    if (!key) {
      const hint = suggest(name, [...keysByEnv.keys(), configFileEnv]);
      throw new ConfigError(
        `confab: environment variable ${name}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
    setIn(data, key.path, envValue(key, raw));
    sources.set(key.name, name);
  }
  return {
    data,
    describe: (keyPath) =>
      `environment variable ${sources.get(leafName(keyPath)) ?? envPrefix + keyPath.join('_').toUpperCase()}`,
  };
}

/** Environment values are strings: give lists and maps their shape, leave the rest to the schema. */
function envValue(key: ConfigKey, raw: string): unknown {
  const v = raw.trim();
  switch (key.type) {
    case 'integer':
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : raw;
    case 'list':
      if (v.startsWith('[')) return parseInline(key, v);
      return v.split(/[\s,]+/).filter(Boolean);
    case 'map':
      return parseInline(key, v);
    default:
      return raw;
  }
}

function parseInline(key: ConfigKey, text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `confab: environment variable ${key.env}: invalid YAML/JSON value: ${doc.errors[0]?.message.split('\n')[0]}`,
    );
  }
  return doc.toJS();
}

function flagLayer(flags: FlagOverrides): Layer {
  const data: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(flags)) {
    if (value !== undefined) data[flagKeys[flag as keyof typeof flagKeys]] = value;
  }
  const flagOf = (name: string) => Object.entries(flagKeys).find(([, k]) => k === name)?.[0];
  return { data, describe: (keyPath) => `flag --${flagOf(leafName(keyPath))}` };
}

function formatIssue(
  issue: z.core.$ZodIssue,
  layers: Layer[],
  configFile: string | undefined,
): string {
  if (issue.code === 'unrecognized_keys') {
    const name = issue.keys[0] as string;
    const keyPath = [...issue.path, name] as (string | number)[];
    const siblings = keys
      .filter((k) => k.path.length === keyPath.length)
      .map((k) => k.path.at(-1) as string);
    const hint = suggest(name, siblings);
    return `confab: ${where(layers, keyPath, configFile)}: unknown key "${keyPath.join('.')}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
  }
  const keyPath = issue.path as (string | number)[];
  const name = keyPath.join('.') || '(top level)';
  return `confab: ${where(layers, keyPath, configFile)}: ${name}: ${issue.message}`;
}

/** Names the source that set `keyPath` last, i.e. the one whose value was validated. */
function where(
  layers: Layer[],
  keyPath: (string | number)[],
  configFile: string | undefined,
): string {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as Layer;
    if (getIn(layer.data, keyPath) !== undefined) return layer.describe(keyPath);
  }
  return configFile ?? 'defaults';
}

function leafName(keyPath: (string | number)[]): string {
  const name = keyPath.join('.');
  for (const k of keysByName.keys()) if (name === k || name.startsWith(`${k}.`)) return k;
  return name;
}

function getIn(obj: unknown, keyPath: readonly (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const k of keyPath) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

function setIn(obj: Record<string, unknown>, keyPath: readonly string[], value: unknown): void {
  let cur = obj;
  keyPath.forEach((k, i) => {
    if (i === keyPath.length - 1) cur[k] = value;
    else {
      if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    }
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] =
      isPlainObject(v) && isPlainObject(out[k])
        ? deepMerge(out[k] as Record<string, unknown>, v)
        : v;
  }
  return out;
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 4)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
