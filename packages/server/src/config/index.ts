export { ConfigError } from './ConfigError.js';
export { bridgeSecretEnv, type ConfigKey, describeSchema } from './describe.js';
export {
  type FlagOverrides,
  flagKeys,
  type LoadOptions,
  loadConfig,
  type Settings,
} from './load.js';
export { isLoopbackHost, issuerOf, publicOrigin } from './origin.js';
export type { Config, ListenAddress } from './schema.js';
export { appAddress } from './schema.js';
export { yamlPosition } from './yamlPosition.js';
