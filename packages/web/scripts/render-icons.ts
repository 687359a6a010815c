/**
 * Renders the PNG icons of the manifest from the SVG sources with Debian's Chromium.
 * Run after changing an SVG: `node --import tsx packages/web/scripts/render-icons.ts`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const icons = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../public/icons');
const outputs = [
  { svg: 'confab.svg', png: 'confab-192.png', size: 192 },
  { svg: 'confab.svg', png: 'confab-512.png', size: 512 },
  { svg: 'confab-maskable.svg', png: 'confab-maskable-512.png', size: 512 },
];

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  for (const { svg, png, size } of outputs) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    const src = `data:image/svg+xml;base64,${readFileSync(path.join(icons, svg)).toString('base64')}`;
    await page.setContent(
      `<style>html,body{margin:0;background:transparent}</style><img src="${src}" width="${size}" height="${size}">`,
    );
    await page.screenshot({ path: path.join(icons, png), omitBackground: true });
    await page.close();
    console.log(`wrote ${png}`);
  }
} finally {
  await browser.close();
}
