// A node of its own for bus.test.ts: receives on the bus as `node` of deployment `deployment`
// and prints each message (and each loss) as a line of JSON, so the test can stop it (SIGSTOP)
// the way a busy or stalled node stops reading.
import { Bus, openRedis } from '../src/cluster/index.js';
import { silentLogger } from '../src/logging/index.js';

const [url, deployment, node] = process.argv.slice(2) as [string, string, string];
const link = await openRedis({ url, deployment, logger: silentLogger() });
const bus = new Bus({
  nodeId: node,
  link,
  logger: silentLogger(),
  tickMs: 100,
  onMessage: (_from, m) => process.stdout.write(`${JSON.stringify({ m })}\n`),
  onLost: () => process.stdout.write(`${JSON.stringify({ lost: true })}\n`),
});
await bus.start();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
