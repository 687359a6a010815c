export { databaseAwayMessage, sendError } from './errors.js';
export { createGateway, createMetricsListener, type GatewayOptions } from './Gateway.js';
export { Metrics } from './metrics.js';
export { contentSecurityPolicy } from './securityHeaders.js';
export { refuseUpgrade, type UpgradeHandler, upgradeListener } from './upgrade.js';
export { webClientIdFor } from './webConfig.js';
