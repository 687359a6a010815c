export { ConfigError, type LoadOptions, loadConfig, type Settings } from './config/index.js';
export { FatalError } from './FatalError.js';
export { type RunningServer, type StartOptions, startServer, version } from './main.js';
