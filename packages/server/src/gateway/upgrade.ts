import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logging/index.js';

/** Takes an upgrade request; returns false when the path is not its own. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** A socket error after the upgrade was handed over (a reset, mostly): nothing to do but drop it. */
function onUpgradeSocketError(this: Duplex): void {
  this.destroy();
}

/**
 * Answers an upgrade request with a bare HTTP status and closes the socket: `end()` writes the
 * answer, and the socket is destroyed once it is flushed rather than left half-open for the
 * client to close.
 */
export function refuseUpgrade(socket: Duplex, status: string): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * The server's one `upgrade` listener. Node removes its own error listener from the socket
 * before it emits `upgrade`, so an error on it (a client's reset) with no listener of ours
 * would be thrown as an uncaught exception and stop the process: the listener goes on first,
 * before anything else runs. Handlers are asked in turn; a path none takes is refused with 404,
 * and a handler that throws costs that one socket, never the server.
 */
export function upgradeListener(handlers: UpgradeHandler[], logger: Logger) {
  const log = logger.child({ module: 'gateway' });
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', onUpgradeSocketError);
    try {
      for (const handle of handlers) if (handle(req, socket, head)) return;
      refuseUpgrade(socket, '404 Not Found');
    } catch (err) {
      log.error({ err }, 'websocket upgrade failed');
      refuseUpgrade(socket, '500 Internal Server Error');
    }
  };
}
