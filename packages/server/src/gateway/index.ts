export { createGateway, createMetricsListener, type GatewayOptions } from './Gateway.js';
export { Metrics } from './metrics.js';
export { webClientId } from './webConfig.js';
