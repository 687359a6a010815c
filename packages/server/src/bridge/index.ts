import type { BridgeAgent } from './BridgeAgent.js';

export type { BridgeAgent, BridgeAgentOptions } from './BridgeAgent.js';
export { bridgeSecret, bridgeSecretEnv, portRange } from './secret.js';

/**
 * The bridge process's agent, loaded when a bridge starts: `confab serve` imports this folder
 * for the secret and ports only, and so never loads node-datachannel.
 */
export async function loadBridgeAgent(): Promise<typeof BridgeAgent> {
  return (await import('./BridgeAgent.js')).BridgeAgent;
}
