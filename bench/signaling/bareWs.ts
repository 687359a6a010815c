/**
 * The peer for the session-memory comparison: a bare `ws` server that accepts WebSockets, says
 * one hello-sized message and holds them. Prints its port when listening; on a line "heap" on
 * standard input it collects garbage (run with --expose-gc) and prints its heap in bytes (used and
 * total); on "memory" it prints the same without collecting.
 */
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
const hello = JSON.stringify({
  type: 'hello',
  self: { id: '00000000-0000-0000-0000-000000000000', name: 'Someone Somebody', auth: '' },
  server_status: {},
});
wss.on('connection', (ws) => ws.send(hello));
wss.on('listening', () =>
  console.log(JSON.stringify({ port: (wss.address() as { port: number }).port })),
);
createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'heap') (globalThis as { gc?: () => void }).gc?.();
  else if (command !== 'memory') return;
  const { heapUsed, heapTotal } = process.memoryUsage();
  console.log(JSON.stringify({ heapUsed, heapTotal }));
});
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
