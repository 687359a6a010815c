export { MemorySignalingState } from './MemorySignalingState.js';
export { connectKeyTtlMs, Signaling, type SignalingOptions, signalingScope } from './Signaling.js';
export type {
  CallChannel,
  ConnectionRef,
  LocalConnection,
  SessionInfo,
  SignalingState,
} from './SignalingState.js';
export { defaultTurnTtl, turnCredentials } from './turn.js';
