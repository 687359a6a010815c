import { z } from 'zod';
import { configSchema, type KeyMeta } from './schema.js';

export type LeafType = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'map' | 'enum';

/** One configurable key, as the sample, the reference doc and the env mapping see it. */
export interface ConfigKey {
  path: string[];
  name: string;
  env: string;
  type: LeafType;
  choices?: readonly string[];
  default?: unknown;
  meta: KeyMeta;
}

export const envPrefix = 'CONFAB_';

/** Reserved variable naming the config file, as `--config` does. */
export const configFileEnv = 'CONFAB_CONFIG';

/**
 * How `confab serve` hands its generated bridge secret (which may live in its database) to the
 * bridge processes it starts: a variable of the environment, not a configuration key.
 */
export const bridgeSecretEnv = 'CONFAB_BRIDGE_SECRET';

type AnySchema = z.core.$ZodType;

type Def = { type: string } & Record<string, unknown>;

function defOf(s: { _zod: { def: object } }): Def {
  return s._zod.def as Def;
}

/** Walks the schema down to its leaves, collecting metadata and defaults on the way. */
export function describeSchema(root: AnySchema = configSchema): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const visit = (s: AnySchema, path: string[], meta: KeyMeta | undefined, dflt: unknown) => {
    const m = (z.globalRegistry.get(s) as KeyMeta | undefined) ?? meta;
    const def = defOf(s);
    switch (def.type) {
      case 'default':
        return visit(def.innerType as AnySchema, path, m, dflt ?? def.defaultValue);
      case 'optional':
      case 'nullable':
        return visit(def.innerType as AnySchema, path, m, dflt);
      case 'pipe':
        // z.preprocess(fn, T): the pipe's output side names the type.
        return visit(def.out as AnySchema, path, m, dflt);
      case 'object': {
        const shape = def.shape as Record<string, AnySchema>;
        for (const [k, child] of Object.entries(shape))
          visit(child, [...path, k], undefined, undefined);
        return;
      }
      default: {
        if (!m) throw new Error(`config key ${path.join('.')} has no description`);
        const type = leafType(def);
        const key: ConfigKey = {
          path,
          name: path.join('.'),
          env: envPrefix + path.join('_').toUpperCase(),
          type,
          meta: m,
        };
        if (type === 'enum') key.choices = Object.values(def.entries as Record<string, string>);
        if (dflt !== undefined) key.default = dflt;
        keys.push(key);
      }
    }
  };
  visit(root, [], undefined, undefined);
  return keys;
}

function leafType(def: Def): LeafType {
  switch (def.type) {
    case 'string':
      return 'string';
    case 'number': {
      const checks = (def.checks ?? []) as { _zod: { def: object } }[];
      return checks.some((c) => defOf(c).format === 'safeint') ? 'integer' : 'number';
    }
    case 'int':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'array':
      return 'list';
    case 'record':
      return 'map';
    case 'enum':
      return 'enum';
    default:
      throw new Error(`config schema: unsupported leaf type ${def.type}`);
  }
}
