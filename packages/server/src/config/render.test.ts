import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeSchema } from './describe.js';
import { generatedFiles } from './generate.js';
import { loadConfig } from './load.js';
import { renderReference, renderSample } from './render.js';

test('confab.sample.yaml and docs/configuration.md match the schema (run npm run docs:config)', () => {
  for (const { file, render } of generatedFiles) {
    assert.equal(
      readFileSync(file, 'utf8'),
      render(),
      `${path.basename(file)} has drifted from the schema`,
    );
  }
});

test('every key appears in the sample and the reference with its environment variable', () => {
  const sample = renderSample();
  const reference = renderReference();
  for (const key of describeSchema()) {
    const leaf = key.path.at(-1) as string;
    assert.match(sample, new RegExp(`^#\\s*${leaf}:`, 'm'), `${key.name} missing from the sample`);
    assert.ok(
      reference.includes(`| \`${key.name}\` | \`${key.env}\` |`),
      `${key.name} missing from the reference`,
    );
  }
});

test('the sample with every key uncommented is a valid configuration', () => {
  // Key lines start with "#" then the key's indentation ("#apps:", "#  enabled: []");
  // descriptions are "# text" (top level) or indented ("  # text").
  const uncommented = renderSample()
    .split('\n')
    .map((line) => line.replace(/^#(?! \S)/, ''))
    .join('\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-sample-'));
  const file = path.join(dir, 'confab.yaml');
  writeFileSync(file, uncommented);
  const s = loadConfig({ cwd: dir, configFile: file, env: {} });
  assert.equal(s.hostname, 'https://meet.example.com');
  assert.equal(s.metrics_listen, '127.0.0.1:6778');
  assert.deepEqual(s.apps.enabled, []);
});
