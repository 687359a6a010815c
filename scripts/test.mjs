// `npm test`: installs missing Debian packages, builds, lints, type-checks, then runs the unit
// and integration tests and the browser tests, each inside a fresh network namespace with only
// loopback up (TESTING.md). Test files are listed explicitly: Node 20 given a directory or glob
// silently runs none. Ends with one line: "tests: N passed, N failed".
//
// `npm test -- TIER...` runs only the named steps (the build always runs): deps, lint,
// typecheck, unit (unit and integration), interop, e2e, and smoke: the one browser test of the
// e2e tier that another Node.js runs too (scripts/test-on-node.sh; e2e includes it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules/.bin', name);
const only = process.argv.slice(2); // e.g. `npm test -- unit`, `npm test -- interop` or `npm test -- e2e`
const wants = (step) => only.length === 0 || only.includes(step);
const tiers = ['deps', 'lint', 'typecheck', 'unit', 'interop', 'e2e', 'smoke'];
const unknown = only.filter((t) => !tiers.includes(t));
if (unknown.length > 0) {
  // A misspelt tier would otherwise run nothing and pass.
  console.error(`✖ unknown tier ${unknown.join(', ')}: choose from ${tiers.join(', ')}`);
  process.exit(2);
}
// Sign-in and one call through a bridge: what a second runtime must pass (scripts/test-on-node.sh).
const smokeTest = 'test/e2e/smoke.e2e.test.ts';

/** Exit status of coreutils `timeout` when it had to stop the command. */
const timedOut = 124;

function step(label, cmd, args, opts = {}) {
  const started = performance.now();
  console.log(`\n▶ ${label}`);
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  if (res.status === timedOut || res.status === 128 + 9) {
    console.error(
      `✖ ${label} stopped after ${secs} s: past its time limit (a hung test, or a process a test left running)`,
    );
    return false;
  }
  if (res.status !== 0) {
    console.error(`✖ ${label} failed (${secs} s)`);
    return false;
  }
  console.log(`✔ ${label} (${secs} s)`);
  return true;
}

function findTests(dir, suffix) {
  const abs = path.join(root, dir);
  let entries;
  try {
    entries = readdirSync(abs, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(suffix) && !e.parentPath.includes('node_modules'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

/**
 * Runs node's test runner over `files` inside `unshare -n`, counting results from TAP. A tier
 * that runs past `limitMinutes` (several times its usual length) is stopped, with every process
 * it started (`timeout` signals its whole process group), and fails: one hung test must not
 * hold CI until its own limit.
 */
function testStep(label, files, extraArgs, limitMinutes) {
  if (files.length === 0) {
    console.error(`✖ ${label}: no test files found`);
    return { ok: false, passed: 0, failed: 1 };
  }
  const tmp = mkdtempSync(path.join(tmpdir(), 'confab-test-'));
  const tap = path.join(tmp, 'report.tap');
  const node = [
    process.execPath,
    '--conditions=source',
    '--import',
    'tsx',
    '--test',
    ...extraArgs,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ];
  const quoted = node.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  // As root `unshare -n`; otherwise with a user namespace too (`-rn`). Where neither works the
  // step fails: media tests never run on the machine's real interfaces.
  const ok = step(`${label} (${files.length} files, loopback-only namespace)`, 'unshare', [
    process.getuid?.() === 0 ? '-n' : '-rn',
    'sh',
    '-c',
    `ip link set lo up && exec timeout --kill-after=15s ${limitMinutes * 60}s ${quoted}`,
  ]);
  let passed = 0;
  let failed = ok ? 0 : 1;
  try {
    const report = readFileSync(tap, 'utf8');
    passed = Number(/^# pass (\d+)$/m.exec(report)?.[1] ?? 0);
    failed = Number(/^# fail (\d+)$/m.exec(report)?.[1] ?? failed);
    const cancelled = Number(/^# cancelled (\d+)$/m.exec(report)?.[1] ?? 0);
    failed += cancelled;
    if (passed === 0 && failed === 0) failed = 1; // ran nothing: never a pass
  } catch {
    failed = Math.max(failed, 1);
  }
  rmSync(tmp, { recursive: true, force: true });
  return { ok: ok && failed === 0, passed, failed };
}

const results = [];
let ok = true;
const started = performance.now();

if (wants('deps'))
  ok =
    step(
      'test dependencies (Debian packages)',
      path.join(root, 'scripts/ensure-test-deps.sh'),
      [],
    ) && ok;
if (!ok) process.exit(1);
ok = step('build', process.execPath, [path.join(root, 'scripts/build.mjs')]) && ok;
if (!ok) process.exit(1);
if (wants('lint')) ok = step('lint and format (biome)', bin('biome'), ['check', '.']) && ok;
if (wants('typecheck')) {
  for (const project of [
    'packages/server/tsconfig.test.json',
    'packages/web/tsconfig.json',
    'packages/web/tsconfig.sw.json',
    'packages/web/tsconfig.node.json',
    'test/tsconfig.json',
  ]) {
    ok = step(`type check ${project}`, bin('tsc'), ['-p', project]) && ok;
  }
}
if (wants('unit')) {
  const files = [...findTests('packages', '.test.ts')].filter((f) => !f.includes('/dist/'));
  results.push(testStep('unit and integration tests', files, ['--test-concurrency=2'], 20));
}
if (wants('interop')) {
  // Kopano's own clients (kwmjs-style, oidc-client 1.x) against Confab, in Chromium.
  results.push(
    testStep(
      'interop tests (Chromium)',
      findTests('test/interop', '.test.ts'),
      ['--test-concurrency=1'],
      8,
    ),
  );
}
if (wants('e2e')) {
  results.push(
    testStep(
      'browser tests (Chromium)',
      findTests('test/e2e', '.test.ts'),
      ['--test-concurrency=1'],
      30,
    ),
  );
} else if (only.includes('smoke')) {
  results.push(
    existsSync(path.join(root, smokeTest))
      ? testStep('browser smoke test (Chromium)', [smokeTest], ['--test-concurrency=1'], 8)
      : testStep(`browser smoke test: ${smokeTest} is missing`, [], [], 8),
  );
}

const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
ok = ok && results.every((r) => r.ok);
const mins = ((performance.now() - started) / 60000).toFixed(1);
console.log(`\n${ok ? 'All checks passed' : 'Some checks FAILED'} in ${mins} min`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
