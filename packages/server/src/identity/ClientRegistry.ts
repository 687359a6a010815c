import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, yamlPosition } from '../config/index.js';
import { publicJwk } from './SigningKeys.js';

const jwkSchema = z.looseObject({ kty: z.string(), kid: z.string().optional() });

/** One client of Konnect's identifier-registration.yaml (plus Confab's post_logout_redirect_uris). */
const clientSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().optional(),
  secret: z.string().min(1).optional(),
  application_type: z.enum(['web', 'native']).default('web'),
  trusted: z.boolean().default(false),
  trusted_scopes: z.array(z.string()).default([]),
  redirect_uris: z.array(z.url()).default([]),
  post_logout_redirect_uris: z.array(z.url()).default([]),
  origins: z.array(z.string()).default([]),
  insecure: z.boolean().default(false),
  implicit_trusted: z.boolean().optional(),
  jwks: z.strictObject({ keys: z.array(jwkSchema) }).optional(),
  request_object_signing_alg: z.string().optional(),
});

const registrySchema = z.strictObject({ clients: z.array(clientSchema).default([]) });

export type RegisteredClient = z.output<typeof clientSchema>;

/** Reads and checks the registry file; problems stop the start like bad configuration. */
export function loadClientRegistry(file: string): RegisteredClient[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `confab: cannot read client registry ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors[0]) {
    const pos = lc.linePos(doc.errors[0].pos[0]);
    throw new ConfigError(
      `confab: ${file}:${pos.line}:${pos.col}: invalid YAML: ${doc.errors[0].message.split('\n')[0]}`,
    );
  }
  const parsed = registrySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const keyPath = [
      ...issue.path,
      ...(issue.code === 'unrecognized_keys' ? [issue.keys[0] as string] : []),
    ];
    const pos = yamlPosition(doc, lc, keyPath);
    const at = pos ? `:${pos.line}:${pos.col}` : '';
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown key "${keyPath.join('.')}"`
        : `${keyPath.join('.')}: ${issue.message}`;
    throw new ConfigError(`confab: ${file}${at}: ${what}`);
  }
  const ids = new Set<string>();
  for (const c of parsed.data.clients) {
    if (ids.has(c.id))
      throw new ConfigError(`confab: ${file}: client "${c.id}" is registered twice`);
    ids.add(c.id);
  }
  return parsed.data.clients;
}

/** The public part of a client's keys, as the identity provider may hold them. */
export function clientPublicJwks(client: RegisteredClient): JWK[] | undefined {
  return client.jwks?.keys.map((k) => publicJwk(k as JWK));
}
