export { type BridgeEvents, BridgeHub, BridgeLink, mlineLimit } from './BridgeHub.js';
export { BridgeLauncher, workerCount } from './BridgeLauncher.js';
export { Conference } from './Conference.js';
export { Focus, type FocusOptions } from './Focus.js';
export { Participant } from './Participant.js';
