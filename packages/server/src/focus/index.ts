export { type BridgeEvents, BridgeHub, BridgeLink, mlineLimit } from './BridgeHub.js';
export { BridgeLauncher, workerCount } from './BridgeLauncher.js';
export { Focus, type FocusOptions } from './Focus.js';
