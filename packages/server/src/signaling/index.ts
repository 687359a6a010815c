export { MemorySignalingState } from './MemorySignalingState.js';
export { PairHash } from './pairHash.js';
export { Refusal } from './Refusal.js';
export {
  connectKeyTtlMs,
  type GroupHandler,
  Signaling,
  type SignalingOptions,
  signalingScope,
} from './Signaling.js';
export type {
  CallChannel,
  ConnectionRef,
  LocalConnection,
  SessionInfo,
  SignalingState,
} from './SignalingState.js';
export { defaultTurnTtl, turnCredentials } from './turn.js';
