export {
  type AnsweredCalls,
  MemoryAnsweredCalls,
  SqlAnsweredCalls,
} from './AnsweredCalls.js';
export type { Connection } from './Connection.js';
export { MemorySignalingState } from './MemorySignalingState.js';
export { PairHash } from './pairHash.js';
export { Refusal } from './Refusal.js';
export {
  auditIntervalMs,
  connectKeyTtlMs,
  type GroupHandler,
  type SessionAudit,
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
