import { createHash } from 'node:crypto';

/** The prefix that defines the worker's build-time globals (kept on line 1 for source maps). */
export function swPrefix(files: string[], buildId: string): string {
  return `var __CONFAB_PRECACHE__=${JSON.stringify(files)},__CONFAB_BUILD_ID__=${JSON.stringify(buildId)};`;
}

/** The files the worker caches for the offline shell, and an id that changes with any of them. */
export function precacheList(fileNames: string[]): { files: string[]; buildId: string } {
  const files = [...new Set(fileNames)]
    .filter(
      (f) =>
        f !== 'service-worker.js' &&
        !f.endsWith('.map') &&
        !f.endsWith('.br') &&
        !f.endsWith('.gz'),
    )
    .sort();
  const buildId = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 12);
  return { files, buildId };
}
