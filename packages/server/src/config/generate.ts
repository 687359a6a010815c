/**
 * Writes (`--write`) or checks (`--check`) confab.sample.yaml and docs/configuration.md against
 * the schema. Run from the repository root: `npm run docs:config`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReference, renderSample } from './render.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export const generatedFiles = [
  { file: path.join(repoRoot, 'confab.sample.yaml'), render: renderSample },
  { file: path.join(repoRoot, 'docs/configuration.md'), render: renderReference },
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const write = process.argv.includes('--write');
  let stale = 0;
  for (const { file, render } of generatedFiles) {
    const want = render();
    let have = '';
    try {
      have = readFileSync(file, 'utf8');
    } catch {}
    if (have === want) continue;
    if (write) {
      writeFileSync(file, want);
      console.log(`wrote ${path.relative(repoRoot, file)}`);
    } else {
      console.error(`${path.relative(repoRoot, file)} is out of date: run npm run docs:config`);
      stale++;
    }
  }
  process.exitCode = stale ? 1 : 0;
}
