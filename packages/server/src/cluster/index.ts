export { Bus, type BusOptions } from './Bus.js';
export { Cluster, type ClusterOptions } from './Cluster.js';
export { ClusterSignalingState } from './ClusterSignalingState.js';
export { ConferenceLeases, type Owner } from './ConferenceLeases.js';
export { type NodeInfo, NodeRegistry } from './NodeRegistry.js';
export { openRedis, type RedisLink, redisUrlRedacted } from './redis.js';
