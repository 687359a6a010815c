export {
  type AnsweredCalls,
  MemoryAnsweredCalls,
  SqlAnsweredCalls,
} from './AnsweredCalls.js';
export type { Connection, SignalingSession } from './Connection.js';
export { MemorySignalingState } from './MemorySignalingState.js';
export { PairHash } from './pairHash.js';
export { Refusal } from './Refusal.js';
export {
  auditIntervalMs,
  connectKeyTtlMs,
  type GroupHandler,
  type RelayKind,
  type SessionAudit,
  Signaling,
  type SignalingOptions,
  type SignalingRouter,
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
