import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startConfab } from '../../../test/support/confabProcess.js';

// Confab runs on Node 20, 22 and 24 (docs/architecture.md, "Runtime"). oidc-provider 9 warns at
// load on anything older than Node 22 ("Jod"); that warning is Node 20's alone, and no runtime
// may add another: Node's own deprecation and experimental warnings show here too.
const major = Number(process.versions.node.split('.')[0]);
const expected = major < 22 ? [/^oidc-provider WARNING: Unsupported runtime\b/] : [];

const title =
  major < 22
    ? `confab serve with a bridge warns only of oidc-provider's unsupported runtime on Node ${process.versions.node}`
    : `confab serve with a bridge prints no warning on Node ${process.versions.node}`;

test(title, async () => {
  const server = await startConfab({ env: { CONFAB_BRIDGE_WORKERS: '1' } });
  let warnings: string[] = [];
  try {
    for (let i = 0; i < 300 && !server.logs.some((l) => l.msg === 'bridge joined'); i++)
      await sleep(100);
    assert.ok(
      server.logs.some((l) => l.msg === 'bridge joined'),
      'the bridge process joins the focus',
    );
    // Code that loads lazily on a first request warns then, if at all.
    for (const p of ['/meet/', '/.well-known/openid-configuration', '/health-check'])
      assert.equal((await fetch(new URL(p, server.localUrl))).status, 200, p);
    warnings = server.logs.filter((l) => l.level >= 40).map((l) => l.msg);
  } finally {
    const { code } = await server.stop();
    assert.equal(code, 0);
  }
  const lines = server.stderr().split('\n').filter(Boolean);
  assert.equal(lines.length, expected.length, `stderr: ${server.stderr()}`);
  for (const [i, line] of lines.entries()) assert.match(line, expected[i] as RegExp);
  // (Stopping logs "bridge gone" as a warning: only the running server is asked.)
  assert.deepEqual(warnings, [], 'no warning or error in the logs while it runs');
});
