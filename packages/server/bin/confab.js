#!/usr/bin/env node
// Stable entry for the `confab` command: npm links it before `prepare` has built dist/.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('confab: the server is not built: run npm run build in the repository\n');
  process.exit(1);
}
await import(cli.href);
