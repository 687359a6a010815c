import type { ServerMessage } from '@confab/protocol';

/** Who a signaling session belongs to, as rtm/connect established it. */
export interface SessionInfo {
  userId: string;
  name: string;
  /** kwm's `self.auth` (the auth mode); empty for OIDC users. */
  auth: string;
  /** A guest's session: the one room path its token was issued for (kwm's group restriction). */
  guest?: { path: string };
  /** The sign-in (OIDC grant) behind the access token it connected with, when the token says. */
  grantId?: string;
}

/** One open signaling connection, wherever it lives. */
export interface ConnectionRef {
  readonly id: string;
  readonly userId: string;
}

/** A connection of this process: a reference that messages can be handed to. */
export interface LocalConnection extends ConnectionRef {
  /** Who it belongs to, for other nodes (a cluster's presence). */
  readonly session?: SessionInfo;
  send(message: ServerMessage): void;
}

/**
 * A one-to-one call: ringing until the callee answers, then active until someone hangs up. A
 * member's connection is undefined while it rings on every device (the callee), and while the
 * member is away: its signaling connection dropped (or the server restarted) and it has not yet
 * come back within `call_reconnect_grace`.
 */
export interface CallChannel {
  id: string;
  caller: string;
  callerConn: string | undefined;
  callee: string;
  calleeConn: string | undefined;
  /** The caller's `state` value, echoed in messages about this call. */
  state: string;
  status: 'ringing' | 'active';
  createdAt: number;
}

/**
 * Shared signaling state: one-time connect keys, who is connected where, open calls, and
 * delivery of messages to a connection. In memory for one process (`MemorySignalingState`), or
 * shared by several nodes through Redis (`ClusterSignalingState`, which routes deliveries between
 * nodes): which is why nothing outside this port holds another connection's socket. The
 * one-time keys may live in Redis, so they may be asynchronous.
 */
export interface SignalingState {
  putConnectKey(key: string, info: SessionInfo, ttlMs: number): void | Promise<void>;
  /** Returns the session once; a second take, or one after the TTL, finds nothing. */
  takeConnectKey(key: string): SessionInfo | undefined | Promise<SessionInfo | undefined>;

  addConnection(conn: LocalConnection): void;
  removeConnection(connId: string): void;
  connectionsOf(userId: string): ConnectionRef[];
  deliver(connId: string, message: ServerMessage): boolean;
  connectionCount(): number;

  putChannel(channel: CallChannel): void;
  getChannel(id: string): CallChannel | undefined;
  /** Ends a channel; it is remembered as ended for `endedTtlMs` so it cannot be resumed. */
  deleteChannel(id: string, endedTtlMs?: number): void;
  /** Whether the channel ended within the last `endedTtlMs` given to `deleteChannel`. */
  channelEnded(id: string): boolean;
  /** Calls a connection takes part in (as caller or as the answering callee). */
  channelsOfConnection(connId: string): CallChannel[];
  /** The callers of the calls that ring this user now (unanswered), one entry per call. */
  ringingCallers(userId: string): string[];
}
