import { stringify } from 'yaml';
import { type ConfigKey, configFileEnv, describeSchema } from './describe.js';

const keys = describeSchema();

function shownValue(key: ConfigKey): unknown {
  return key.default !== undefined ? key.default : key.meta.example;
}

/** `key: value` as YAML at the key's depth, every line commented out. */
function commentedYaml(key: ConfigKey, indent: string): string[] {
  const leaf = key.path.at(-1) as string;
  const text = stringify({ [leaf]: shownValue(key) }, { lineWidth: 0 }).trimEnd();
  return text.split('\n').map((line) => `#${indent}${line}`);
}

/** The commented sample configuration: every key with its description and default or example. */
export function renderSample(): string {
  const out = [
    '# Confab configuration sample, generated from the schema by `npm run docs:config`.',
    '# Copy to confab.yaml and uncomment what you change; every key has a working default.',
    '# Environment variables (CONFAB_*) override this file, and command-line flags override both.',
    '# Reference: docs/configuration.md',
  ];
  let section: string | undefined;
  for (const key of keys) {
    const parent = key.path.length > 1 ? (key.path[0] as string) : undefined;
    const indent = '  '.repeat(key.path.length - 1);
    out.push('');
    if (parent && parent !== section) out.push(`#${parent}:`);
    section = parent;
    const note = key.default === undefined ? ' (no default; example shown)' : '';
    for (const line of wrap(key.meta.description + note, 96 - indent.length))
      out.push(`${indent}# ${line}`);
    out.push(...commentedYaml(key, indent));
  }
  return `${out.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function inlineValue(v: unknown): string {
  if (v === undefined) return '';
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
}

function typeLabel(key: ConfigKey): string {
  if (key.type === 'enum') return `one of ${key.choices?.join(', ')}`;
  if (key.meta.path) return 'path';
  return key.type;
}

/** The configuration reference, docs/configuration.md. */
export function renderReference(): string {
  const rows = keys.map((k) => {
    const dflt =
      k.default !== undefined
        ? inlineValue(k.default)
        : `unset (e.g. ${inlineValue(k.meta.example)})`;
    const desc = k.meta.description.replaceAll('|', '\\|');
    return `| \`${k.name}\` | \`${k.env}\` | ${typeLabel(k)} | ${dflt} | ${desc} |`;
  });
  return `<!-- Generated from packages/server/src/config/schema.ts by \`npm run docs:config\`; a test fails when it drifts. -->
# Configuration reference

Confab runs with no configuration at all: every key has a working default. To change one, use
any of these, each overriding the one before:

1. **A YAML file**: \`./confab.yaml\` when it exists, or the file named by \`--config FILE\` (or
   \`${configFileEnv}\`). The commented sample \`confab.sample.yaml\` lists every key.
2. **Environment variables**: \`CONFAB_\` plus the key in capitals, nested keys joined by \`_\`
   (\`apps.enabled\` is \`CONFAB_APPS_ENABLED\`). Lists take space- or comma-separated items or a
   YAML/JSON list (\`[a, b]\`); maps take YAML/JSON (\`{"kwm": {}}\`).
3. **Command-line flags** of \`confab serve\`: \`--listen HOST:PORT\` and \`--data-dir DIR\`.

Rules:
- Booleans take \`true\`/\`false\` and \`yes\`/\`no\`.
- Relative paths resolve from the config file's folder; given by environment or flag, from the
  working directory. Defaults resolve from the config file's folder when there is one.
- Unknown keys (in the file or as \`CONFAB_*\` variables), wrong types and broken YAML stop the
  start with exit code 2 and one line that names the key and where it was set, e.g.
  \`confab: /etc/confab/confab.yaml:3:1: unknown key "lisen" (did you mean "listen"?)\`.
- **Public origin**: \`hostname\` if set; otherwise \`http://\` (\`https://\` with TLS) plus \`listen\`
  as given, so \`http://localhost:8080\` by default. The OpenID Connect issuer is
  \`oidc_issuer_identifier\` if set, else the public origin.
- **Behind a reverse proxy**: list the proxy in \`trusted_proxies\`; otherwise \`X-Forwarded-*\`
  headers are ignored, and a proxy on the same machine makes every client look local (so also
  move \`/metrics\` with \`metrics_listen\`).

Exit codes of \`confab serve\`: 0 after a clean shutdown, 1 when the server cannot run (port in
use, data directory not writable), 2 for configuration and usage errors.

| Key | Environment | Type | Default | Description |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}
